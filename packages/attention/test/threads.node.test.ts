import * as tf from '@tensorflow/tfjs-core';
import { initBackend, initThreads, testing, threadsUnavailableReason } from '@lab/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flashAttention } from '../src/index.js';
import { setFlashThreadLimit } from '../src/kernels/flash.js';
import { attentionKernels } from '../src/kernels/module.js';
import { seeded } from './helpers.js';

describe.skipIf(threadsUnavailableReason() !== undefined)('flash kernels on the worker pool', () => {
  let threads = 1;
  beforeAll(async () => {
    await initBackend('wasm');
    threads = await initThreads(2);
  });
  afterAll(async () => {
    setFlashThreadLimit(Number.POSITIVE_INFINITY);
    await initThreads(1);
  });

  it.each([
    ['GQA, 4 kv heads: one backward pass per kv head', 2, 2, 70, 90],
    ['MQA, 1 kv head: the split backward', 1, 1, 70, 90],
    ['GQA, L·S > 256²: the kernels run one kv head at a time', 1, 2, 260, 270],
  ])('gives bit-identical forward, lse and gradients on 1 and 2 threads (%s)', (_name, B, Hkv, L, S) => {
    expect(threads).toBe(2);
    const rng = seeded(12);
    const q = rng.normal([B, 4, L, 24]);
    const k = rng.normal([B, Hkv, S, 24]);
    const v = rng.normal([B, Hkv, S, 24]);
    const mask = rng.bool([1, 4, L, S], 0.8);
    // (With one thread the MQA backward runs as one pass; on two, split into dK/dV and dQ kernels, which add
    // the same terms in the same order.)
    const run = () => {
      const { out, lse } = flashAttention(q, k, v, { causal: true, mask, returnLse: true, blockSize: 16 });
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        flashAttention(a, b, c, { causal: true, mask, blockSize: 16 }),
      )([q, k, v]);
      const result = [out, lse, ...grads].map((t) => Array.from(t.dataSync()));
      testing.disposeAll([out, lse, grads]);
      return result;
    };
    setFlashThreadLimit(1);
    const single = run();
    setFlashThreadLimit(Number.POSITIVE_INFINITY);
    const pooled = run();
    expect(attentionKernels.isShared).toBe(true); // the kernels ran on the pool's shared memory
    for (let i = 0; i < single.length; i++) expect(pooled[i]).toEqual(single[i]);
    testing.disposeAll([q, k, v, mask]);
  });
});
