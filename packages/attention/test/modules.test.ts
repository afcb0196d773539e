import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, testing } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyRope, createGau, createMultiHeadAttention } from '../src/index.js';
import { mixedChunk } from '../src/gau.js';
import { seeded } from './helpers.js';

/** Rows of the gradient of output row t (all features) with respect to x [1, L, d]: which rows are nonzero. */
function dependence(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, t: number): boolean[] {
  const [, L, d] = x.shape as [number, number, number];
  const pick = tf.reshape(tf.oneHot(tf.tensor1d([t], 'int32'), L), [1, L, 1]);
  const [g] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(f(a), pick)))([x]);
  const data = g!.dataSync();
  testing.disposeAll([pick, g]);
  return Array.from({ length: L }, (_, j) => data.slice(j * d, j * d + d).some((v) => v !== 0));
}

describe.each(['cpu', 'wasm'] as const)('multi-head attention on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('RoPE: scores depend only on the distance between positions', () => {
    const rng = seeded(1);
    const q = rng.normal([1, 8]);
    const k = rng.normal([1, 8]);
    const score = (m: number, n: number) =>
      tf.tidy(() => tf.sum(tf.mul(applyRope(q, { offset: m }), applyRope(k, { offset: n }))).dataSync()[0]!);
    expect(score(3, 1)).toBeCloseTo(score(10, 8), 4);
    expect(score(0, 0)).toBeCloseTo(
      tf.tidy(() => tf.sum(tf.mul(q, k)).dataSync()[0]!),
      5,
    );
    expect(Math.abs(score(5, 0) - score(0, 0))).toBeGreaterThan(1e-3);
    testing.disposeAll([q, k]);
  });

  it('flash and composite modules agree, and the decode steps equal the full causal forward (RoPE, GQA)', () => {
    const config = { dModel: 32, numHeads: 4, numKVHeads: 2, rope: true, causal: true } as const;
    const flash = createMultiHeadAttention({ ...config, impl: 'flash' }, createRng(5));
    const composite = createMultiHeadAttention({ ...config, impl: 'composite' }, createRng(5));
    const x = seeded(2).normal([2, 11, 32]);
    const yf = flash.forward(x);
    const yc = composite.forward(x);
    expect(testing.relativeError(yf.dataSync(), yc.dataSync())).toBeLessThan(1e-5);
    // Decode 11 tokens as 1 + 3 + 1 + ... (chunks of different sizes), through the KV cache.
    const cache = flash.initCache(2);
    const pieces: tf.Tensor[] = [];
    for (const [from, n] of [
      [0, 1],
      [1, 3],
      [4, 1],
      [5, 6],
    ] as const) {
      pieces.push(flash.step(tf.slice(x, [0, from, 0], [2, n, 32]), cache));
    }
    expect(cache.length).toBe(11);
    const decoded = tf.concat(pieces, 1);
    expect(testing.relativeError(decoded.dataSync(), yf.dataSync())).toBeLessThan(1e-5);
    testing.disposeAll([x, yf, yc, pieces, decoded]);
    cache.dispose();
    flash.dispose();
    composite.dispose();
  });

  it('never looks ahead (causal) and leaks nothing', () => {
    const mha = createMultiHeadAttention({ dModel: 16, numHeads: 2, rope: true, causal: true }, createRng(3));
    const x = seeded(3).normal([1, 9, 16]);
    expect(dependence((a) => mha.forward(a), x, 4)).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
    const { result, leaked } = testing.countLeaks(() => mha.forward(x));
    expect(leaked).toBe(0);
    const cache = mha.initCache(1);
    const before = tf.memory().numTensors;
    const y = mha.step(tf.slice(x, [0, 0, 0], [1, 2, 16]), cache);
    expect(tf.memory().numTensors).toBe(before + 2); // y and the slice; the cache replaced its own tensors
    testing.disposeAll([x, result, y]);
    cache.dispose();
    mha.dispose();
  });

  it('rejects bad configurations naming the argument', () => {
    expect(() => createMultiHeadAttention({ dModel: 30, numHeads: 4 }, createRng(1))).toThrow(
      /numHeads \(4\) must divide config\.dModel/,
    );
    expect(() => createMultiHeadAttention({ dModel: 32, numHeads: 4, numKVHeads: 3 }, createRng(1))).toThrow(
      /numKVHeads \(3\) must divide/,
    );
  });
});

/** Host reference of FLASH mixed-chunk attention from q, k (quadratic), q', k' (linear) and v. */
function mixedReference(
  qq: Float32Array,
  qk: Float32Array,
  lq: Float32Array,
  lk: Float32Array,
  v: Float32Array,
  L: number,
  s: number,
  e: number,
  C: number,
  causal: boolean,
) {
  const out = new Float64Array(L * e);
  const dot = (a: Float32Array, i: number, b: Float32Array, j: number) => {
    let t = 0;
    for (let x = 0; x < s; x++) t += a[i * s + x]! * b[j * s + x]!;
    return t;
  };
  for (let i = 0; i < L; i++) {
    const gi = Math.floor(i / C);
    for (let j = 0; j < L; j++) {
      const gj = Math.floor(j / C);
      let w = 0;
      if (gj === gi && (!causal || j <= i)) w += Math.max(0, dot(qq, i, qk, j) / C) ** 2;
      if (causal ? gj < gi : true) w += dot(lq, i, lk, j) / L;
      for (let x = 0; x < e; x++) out[i * e + x] = out[i * e + x]! + w * v[j * e + x]!;
    }
  }
  return out;
}

describe.each(['cpu', 'wasm'] as const)('GAU and FLASH on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it.each([false, true])(
    'mixed-chunk attention equals its definition (L not a multiple of C, causal %s)',
    (causal) => {
      const rng = seeded(4);
      const [L, s, e, C] = [10, 4, 3, 4];
      const z = rng.normal([1, L, s]);
      const v = rng.normal([1, L, e]);
      const heads = [0, 1, 2, 3].map(() => rng.normal([s]));
      const offsets = [0, 1, 2, 3].map(() => rng.normal([s]));
      const scaleOffset = (x: tf.Tensor, i: number) => tf.add(tf.mul(x, heads[i]!), offsets[i]!);
      const out = mixedChunk(z, v, scaleOffset, 1, L, e, s, C, causal);
      const [qq, qk, lq, lk] = [0, 1, 2, 3].map((i) => scaleOffset(z, i).dataSync() as Float32Array);
      const ref = mixedReference(qq!, qk!, lq!, lk!, v.dataSync() as Float32Array, L, s, e, C, causal);
      expect(testing.relativeError(out.dataSync(), ref)).toBeLessThan(1e-5);
      testing.disposeAll([z, v, heads, offsets, out]);
    },
  );

  it.each([
    ['GAU', { attention: 'quadratic' as const }],
    ['FLASH', { attention: 'mixed' as const, chunkSize: 4 }],
  ])('%s, causal: output t depends on inputs up to t only; no leaks', (_name, extra) => {
    const layer = createGau({ dModel: 8, qkDim: 8, causal: true, ...extra }, createRng(9));
    const x = seeded(5).normal([1, 11, 8]);
    const deps = dependence((a) => layer.forward(a), x, 5);
    // Later tokens: exactly zero. (An earlier token may also get zero where relu² cuts its score.)
    expect(deps.slice(6)).toEqual([false, false, false, false, false]);
    expect(deps[5]).toBe(true);
    expect(deps.slice(0, 5).some(Boolean)).toBe(true);
    const { result, leaked } = testing.countLeaks(() => layer.forward(x));
    expect(leaked).toBe(0);
    expect(result.shape).toEqual([1, 11, 8]);
    testing.disposeAll([x, result]);
    layer.dispose();
  });

  it('non-causal FLASH sees the whole sequence', () => {
    const layer = createGau({ dModel: 8, qkDim: 8, attention: 'mixed', chunkSize: 4 }, createRng(9));
    const x = seeded(6).normal([1, 10, 8]);
    expect(dependence((a) => layer.forward(a), x, 2).every(Boolean)).toBe(true);
    x.dispose();
    layer.dispose();
  });

  it('rejects bad configurations', () => {
    expect(() => createGau({ dModel: 8, attention: 'sparse' as never }, createRng(1))).toThrow(
      /config\.attention must be one of/,
    );
    expect(() => createGau({ dModel: 8, qkDim: 7 }, createRng(1))).toThrow(/qkDim must be even/);
  });
});

describe.each(['cpu', 'wasm'] as const)('GAU relative position bias on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it.each([
    [6, 2],
    [5, 9],
    [1, 3],
  ])('relativePositionBias(n = %i, M = %i) is the clipped Toeplitz matrix, with gradients', async (n, M) => {
    const { relativePositionBias } = await import('../src/gau.js');
    const w = seeded(n + M).normal([2 * M + 1]);
    const out = relativePositionBias(w, n, M);
    const wd = w.dataSync();
    const expected: number[] = [];
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) expected.push(wd[Math.max(-M, Math.min(M, j - i)) + M]!);
    expect(Array.from(out.dataSync())).toEqual(expected);
    // d(sum of entries)/dw counts how often each distance occurs.
    const [g] = tf.grads((x: tf.Tensor) => tf.sum(relativePositionBias(x, n, M)))([w]);
    const counts = new Array(2 * M + 1).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) counts[Math.max(-M, Math.min(M, j - i)) + M]++;
    expect(Array.from(g!.dataSync())).toEqual(counts);
    testing.disposeAll([w, out, g]);
  });

  it('stays causal with a nonzero bias (GAU and FLASH)', () => {
    for (const attention of ['quadratic', 'mixed'] as const) {
      const layer = createGau(
        { dModel: 8, qkDim: 8, causal: true, attention, chunkSize: 4, maxRelativeDistance: 3 },
        createRng(4),
      );
      layer.weights.relPos.assign(tf.tensor1d([0.5, -0.2, 0.3, 1, 0.4, -0.6, 0.9]));
      const x = seeded(7).normal([1, 9, 8]);
      const deps = dependence((a) => layer.forward(a), x, 4);
      expect(deps.slice(5)).toEqual([false, false, false, false]);
      expect(deps[4]).toBe(true);
      x.dispose();
      layer.dispose();
    }
  });
});
