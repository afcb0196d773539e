// Node only: browsers may not block their main thread, where vitest's browser mode runs tests.
import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, initThreads, threadCount, threadsUnavailableReason } from '@lab/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dilatedConv2d } from '../src/index.js';
import { depthwiseGradWasm } from '../src/kernels/depthwise-grad.js';
import { filterGradWasm } from '../src/kernels/filter-grad.js';
import { convForwardWasm } from '../src/kernels/forward.js';

describe('kernels on the worker pool', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  afterAll(async () => {
    await initThreads(1);
  });
  it('split over two threads, forward and filter gradients are bit-identical to one thread', async () => {
    expect(threadsUnavailableReason()).toBeUndefined();
    const rng = createRng(41);
    const xShape = [2, 13, 11, 6];
    const wShape = [3, 3, 6, 10];
    const x = rng.normalData(2 * 13 * 11 * 6);
    const w = rng.normalData(3 * 3 * 6 * 10);
    const g = {
      kernel: [3, 3] as const,
      stride: [2, 1] as const,
      dilation: [2, 3] as const,
      before: [2, 3] as const,
    };
    const out: [number, number] = [7, 11];
    const dy = rng.normalData(2 * 7 * 11 * 10);
    const y1 = convForwardWasm(x, xShape, w, wShape, out, g);
    const dw1 = filterGradWasm(x, xShape, dy, [2, 7, 11, 10], g);
    const dyDepthwise = rng.normalData(2 * 7 * 11 * 12); // multiplier 2
    const dd1 = depthwiseGradWasm(x, xShape, dyDepthwise, [2, 7, 11, 12], 2, g);
    expect(await initThreads(2)).toBe(2);
    expect(threadCount()).toBe(2);
    for (let i = 0; i < 5; i++) {
      expect(convForwardWasm(x, xShape, w, wShape, out, g)).toEqual(y1);
      expect(filterGradWasm(x, xShape, dy, [2, 7, 11, 10], g)).toEqual(dw1);
      expect(depthwiseGradWasm(x, xShape, dyDepthwise, [2, 7, 11, 12], 2, g)).toEqual(dd1);
    }
    // and the op end to end (the pool makes 'auto' take the direct forward kernel on wasm)
    const xt = tf.tensor(x, xShape);
    const wt = tf.tensor(w, wShape);
    const opts = {
      dilation: [2, 3] as [number, number],
      stride: [2, 1] as [number, number],
      padding: 'same' as const,
    };
    const pooled = dilatedConv2d(xt, wt, opts).dataSync().slice();
    await initThreads(1);
    const single = dilatedConv2d(xt, wt, opts).dataSync();
    expect(Array.from(pooled)).toEqual(Array.from(single));
    tf.dispose([xt, wt]);
  });
});
