// Node only: the worker pool splits large conversions across threads; results must be bit-identical.
import { initBackend, initThreads, threadCount, threadsUnavailableReason } from '@lab/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFloat16, fromFp8E4M3, toFloat16, toFp8E5M2 } from '../src/index.js';

function mismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let count = a.length === b.length ? 0 : 1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) count++;
  return count;
}

describe('bulk conversions on the worker pool', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  afterAll(async () => {
    await initThreads(1);
  });

  it('gives the same bits on two threads as on one', async () => {
    expect(threadsUnavailableReason()).toBeUndefined();
    const n = (1 << 20) + 37;
    const bits = new Uint32Array(n);
    for (let i = 0; i < n; i++) bits[i] = Math.imul(i, 2654435761) >>> 0;
    const src = new Float32Array(bits.buffer);
    const half = toFloat16(src);
    const back = fromFloat16(half);
    const e5m2 = toFp8E5M2(src);
    const e4m3 = fromFp8E4M3(e5m2);
    expect(await initThreads(2)).toBe(2);
    expect(threadCount()).toBe(2);
    expect(mismatches(toFloat16(src), half)).toBe(0);
    expect(mismatches(new Uint32Array(fromFloat16(half).buffer), new Uint32Array(back.buffer))).toBe(0);
    expect(mismatches(toFp8E5M2(src), e5m2)).toBe(0);
    expect(mismatches(new Uint32Array(fromFp8E4M3(e5m2).buffer), new Uint32Array(e4m3.buffer))).toBe(0);
  });
});
