import * as tf from '@tensorflow/tfjs-core';
import { initBackend, testing } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeRange } from '../src/index.js';

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('counts zeros, underflow, subnormals and overflow exactly at the rounding boundaries', () => {
    const values = [
      0, -0, // zero
      2 ** -25, -(2 ** -26), // underflow in float16 (2^-25 is the tie to even 0)
      1.5 * 2 ** -25, 2 ** -20, // subnormal
      2 ** -14 - 2 ** -25, 1, -300, 65504, 65519, // normal (the first is a tie that rounds up to the min normal)
      65520, -1e6, // overflow (65520 is the tie that goes to inf)
      Number.POSITIVE_INFINITY, Number.NaN, // non-finite already
    ];
    const x = tf.tensor(values);
    const r = analyzeRange(x, 'float16');
    expect(r.total).toBe(values.length);
    expect(r.zero).toBe(2);
    expect(r.underflow).toBe(2);
    // 2^-14 - 2^-25 lies exactly halfway between the largest subnormal and 2^-14: it rounds to 2^-14 (normal).
    expect(r.subnormal).toBe(2);
    expect(r.overflow).toBe(2);
    expect(r.nonFinite).toBe(2);
    expect(r.fractions.zero).toBeCloseTo(2 / values.length, 12);
    // E4M3FN: 464 is the tie that rounds to 448 (no overflow), 465 overflows to NaN.
    const e4 = analyzeRange(tf.tensor([464, 465, 2 ** -10, 2 ** -9]), 'fp8e4m3');
    expect([e4.overflow, e4.underflow, e4.subnormal]).toEqual([1, 1, 1]);
    x.dispose();
  });

  it('builds the log2 histogram over all tensors, with clamped end bins', () => {
    const a = tf.tensor([1, 1.5, 2, 0.25, 0]);
    const b = tf.tensor([[2 ** -40, 2 ** 30]]);
    const r = analyzeRange({ a, b }, 'float16', { minExponent: -30, maxExponent: 20 });
    const count = (e: number) => r.histogram.counts[r.histogram.exponents.indexOf(e)];
    expect(r.histogram.exponents[0]).toBe(-30);
    expect(r.histogram.exponents.at(-1)).toBe(20);
    expect(count(0)).toBe(2);
    expect(count(1)).toBe(1);
    expect(count(-2)).toBe(1);
    expect(count(-30)).toBe(1);
    expect(count(20)).toBe(1);
    expect(r.histogram.counts.reduce((s, c) => s + c, 0)).toBe(6);
    // the same counts from an array, and defaults spanning the format's range
    const d = analyzeRange([a, b], 'bfloat16');
    expect(d.histogram.exponents[0]).toBe(-133 - 8);
    expect(d.total).toBe(7);
    testing.disposeAll([a, b]);
  });

  it('rejects bad arguments', () => {
    const a = tf.tensor([1]);
    expect(() => analyzeRange(a, 'half' as never)).toThrow(/precision\.analyzeRange: format must be one of/);
    expect(() => analyzeRange([], 'float16')).toThrow(/precision\.analyzeRange: tensors must be a tensor, an array or a map/);
    expect(() => analyzeRange(a, 'float16', { minExponent: 3, maxExponent: 1 })).toThrow(/integer minExponent < maxExponent/);
    a.dispose();
  });
});
