import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, ValueError } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  dilatedConv2d,
  dilationCoverage,
  effectiveReceptiveField,
  hdcCheck,
  proposeSawtoothRates,
  receptiveField,
  receptiveFieldPerLayer,
} from '../src/index.js';

describe('receptiveField', () => {
  it("Yu & Koltun's context module: 3, 5, 9, 17, 33, 65, 67 (then 67 after the 1×1 layer)", () => {
    const layers = [1, 1, 2, 4, 8, 16, 1].map((dilation) => ({ kernel: 3, dilation }));
    layers.push({ kernel: 1, dilation: 1 });
    expect(receptiveFieldPerLayer(layers).map((r) => r.size)).toEqual([3, 5, 9, 17, 33, 65, 67, 67]);
    expect(receptiveField(layers)).toEqual({ size: 67, jump: 1 });
  });
  it('WaveNet: one block of dilations 1…512 sees 1024 samples, three blocks 3070', () => {
    const block = Array.from({ length: 10 }, (_, i) => ({ kernel: 2, dilation: 2 ** i }));
    expect(receptiveField(block).size).toBe(1024);
    expect(receptiveField([...block, ...block, ...block]).size).toBe(3070);
  });
  it('strides multiply the jump and scale later layers (VGG-like: conv3, conv3, pool2, conv3)', () => {
    const layers = [{ kernel: 3 }, { kernel: 3 }, { kernel: 2, stride: 2 }, { kernel: 3 }];
    expect(receptiveFieldPerLayer(layers)).toEqual([
      { size: 3, jump: 1 },
      { size: 5, jump: 1 },
      { size: 6, jump: 2 },
      { size: 10, jump: 2 },
    ]);
    expect(receptiveField([])).toEqual({ size: 1, jump: 1 });
  });
  it('rejects non-positive kernels, rates and strides', () => {
    expect(() => receptiveField([{ kernel: 3, dilation: 0 }])).toThrow(
      /conv\.receptiveField: layers\[0\]\.dilation must be a positive integer, got 0/,
    );
    expect(() => receptiveField([{ kernel: 0 }])).toThrow(ValueError);
    expect(() => receptiveField([{ kernel: 3, stride: -1 }])).toThrow(/stride/);
    expect(() => receptiveField([{ kernel: 3, rate: 2 } as never])).toThrow(/unknown key "rate"/);
  });
});

describe.each(['cpu', 'wasm'] as const)('effectiveReceptiveField on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
    expect(tf.getBackend()).toBe(backend);
  });
  it('agrees with the support of an actual dilated stack (gradient footprint)', () => {
    const rates = [1, 2, 4];
    const filters = rates.map(() => tf.ones([3, 3, 1, 1]));
    const erf = effectiveReceptiveField(
      (x) => rates.reduce((h, d, i) => dilatedConv2d(h, filters[i]!, { dilation: d, padding: 'same' }), x),
      [1, 33, 33, 1],
    );
    const data = erf.arraySync() as number[][];
    const rows = data.map((row) => row.some((v) => v > 0));
    const extent = rows.lastIndexOf(true) - rows.indexOf(true) + 1;
    expect(extent).toBe(receptiveField(rates.map((dilation) => ({ kernel: 3, dilation }))).size); // 15
    expect(Math.max(...data.flat())).toBe(1);
    // the all-ones stack's ERF is the outer product of the 1-D tap counts
    const counts = dilationCoverage(rates, 3);
    const peak = Math.max(...counts);
    const c0 = rows.indexOf(true);
    for (let i = 0; i < counts.length; i++) {
      for (let j = 0; j < counts.length; j++) {
        expect(data[c0 + i]![c0 + j]!).toBeCloseTo((counts[i]! * counts[j]!) / (peak * peak), 6);
      }
    }
    tf.dispose([erf, ...filters]);
  });
});

describe('hdcCheck (Wang et al. 2018)', () => {
  it('[1, 2, 5] passes for K = 3; [1, 2, 9] fails with holes', () => {
    const good = hdcCheck([1, 2, 5], 3);
    expect(good).toMatchObject({ ok: true, holes: [], ruleOk: true, size: 17 });
    const bad = hdcCheck([1, 2, 9], 3);
    expect(bad.ok).toBe(false);
    expect(bad.ruleOk).toBe(false);
    expect(bad.M[1]).toBe(5);
    // offsets 0…6 from [1, 2]; +9 and +18 shift them: holes 7, 8 and 16, 17
    expect(bad.holes).toEqual([7, 8, 16, 17]);
  });
  it('catches what the M_i rule misses: [2, 2, 2] and [3, 3, 3]', () => {
    const even = hdcCheck([2, 2, 2], 3);
    expect(even.ruleOk).toBe(true);
    expect(even.ok).toBe(false);
    expect(even.holes).toEqual([1, 3, 5, 7, 9, 11]);
    const three = hdcCheck([3, 3, 3], 3);
    expect(three.ruleOk).toBe(true);
    expect(three.ok).toBe(false);
    expect(three.holes.length).toBe(19 - 7);
  });
  it('exact coverage equals brute-force enumeration of tap combinations', () => {
    const rng = createRng(3);
    for (let trial = 0; trial < 40; trial++) {
      const n = 1 + (trial % 4);
      const rates = Array.from(rng.randintData(n, 1, 7));
      const k = 2 + (trial % 3);
      const reach = new Set<number>();
      const walk = (i: number, s: number) => {
        if (i === n) return void reach.add(s);
        for (let t = 0; t < k; t++) walk(i + 1, s + t * rates[i]!);
      };
      walk(0, 0);
      const size = 1 + (k - 1) * rates.reduce((a, b) => a + b, 0);
      const holes = Array.from({ length: size }, (_, i) => i).filter((i) => !reach.has(i));
      expect(hdcCheck(rates, k).holes).toEqual(holes);
    }
  });
  it('rejects non-positive rates and kernels', () => {
    expect(() => hdcCheck([1, 0, 2], 3)).toThrow(
      /conv\.hdcCheck: rates\[1\] must be a positive integer, got 0/,
    );
    expect(() => hdcCheck([], 3)).toThrow(/rates must be a non-empty array/);
    expect(() => hdcCheck([1, 2], 0)).toThrow(/kernel/);
  });
});

describe('proposeSawtoothRates', () => {
  it('repeats a hole-free period until the target is reached', () => {
    for (const [target, k] of [
      [67, 3],
      [200, 3],
      [1000, 3],
      [129, 5],
      [64, 2],
    ] as const) {
      const p = proposeSawtoothRates(target, k);
      expect(p.size).toBeGreaterThanOrEqual(target);
      const report = hdcCheck(p.rates, k);
      expect(report.ok).toBe(true);
      expect(report.size).toBe(p.size);
      expect(hdcCheck(p.group, k).ruleOk).toBe(true);
      // minimal: one layer fewer does not reach the target
      expect(p.size - (k - 1) * p.rates[p.rates.length - 1]!).toBeLessThan(target);
      expect(p.rates.slice(0, p.group.length)).toEqual(p.group.slice(0, p.rates.length));
    }
    // [1, 3, 5] covers 0…18 with no hole and meets M_2 = 3 ≤ K: one more than the paper's [1, 2, 5] (0…16)
    expect(proposeSawtoothRates(200, 3, { maxRate: 5 }).group).toEqual([1, 3, 5]);
    expect(proposeSawtoothRates(200, 3, { maxRate: 4 }).group).toEqual([1, 3, 4]);
    expect(proposeSawtoothRates(200, 3).group).toEqual([1, 3, 9]);
    expect(proposeSawtoothRates(1, 3).rates).toEqual([]);
  });
  it('rejects bad targets and kernels', () => {
    expect(() => proposeSawtoothRates(0, 3)).toThrow(/targetSize must be a positive integer/);
    expect(() => proposeSawtoothRates(10, 1)).toThrow(/kernel must be an integer >= 2/);
  });
});
