// The distribution measures of the trained-network headline bench (bench/metrics.ts): the per-component Fréchet
// distance against the exact mixture, the mixture's moments, the bootstrap and the plateau NFE.
import { createRng, initBackend } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bootstrapStdErr,
  classify,
  componentFrechetExact,
  FIXTURE_MIXTURE,
  mixtureMoments,
  plateauNfe,
} from '../bench/metrics.js';
import { type GaussianMixtureSpec, gaussianMixture } from '../src/index.js';

const MIX: GaussianMixtureSpec = FIXTURE_MIXTURE;

/** n exact draws of MIX (host, float64) with their true components. */
function draw(n: number, seed: number): { x: Float64Array; comp: Int32Array } {
  const rng = createRng(seed);
  const z = rng.normalData(2 * n);
  const u = rng.uniformData(n);
  const x = new Float64Array(2 * n);
  const comp = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = u[i]! < 0.5 ? 0 : u[i]! < 0.8 ? 1 : 2;
    comp[i] = k;
    for (let j = 0; j < 2; j++) x[2 * i + j] = MIX.means[k]![j]! + MIX.stds[k]! * z[2 * i + j]!;
  }
  return { x, comp };
}

describe('trained-headline bench metrics', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('mixtureMoments equals the package mixture’s moments and the closed form', () => {
    const { mean, cov } = mixtureMoments(MIX);
    const ref = gaussianMixture(MIX).moments();
    for (let i = 0; i < 2; i++) expect(mean[i]).toBeCloseTo(ref.mean[i]!, 12);
    for (let i = 0; i < 4; i++) expect(cov[i]).toBeCloseTo(ref.covariance[i]!, 12);
    // E[x₀] = Σ wₖμₖ = (−0.4, −0.2).
    expect(mean[0]).toBeCloseTo(-0.4, 12);
    expect(mean[1]).toBeCloseTo(-0.2, 12);
  });

  it('componentFrechetExact: near 0 on exact draws (sampling floor), πₖ‖δ‖² for a shifted mode, πₖ·d·Δs² for a widened one', () => {
    const n = 20000;
    const { x } = draw(n, 1);
    const base = componentFrechetExact(MIX, x);
    // Sampling floor ≈ Σₖ (d + d(d+1)/4)·sₖ²/n ≈ 7e-5; fdGlobal's ≈ tr(C)/n-sized.
    expect(base.fd).toBeGreaterThan(0);
    expect(base.fd).toBeLessThan(3e-4);
    expect(base.modeTV).toBeLessThan(0.015);
    expect(base.fdGlobal).toBeLessThan(5e-3);
    const labels = classify(MIX, x);
    const shifted = Float64Array.from(x);
    for (let i = 0; i < n; i++) if (labels[i] === 1) shifted[2 * i] = shifted[2 * i]! + 0.3;
    // Only the mean term changes: π₁(‖μ̂₁ + δ − μ₁‖² − ‖μ̂₁ − μ₁‖²), μ̂₁ the fit's mean of mode 1.
    let sum = 0;
    let count = 0;
    for (let i = 0; i < n; i++)
      if (labels[i] === 1) {
        sum += x[2 * i]!;
        count++;
      }
    const off = sum / count - MIX.means[1]![0]!;
    const s = componentFrechetExact(MIX, shifted);
    expect(s.fd - base.fd).toBeCloseTo(0.3 * ((off + 0.3) ** 2 - off ** 2), 10);
    const widened = Float64Array.from(x);
    for (let i = 0; i < n; i++)
      if (labels[i] === 2)
        for (let j = 0; j < 2; j++)
          widened[2 * i + j] = MIX.means[2]![j]! + 1.5 * (x[2 * i + j]! - MIX.means[2]![j]!);
    // FD² of N(μ, (1.5s)²I) vs N(μ, s²I) in 2-D: 2·(0.5s)² = 0.02, weighted by π₂ = 0.2.
    expect(componentFrechetExact(MIX, widened).fd - base.fd).toBeCloseTo(0.2 * 0.02, 3);
  });

  it('componentFrechetExact: wrong mode weights show in modeTV and fdGlobal, not in the per-component fd', () => {
    const { x, comp } = draw(20000, 2);
    const keep: number[] = [];
    let dropped = 0;
    for (let i = 0; i < comp.length; i++) {
      if (comp[i] === 0 && dropped < 5000) dropped++;
      else keep.push(i);
    }
    const sub = new Float64Array(2 * keep.length);
    keep.forEach((r, i) => {
      sub[2 * i] = x[2 * r]!;
      sub[2 * i + 1] = x[2 * r + 1]!;
    });
    const m = componentFrechetExact(MIX, sub);
    // Mode 0 at (10000 − 5000)/15000 = 1/3 instead of 1/2: TV = 1/6.
    expect(m.modeTV).toBeCloseTo(1 / 6, 2);
    expect(m.fdGlobal).toBeGreaterThan(0.3);
    expect(m.fd).toBeLessThan(5e-4);
    // A component without rows: Infinity.
    const only01 = Float64Array.from(
      keep.filter((r) => comp[r] !== 2).flatMap((r) => [x[2 * r]!, x[2 * r + 1]!]),
    );
    expect(componentFrechetExact(MIX, only01).fd).toBe(Infinity);
  });

  it('componentFrechetExact: `rows` selects (with repeats) exactly as copying those rows', () => {
    const { x } = draw(300, 3);
    const rows = Int32Array.from({ length: 300 }, (_, i) => (i * 7) % 150);
    const copy = Float64Array.from(Array.from(rows).flatMap((r) => [x[2 * r]!, x[2 * r + 1]!]));
    const a = componentFrechetExact(MIX, x, rows);
    const b = componentFrechetExact(MIX, copy);
    expect(a.fd).toBeCloseTo(b.fd, 10);
    expect(a.fdGlobal).toBeCloseTo(b.fdGlobal, 10);
    expect(a.modeTV).toBeCloseTo(b.modeTV, 12);
  });

  it('bootstrapStdErr: the mean of n normals has error 1/√n; a constant has 0; a paired difference cancels shared noise', () => {
    const n = 4000;
    const z = createRng(4).normalData(n);
    const w = createRng(5).normalData(n);
    const uni = createRng(6);
    const mean = (v: ArrayLike<number>, rows: Int32Array) =>
      rows.reduce((s, r) => s + v[r]!, 0) / rows.length;
    const se = bootstrapStdErr(
      n,
      400,
      (k) => uni.uniformData(k),
      (rows) => mean(z, rows),
    );
    expect(Math.abs(se * Math.sqrt(n) - 1)).toBeLessThan(0.15);
    expect(
      bootstrapStdErr(
        n,
        20,
        (k) => uni.uniformData(k),
        () => 3,
      ),
    ).toBe(0);
    // a = z + 0.1w, b = z: the paired difference's error is 0.1/√n, far below either mean's.
    const a = Float64Array.from(z, (v, i) => v + 0.1 * w[i]!);
    const paired = bootstrapStdErr(
      n,
      400,
      (k) => uni.uniformData(k),
      (rows) => mean(a, rows) - mean(z, rows),
    );
    expect(Math.abs(paired * Math.sqrt(n) - 0.1)).toBeLessThan(0.02);
    expect(
      bootstrapStdErr(
        n,
        5,
        (k) => uni.uniformData(k),
        () => Infinity,
      ),
    ).toBe(Infinity);
  });

  it('plateauNfe: the first NFE from which every point is within k·se of the plateau', () => {
    const pts = [
      { nfe: 8, value: 1, se: 0.01 },
      { nfe: 16, value: 0.2, se: 0.01 },
      { nfe: 32, value: 0.115, se: 0.01 },
      { nfe: 64, value: 0.118, se: 0.01 },
      { nfe: 128, value: 0.105, se: 0.01 },
    ];
    expect(plateauNfe(pts, 0.1)).toBe(32);
    // A point above the band after one inside it resets the start.
    expect(plateauNfe(pts, 0.1, 1)).toBe(128);
    expect(plateauNfe(pts, 0.05)).toBe(-1);
  });
});
