import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, deterministicCosSin2Pi, deterministicLog, philox4x32, ValueError } from '../src/index.js';
import { useBackend } from './backend.js';

const hex = (words: Uint32Array) => Array.from(words, (w) => w.toString(16).padStart(8, '0')).join(' ');

describe('philox4x32-10', () => {
  // Random123's kat_vectors: counter (4 words), key (2 words) → output (4 words).
  it.each([
    ['00000000 00000000 00000000 00000000', '00000000 00000000', '6627e8d5 e169c58d bc57ac4c 9b00dbd8'],
    ['ffffffff ffffffff ffffffff ffffffff', 'ffffffff ffffffff', '408f276d 41c83b0e a20bc7c6 6d5451fd'],
    ['243f6a88 85a308d3 13198a2e 03707344', 'a4093822 299f31d0', 'd16cfe09 94fdcceb 5001e420 24126ea1'],
  ])('counter %s key %s → %s', (counter, key, expected) => {
    const c = counter.split(' ').map((w) => Number.parseInt(w, 16));
    const k = key.split(' ').map((w) => Number.parseInt(w, 16));
    expect(hex(philox4x32(c[0]!, c[1]!, c[2]!, c[3]!, k[0]!, k[1]!, new Uint32Array(4)))).toBe(expected);
  });
});

// The same known answers are asserted in Node and in Chromium (this file runs in both vitest projects):
// the generator is bit-identical across engines.
describe('known-answer streams (seed 42)', () => {
  it('raw words', () => {
    expect(hex(createRng(42).uint32Data(8))).toBe(
      '9ceaf053 77f5493b 12bf50ad 5742b3d7 fcdb2127 53ba6cfd 838f5a6e 744e06fb',
    );
  });
  it('normal', () => {
    expect(Array.from(createRng(42).normalData(8))).toEqual([
      -0.9701898097991943, 0.19401895999908447, -1.2356207370758057, 1.9239267110824585, -0.07318150997161865,
      0.13913749158382416, -1.106665015220642, 0.3266829550266266,
    ]);
  });
  it('uniform', () => {
    expect(Array.from(createRng(42).uniformData(8))).toEqual([
      0.6129598617553711, 0.4685865044593811, 0.07323169708251953, 0.3408614993095398, 0.9877186417579651,
      0.32706332206726074, 0.5139061212539673, 0.45431554317474365,
    ]);
  });
  it('randint', () => {
    expect(Array.from(createRng(42).randintData(8, 0, 10))).toEqual([3, 1, 7, 7, 3, 5, 4, 1]);
  });
  it('fork', () => {
    expect(Array.from(createRng(42).fork().normalData(4))).toEqual([
      0.31737348437309265, -0.8745642900466919, -1.157702922821045, -0.29685062170028687,
    ]);
  });
});

describe('streams', () => {
  it('are reproducible and advance', () => {
    const a = createRng(7);
    const b = createRng(7);
    expect(a.normalData(10)).toEqual(b.normalData(10));
    expect(a.normalData(10)).not.toEqual(createRng(7).normalData(10));
    expect(a.position).toBe(6); // 3 blocks per 10 values, twice
  });
  it('differ by seed, including seeds past 2^32', () => {
    expect(createRng(1).uint32Data(4)).not.toEqual(createRng(2).uint32Data(4));
    expect(createRng(2 ** 32).uint32Data(4)).not.toEqual(createRng(0).uint32Data(4));
  });
  it('fork does not consume the parent and forks are distinct', () => {
    const parent = createRng(3);
    const f1 = parent.fork();
    const f2 = parent.fork();
    expect(parent.position).toBe(0);
    expect(parent.uint32Data(4)).toEqual(createRng(3).uint32Data(4));
    const x = f1.normalData(4096);
    const y = f2.normalData(4096);
    expect(x).not.toEqual(y);
    let dot = 0;
    for (let i = 0; i < x.length; i++) dot += x[i]! * y[i]!;
    // correlation of independent streams: |r| < 4 / sqrt(n)
    expect(Math.abs(dot / x.length)).toBeLessThan(4 / Math.sqrt(x.length));
  });
});

/** Kolmogorov–Smirnov statistic of a sample against a CDF. */
function ksStatistic(sample: Float32Array, cdf: (x: number) => number): number {
  const sorted = Float64Array.from(sample).sort();
  const n = sorted.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(sorted[i]!);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return d;
}

/** Standard normal CDF via erf (Abramowitz–Stegun 7.1.26 is too coarse; use a series / continued fraction). */
function normalCdf(x: number): number {
  // erfc by a Chebyshev fit (Numerical Recipes erfcc, |error| < 1.2e-7)
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r / 2 : r / 2;
}

describe('distributions', () => {
  const n = 100_000;
  // KS critical value at alpha = 0.001: 1.95 / sqrt(n)
  const ksCritical = 1.95 / Math.sqrt(n);

  it('normal: mean, variance, KS', () => {
    const x = createRng(11).normalData(n);
    let mean = 0;
    for (const v of x) mean += v;
    mean /= n;
    let variance = 0;
    for (const v of x) variance += (v - mean) ** 2;
    variance /= n - 1;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(ksStatistic(x, normalCdf)).toBeLessThan(ksCritical);
  });

  it('normal with mean and std', () => {
    const x = createRng(12).normalData(n, 3, 0.5);
    expect(ksStatistic(x, (v) => normalCdf((v - 3) / 0.5))).toBeLessThan(ksCritical);
  });

  it('uniform: range, mean, KS', () => {
    const x = createRng(13).uniformData(n, -2, 6);
    let mean = 0;
    let outside = 0;
    for (const v of x) {
      if (!(v >= -2 && v < 6)) outside++;
      mean += v;
    }
    expect(outside).toBe(0);
    mean /= n;
    expect(Math.abs(mean - 2)).toBeLessThan(5 * (8 / Math.sqrt(12)) / Math.sqrt(n));
    expect(ksStatistic(x, (v) => Math.min(1, Math.max(0, (v + 2) / 8)))).toBeLessThan(ksCritical);
  });

  it('uniform stays half-open when float32 rounding would reach hi', () => {
    // hi = 1 + 2^-30 is not a float32: values near it round up to 1 + 2^-23 unless clamped.
    const hi = 1 + 2 ** -30;
    const x = createRng(5).uniformData(100_000, 1, hi);
    expect(x.filter((v) => !(v >= 1 && v < hi)).length).toBe(0);
  });

  it('randint: range and chi-square over 7 bins', () => {
    const counts = new Array(7).fill(0);
    for (const v of createRng(14).randintData(70_000, -3, 4)) counts[v + 3]++;
    const expected = 10_000;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(22.46); // chi-square 6 dof, p = 0.001
  });
});

describe('deterministic elementary functions', () => {
  it('log agrees with Math.log to 1 ulp', () => {
    const rng = createRng(9);
    const words = rng.uint32Data(20_000);
    for (const w of words) {
      const x = (w + 0.5) * 2 ** -32;
      const ours = deterministicLog(x);
      const ref = Math.log(x);
      expect(Math.abs(ours - ref)).toBeLessThanOrEqual(Math.abs(ref) * 2.3e-16);
    }
    expect(deterministicLog(1)).toBe(0);
    expect(deterministicLog(Math.E)).toBeCloseTo(1, 15);
    expect(deterministicLog(5e-324)).toBeCloseTo(Math.log(5e-324), 12);
  });
  it('cos/sin of 2πt agree with Math (to the rounding of the angle 2πt itself)', () => {
    const out = new Float64Array(2);
    for (let i = 0; i < 4096; i++) {
      const t = (i * 1048573) / 2 ** 32;
      deterministicCosSin2Pi(t, out);
      expect(Math.abs(out[0]! - Math.cos(2 * Math.PI * t))).toBeLessThan(2e-15);
      expect(Math.abs(out[1]! - Math.sin(2 * Math.PI * t))).toBeLessThan(2e-15);
    }
  });
});

describe.each(['cpu', 'wasm'] as const)('tensors on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  it('normal/uniform/randint give the same bits on every backend', () => {
    const rng = createRng(21);
    const t = rng.normal([3, 5]);
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([3, 5]);
    expect(t.dataSync()).toEqual(createRng(21).normalData(15));
    const u = rng.uniform([4], 1, 2);
    const i = rng.randint([2, 2], 0, 5);
    expect(i.dtype).toBe('int32');
    for (const v of u.dataSync()) expect(v >= 1 && v < 2).toBe(true);
    tf.dispose([t, u, i]);
  });
  it('rejects bad arguments with named messages', () => {
    const rng = createRng(1);
    expect(() => rng.uniform([2], 1, 1)).toThrow(ValueError);
    expect(() => rng.uniform([2], 1, 1)).toThrow(/Rng.uniform: hi must be greater than lo/);
    expect(() => rng.normal([2, -1])).toThrow(/Rng.normal: shape\[1\] must be an integer >= 0, got -1/);
    expect(() => rng.randint([2], 0, 2 ** 33)).toThrow(/Rng.randint: hi/);
    expect(() => createRng(-1)).toThrow(/createRng: seed must be an integer in \[0, 9007199254740991\], got -1/);
    expect(() => createRng(1.5)).toThrow(ValueError);
  });
});
