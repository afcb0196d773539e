import * as tf from '@tensorflow/tfjs-core';
import { initBackend, ShapeError, testing, ValueError } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { scaledDotProductAttention } from '../src/index.js';
import { caseInputs, cases, errorAgainst } from './helpers.js';

describe.each(['cpu', 'wasm'] as const)('scaledDotProductAttention on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it.each(cases.map((c) => [c.name, c] as const))('matches PyTorch on fixture %s', (_name, c) => {
    const { q, k, v, options } = caseInputs(c);
    const out = scaledDotProductAttention(q, k, v, options);
    expect(errorAgainst(out, c.out)).toBeLessThan(1e-5);
    if (c.dout) {
      const dout = testing.fixtureTensor(c.dout);
      const [dq, dk, dv] = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
        scaledDotProductAttention(a, b, d, options),
      )([q, k, v], dout);
      expect(errorAgainst(dq!, c.dq!)).toBeLessThan(1e-4);
      expect(errorAgainst(dk!, c.dk!)).toBeLessThan(1e-4);
      expect(errorAgainst(dv!, c.dv!)).toBeLessThan(1e-4);
      testing.disposeAll([dout, dq, dk, dv]);
    }
    testing.disposeAll([q, k, v, options, out]);
  });

  it('gives zeros, not NaN, for fully masked rows, and finite gradients', () => {
    const c = cases.find((x) => x.name === 'fully_masked_row_is_zero')!;
    const { q, k, v, options } = caseInputs(c);
    const out = scaledDotProductAttention(q, k, v, options);
    const data = out.dataSync();
    expect(Array.from(data.slice(2 * 8, 3 * 8))).toEqual(new Array(8).fill(0));
    const grads = tf.grads((a: tf.Tensor) => scaledDotProductAttention(a, k, v, options))([q]);
    expect(grads[0]!.dataSync().every(Number.isFinite)).toBe(true);
    testing.disposeAll([q, k, v, options, out, grads]);
  });

  it('leaks no tensors', () => {
    const { q, k, v, options } = caseInputs(cases[1]!);
    const { result, leaked } = testing.countLeaks(() => scaledDotProductAttention(q, k, v, options));
    expect(leaked).toBe(0);
    testing.disposeAll([q, k, v, options, result]);
  });
});

describe('scaledDotProductAttention validation', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });
  const q = () => tf.zeros([1, 4, 5, 8]);
  it('names function and argument', () => {
    expect(() => scaledDotProductAttention(tf.zeros([2, 8]), q(), q())).toThrow(
      /attention\.scaledDotProductAttention: q must be rank 4 \[batch, heads, seqLen, headDim\], got shape \[2,8\]/,
    );
    expect(() => scaledDotProductAttention(q(), tf.zeros([1, 3, 5, 8]), tf.zeros([1, 3, 5, 8]))).toThrow(
      ShapeError,
    );
    expect(() => scaledDotProductAttention(q(), q(), tf.zeros([1, 4, 6, 8]))).toThrow(
      /v must have the shape of k/,
    );
    expect(() => scaledDotProductAttention(q(), q(), q(), { mask: tf.ones([5, 5]) })).toThrow(
      /mask must be of dtype bool/,
    );
    expect(() => scaledDotProductAttention(q(), q(), q(), { bias: tf.ones([3, 5]) })).toThrow(
      /bias must be broadcastable/,
    );
    expect(() => scaledDotProductAttention(q(), q(), q(), { window: [2, -3] })).toThrow(ValueError);
    expect(() => scaledDotProductAttention(q(), q(), q(), { causal: 'left' as never })).toThrow(
      /causal must be one of/,
    );
    expect(() => scaledDotProductAttention(q(), q(), q(), { casual: true } as never)).toThrow(
      /unknown option "casual"/,
    );
    expect(() => scaledDotProductAttention(q(), q(), q(), { scale: Number.NaN })).toThrow(
      /scale must be a finite number/,
    );
  });
});

describe.each(['cpu', 'wasm'] as const)('composite gradient on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });
  it('equals tfjs automatic differentiation (GQA, mask, bias, window, q/k/v and bias gradients)', async () => {
    const { autodiffAttention } = await import('../src/sdpa.js');
    const { seeded } = await import('./helpers.js');
    const rng = seeded(21);
    const q = rng.normal([2, 4, 13, 8]);
    const k = rng.normal([2, 2, 17, 8]);
    const v = rng.normal([2, 2, 17, 8]);
    const dout = rng.normal([2, 4, 13, 8]);
    const mask = rng.bool([2, 1, 13, 17], 0.7);
    const bias = rng.normal([4, 1, 17]);
    for (const opts of [
      { mask, bias },
      { causal: 'top-left' as const, window: [4, -1] as [number, number], bias },
    ]) {
      const f = (fn: typeof autodiffAttention) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
        fn(a, b, c, { ...opts, bias: d });
      const gc = tf.grads(f(scaledDotProductAttention))([q, k, v, bias], dout);
      const ga = tf.grads(f(autodiffAttention))([q, k, v, bias], dout);
      for (let i = 0; i < 4; i++)
        expect(testing.relativeError(gc[i]!.dataSync(), ga[i]!.dataSync())).toBeLessThan(1e-5);
      testing.disposeAll([gc, ga]);
    }
    testing.disposeAll([q, k, v, dout, mask, bias]);
  });
});
