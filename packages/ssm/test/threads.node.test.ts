import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, initThreads, testing, threadsUnavailableReason } from '@lab/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectiveScan } from '../src/index.js';
import { kernels } from '../src/kernels/module.js';
import { setScanThreadLimit } from '../src/kernels/scan.js';

describe.skipIf(threadsUnavailableReason() !== undefined)('scan kernels on the worker pool', () => {
  let threads = 1;
  beforeAll(async () => {
    await initBackend('wasm');
    threads = await initThreads(2);
  });
  afterAll(async () => {
    setScanThreadLimit(0);
    await initThreads(1);
  });

  it.each([true, false])('forward is bit-identical and gradients agree on 1 and 2 threads (input-dependent B, C: %s)', (variable) => {
    expect(threads).toBe(2);
    const rng = createRng(31);
    const [batch, dim, L, N] = [3, 22, 33, 6];
    const u = rng.normal([batch, dim, L]);
    const delta = rng.normal([batch, dim, L]);
    const A = tf.neg(tf.exp(rng.normal([dim, N])));
    const B = variable ? rng.normal([batch, N, L]) : rng.normal([dim, N]);
    const C = variable ? rng.normal([batch, N, L]) : rng.normal([dim, N]);
    const z = rng.normal([batch, dim, L]);
    const D = rng.normal([dim]);
    const run = () => {
      const { out, lastState } = selectiveScan(u, delta, A, B, C, { D, z, deltaSoftplus: true, returnLastState: true });
      const grads = tf.grads((a: tf.Tensor, d: tf.Tensor, aa: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        selectiveScan(a, d, aa, b, c, { D, z, deltaSoftplus: true }),
      )([u, delta, A, B, C]);
      const result = [out, lastState, ...grads].map((t) => Float32Array.from(t.dataSync()));
      testing.disposeAll([out, lastState, grads]);
      return result;
    };
    setScanThreadLimit(1);
    const single = run();
    setScanThreadLimit(0);
    const pooled = run();
    expect(kernels.isShared).toBe(true);
    expect(pooled[0]).toEqual(single[0]);
    expect(pooled[1]).toEqual(single[1]);
    for (let i = 2; i < single.length; i++) expect(testing.relativeError(pooled[i]!, single[i]!)).toBeLessThan(1e-6);
    testing.disposeAll([u, delta, A, B, C, z, D]);
  });
});
