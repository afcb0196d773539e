// The error measures of the EDM Figure 2 bench (bench/metrics.ts), against closed forms and invariants.
import { createRng } from '@lab/tensor';
import { describe, expect, it } from 'vitest';
import {
  classify,
  componentFrechet,
  componentFrechetStdErr,
  FIXTURE_MIXTURE,
  frechetDistance,
  nfeToReach,
  perSampleDistance,
  rmsAndMedian,
  symmetricEigen,
} from '../bench/metrics.js';
import type { GaussianMixtureSpec } from '../src/index.js';

const MIX: GaussianMixtureSpec = FIXTURE_MIXTURE;

function randomSpd(d: number, seed: number): Float64Array {
  const a = createRng(seed).normalData(d * d);
  const c = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += a[i * d + k]! * a[j * d + k]!;
      c[i * d + j] = s / d + (i === j ? 0.1 : 0);
    }
  return c;
}

describe('bench metrics', () => {
  it('symmetricEigen reconstructs the matrix with orthonormal vectors', () => {
    const d = 7;
    const a = randomSpd(d, 1);
    const { values, vectors } = symmetricEigen(a, d);
    let worst = 0;
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) {
        let s = 0;
        let o = 0;
        for (let k = 0; k < d; k++) {
          s += vectors[i * d + k]! * values[k]! * vectors[j * d + k]!;
          o += vectors[k * d + i]! * vectors[k * d + j]!;
        }
        worst = Math.max(worst, Math.abs(s - a[i * d + j]!), Math.abs(o - (i === j ? 1 : 0)));
      }
    expect(worst).toBeLessThan(1e-12);
  });

  it('frechetDistance: 1-D closed form, commuting case, 2-D closed form, symmetry, zero on equal inputs', () => {
    // 1-D: (m1 − m2)² + (s1 − s2)².
    expect(frechetDistance([1], [4], [3], [9], 1)).toBeCloseTo(4 + 1, 12);
    // Diagonal covariances: ‖Δm‖² + Σ(√a − √b)².
    expect(frechetDistance([0, 0], [4, 0, 0, 1], [1, 1], [1, 0, 0, 9], 2)).toBeCloseTo(2 + 1 + 4, 12);
    // Non-commuting 2×2: tr √M = √(tr M + 2√det M) for M = C1^½ C2 C1^½ (tr M = tr C1C2, det M = det C1·det C2).
    const c1 = [2, 0.7, 0.7, 1];
    const c2 = [0.5, -0.2, -0.2, 3];
    const trC1C2 = c1[0]! * c2[0]! + c1[1]! * c2[2]! + c1[2]! * c2[1]! + c1[3]! * c2[3]!;
    const det = (c1[0]! * c1[3]! - c1[1]! ** 2) * (c2[0]! * c2[3]! - c2[1]! ** 2);
    const expected = 3 + 3.5 - 2 * Math.sqrt(trC1C2 + 2 * Math.sqrt(det)) + 0.25;
    expect(frechetDistance([0, 0.5], c1, [0, 0], c2, 2)).toBeCloseTo(expected, 12);
    const d = 6;
    const a = randomSpd(d, 2);
    const b = randomSpd(d, 3);
    const m = [0, 1, 2, 3, 4, 5];
    expect(frechetDistance(m, a, m, b, d)).toBeCloseTo(frechetDistance(m, b, m, a, d), 10);
    expect(frechetDistance(m, a, m, a, d)).toBeLessThan(1e-10);
    expect(frechetDistance(m, a, m, b, d)).toBeGreaterThan(0.01);
  });

  it('rmsAndMedian and perSampleDistance', () => {
    const e = perSampleDistance([0, 0, 3, 4, 1, 1], [0, 0, 0, 0, 1, 2], 2);
    expect(Array.from(e)).toEqual([0, 5, 1]);
    const r = rmsAndMedian(e);
    expect(r.rms).toBeCloseTo(Math.sqrt(26 / 3), 12);
    expect(r.median).toBe(1);
    expect(rmsAndMedian(Float64Array.from([4, 1, 3, 2])).median).toBe(2.5);
  });

  it('classify assigns the mixture means (and exact samples) to their components', () => {
    expect(Array.from(classify(MIX, MIX.means.flat()))).toEqual([0, 1, 2]);
    // Between the means, the narrower component wins where the densities say so.
    expect(classify(MIX, [0, -1.6])[0]).toBe(2);
  });

  it('componentFrechet: 0 for identical outputs; a mean shift of one mode gives πₖ‖δ‖²; mode switches counted', () => {
    const n = 600;
    const rng = createRng(4);
    const z = rng.normalData(n * 2);
    const u = rng.uniformData(n);
    const ref = new Float64Array(n * 2);
    for (let i = 0; i < n; i++) {
      const k = u[i]! < 0.5 ? 0 : u[i]! < 0.8 ? 1 : 2;
      for (let j = 0; j < 2; j++) ref[i * 2 + j] = MIX.means[k]![j]! + MIX.stds[k]! * z[i * 2 + j]!;
    }
    const same = componentFrechet(MIX, ref, ref);
    expect(same.switched).toBe(0);
    expect(same.fd).toBeLessThan(1e-12);
    const labels = classify(MIX, ref);
    const shifted = Float64Array.from(ref);
    let count = 0;
    for (let i = 0; i < n; i++)
      if (labels[i] === 1) {
        shifted[i * 2] = shifted[i * 2]! + 0.05;
        count++;
      }
    const r = componentFrechet(MIX, shifted, ref);
    expect(r.switched).toBe(0);
    expect(r.fd).toBeCloseTo((count / n) * 0.05 ** 2, 9);
    // Move one sample of mode 0 onto the mean of mode 2.
    const moved = Float64Array.from(ref);
    const i0 = labels.indexOf(0);
    moved[i0 * 2] = 0;
    moved[i0 * 2 + 1] = -2.5;
    const m = componentFrechet(MIX, moved, ref);
    expect(m.switched).toBe(1);
    expect(m.fd).toBeGreaterThan(0);
    // Bootstrap error: 0 for identical outputs, positive otherwise.
    const uni = createRng(9);
    expect(componentFrechetStdErr(MIX, ref, ref, 5, (k) => uni.uniformData(k))).toBeLessThan(1e-12);
    expect(componentFrechetStdErr(MIX, moved, ref, 20, (k) => uni.uniformData(k))).toBeGreaterThan(0);
  });

  it('nfeToReach interpolates a power law exactly, returns the first point below, and -1 if never reached', () => {
    const points = [35, 63, 127, 255].map((nfe) => ({ nfe, value: 10 / nfe ** 2 }));
    expect(nfeToReach(points, 10 / 100 ** 2)).toBeCloseTo(100, 9);
    expect(nfeToReach(points, 1)).toBe(35);
    expect(nfeToReach(points, 1e-9)).toBe(-1);
  });
});
