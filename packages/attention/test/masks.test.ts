import * as tf from '@tensorflow/tfjs-core';
import { initBackend, testing } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bigBirdMask,
  flashAttention,
  longformerMask,
  scaledDotProductAttention,
  slidingWindowMask,
  stridedMask,
} from '../src/index.js';
import { broadcastStrides, maskBlockMap } from '../src/kernels/flash.js';
import { seeded } from './helpers.js';

const rows = (t: tf.Tensor) => {
  const [L, S] = t.shape.slice(-2) as [number, number];
  const d = t.dataSync();
  return Array.from({ length: L }, (_, i) => Array.from(d.slice(i * S, i * S + S)).join(''));
};

describe('sparse masks', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('slidingWindowMask: band around the diagonal, causal keeps the past', () => {
    expect(rows(slidingWindowMask(5, 1))).toEqual(['11000', '11100', '01110', '00111', '00011']);
    expect(rows(slidingWindowMask(4, 2, { causal: true }))).toEqual(['1000', '1100', '1110', '0111']);
    // Bottom-right alignment with more keys than queries: query i sits at key position i + S - L.
    expect(rows(slidingWindowMask(2, [1, 0], { keyLength: 4 }))).toEqual(['0110', '0011']);
  });

  it('stridedMask: the two factorised heads of the Sparse Transformer', () => {
    const strided = stridedMask(6, 3);
    expect(strided.shape).toEqual([2, 6, 6]);
    const [local, stride] = [
      tf.slice(strided, [0, 0, 0], [1, 6, 6]),
      tf.slice(strided, [1, 0, 0], [1, 6, 6]),
    ];
    expect(rows(local)).toEqual(['100000', '110000', '111000', '011100', '001110', '000111']);
    expect(rows(stride)).toEqual(['100000', '010000', '001000', '100100', '010010', '001001']);
    const fixed = stridedMask(6, 3, { mode: 'fixed', combine: true });
    // own block, or the last column of an earlier block
    expect(rows(fixed)).toEqual(['100000', '110000', '111000', '001100', '001110', '001111']);
    testing.disposeAll([strided, local, stride, fixed]);
  });

  it('longformerMask: window plus global rows and columns', () => {
    expect(rows(longformerMask(6, 1, [0]))).toEqual([
      '111111',
      '111000',
      '111100',
      '101110',
      '100111',
      '100011',
    ]);
  });

  it('bigBirdMask: window, global and seeded random blocks', () => {
    const a = bigBirdMask(32, { blockSize: 4, windowBlocks: 3, globalBlocks: 1, randomBlocks: 2, seed: 7 });
    const b = bigBirdMask(32, { blockSize: 4, windowBlocks: 3, globalBlocks: 1, randomBlocks: 2, seed: 7 });
    const c = bigBirdMask(32, { blockSize: 4, windowBlocks: 3, globalBlocks: 1, randomBlocks: 2, seed: 8 });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(c.dataSync()));
    const d = a.dataSync();
    const n = 8;
    for (let qb = 0; qb < n; qb++) {
      const visible = new Set<number>();
      for (let kb = 0; kb < n; kb++) if (d[qb * 4 * 32 + kb * 4]) visible.add(kb);
      if (qb === 0) {
        expect(visible.size).toBe(n); // the global block sees everything
        continue;
      }
      const expected = new Set([0, qb - 1, qb, qb + 1].filter((x) => x >= 0 && x < n));
      for (const kb of expected) expect(visible.has(kb)).toBe(true);
      expect(visible.size).toBe(Math.min(n, expected.size + 2)); // plus two random blocks
    }
    testing.disposeAll([a, b, c]);
  });

  it('rejects bad arguments naming function and argument', () => {
    expect(() => slidingWindowMask(0, 2)).toThrow(
      /attention\.slidingWindowMask: seqLen must be an integer >= 1/,
    );
    expect(() => stridedMask(8, 2, { mode: 'dilated' as never })).toThrow(/mode must be one of/);
    expect(() => longformerMask(8, 1, [9])).toThrow(/globalTokens\[0\] must be an integer in \[0, 7\]/);
    expect(() => bigBirdMask(8, { blockSize: 2, windowBlocks: 2 })).toThrow(/windowBlocks must be odd/);
  });

  it('block map: the fused kernel skips tiles a sliding window leaves empty', () => {
    const mask = slidingWindowMask(256, 8);
    const host = { data: mask.dataSync() as Uint8Array, ...broadcastStrides(mask.shape) };
    const map = maskBlockMap({
      batch: 1,
      headsQ: 1,
      group: 1,
      L: 256,
      S: 256,
      D: 8,
      scale: 1,
      left: -1,
      right: -1,
      offset: 0,
      mask: host,
      blockRows: 32,
      blockCols: 32,
    })!;
    // 8 query blocks × 8 key blocks: only the diagonal and its two neighbours hold visible keys.
    expect(map.reduce((s, x) => s + x, 0)).toBe(8 + 2 * 7);
    mask.dispose();
  });
});

describe.each(['cpu', 'wasm'] as const)('sparse masks through both attention paths on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it.each([
    ['sliding window', () => slidingWindowMask(80, 6, { causal: true })],
    ['strided (2 heads)', () => stridedMask(80, 9)],
    ['fixed', () => stridedMask(80, 16, { mode: 'fixed', summary: 2, combine: true })],
    ['longformer', () => longformerMask(80, 5, [0, 41])],
    ['bigbird', () => bigBirdMask(80, { blockSize: 8, seed: 3 })],
  ])('%s: flash = composite, forward and gradient', (_name, build) => {
    const rng = seeded(8);
    const q = rng.normal([1, 2, 80, 16]);
    const k = rng.normal([1, 2, 80, 16]);
    const v = rng.normal([1, 2, 80, 16]);
    const mask = build();
    const f = (impl: 'fused' | 'composite') => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      flashAttention(a, b, c, { mask, impl, blockSize: 16 });
    const of = f('fused')(q, k, v);
    const oc = scaledDotProductAttention(q, k, v, { mask });
    expect(testing.relativeError(of.dataSync(), oc.dataSync())).toBeLessThan(2e-6);
    const gf = tf.grads(f('fused'))([q, k, v]);
    const gc = tf.grads(f('composite'))([q, k, v]);
    for (let i = 0; i < 3; i++)
      expect(testing.relativeError(gf[i]!.dataSync(), gc[i]!.dataSync())).toBeLessThan(1e-5);
    testing.disposeAll([q, k, v, mask, of, oc, gf, gc]);
  });
});
