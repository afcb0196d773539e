// Node only: browsers may not block their main thread, where vitest's browser mode runs tests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng, initThreads, matmulPacked, matmulWasm, packMatrix, threadCount, threadsUnavailableReason } from '../src/index.js';
import { useBackend } from './backend.js';

describe('worker pool (Node worker_threads)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });
  afterAll(async () => {
    await initThreads(1);
  });
  it('splits the kernel across two threads with bit-identical results', async () => {
    expect(threadsUnavailableReason()).toBeUndefined();
    const rng = createRng(31);
    const [m, k, n] = [130, 70, 45];
    const a = rng.normalData(m * k);
    const b = rng.normalData(k * n);
    const single = matmulWasm(a, b, m, k, n);
    expect(await initThreads(2)).toBe(2);
    expect(threadCount()).toBe(2);
    const pooled = matmulWasm(a, b, m, k, n);
    expect(pooled).toEqual(single);
    // many calls in a row (the control block is reused)
    for (let i = 0; i < 20; i++) expect(matmulWasm(a, b, m, k, n)).toEqual(single);
    await initThreads(1);
    expect(threadCount()).toBe(1);
    expect(matmulWasm(a, b, m, k, n)).toEqual(single);
  });
  it('weights packed before the pool starts stay valid on it and after it stops', async () => {
    const rng = createRng(33);
    const [m, k, n] = [70, 40, 30];
    const b = rng.normalData(k * n);
    const a = rng.normalData(m * k);
    const packed = packMatrix(b, k, n);
    const single = matmulPacked(a, packed, m);
    expect(single).toEqual(matmulWasm(a, b, m, k, n));
    await initThreads(2);
    expect(matmulPacked(a, packed, m)).toEqual(single);
    await initThreads(1);
    expect(matmulPacked(a, packed, m)).toEqual(single);
    packed.dispose();
  });
  it('starts, stops and restarts repeatedly; a job posted right after start is taken', async () => {
    const rng = createRng(32);
    const a = rng.normalData(40 * 30);
    const b = rng.normalData(30 * 20);
    const single = matmulWasm(a, b, 40, 30, 20);
    for (let round = 0; round < 5; round++) {
      await initThreads(2);
      expect(matmulWasm(a, b, 40, 30, 20)).toEqual(single);
      await initThreads(1);
    }
  });
});
