// The histogram split by pixel ranges over the worker pool (per-part histograms, summed) equals one thread.
import { initBackend, initThreads, threadCount } from '@lab/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { histogramFallback, histogramLogitsHost, histogramWasm, syntheticScene } from '../src/index.js';

describe('worker pool', () => {
  beforeAll(async () => {
    await initBackend('wasm');
    await initThreads(2);
  });
  afterAll(async () => {
    await initThreads(1);
  });

  it('split histograms equal the single-thread fallback (u8 SIMD, i32, logits)', () => {
    expect(threadCount()).toBe(2);
    const { target, pred } = syntheticScene({ batch: 2, height: 256, width: 512, seed: 4, noise: 0.4 });
    const spec = { numClasses: 19, ignoreIndex: 255 };
    const reference = histogramFallback(target, pred, spec);
    expect(Array.from(histogramWasm(target, pred, spec))).toEqual(Array.from(reference));
    expect(Array.from(histogramWasm(Int32Array.from(target), Int32Array.from(pred), spec))).toEqual(
      Array.from(reference),
    );
    const n = 200_000;
    const logits = new Float32Array(n * 19);
    for (let i = 0; i < n; i++) logits[i * 19 + pred[i]!] = 1;
    expect(Array.from(histogramLogitsHost(target.subarray(0, n), logits, spec))).toEqual(
      Array.from(histogramFallback(target.subarray(0, n), pred.subarray(0, n), spec)),
    );
  });
});
