import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setForceKernelFallback, testing } from '@lab/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flashAttention } from '../src/index.js';
import { caseInputs, cases, errorAgainst } from './helpers.js';

for (const fallback of [false, true]) {
  describe.each(['cpu', 'wasm'] as const)(
    `flashAttention on %s${fallback ? ' (TypeScript fallback)' : ''}`,
    (backend) => {
      beforeAll(async () => {
        await initBackend(backend);
        setForceKernelFallback(fallback);
      });
      afterAll(() => setForceKernelFallback(false));

      it.each(cases.map((c) => [c.name, c] as const))('matches PyTorch on fixture %s', (_name, c) => {
        const { q, k, v, options } = caseInputs(c);
        const out = flashAttention(q, k, v, { ...options, impl: 'fused' });
        expect(errorAgainst(out, c.out)).toBeLessThan(1e-5);
        if (c.dout) {
          const dout = testing.fixtureTensor(c.dout);
          const [dq, dk, dv] = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
            flashAttention(a, b, d, { ...options, impl: 'fused' }),
          )([q, k, v], dout);
          expect(errorAgainst(dq!, c.dq!)).toBeLessThan(1e-4);
          expect(errorAgainst(dk!, c.dk!)).toBeLessThan(1e-4);
          expect(errorAgainst(dv!, c.dv!)).toBeLessThan(1e-4);
          testing.disposeAll([dout, dq, dk, dv]);
        }
        testing.disposeAll([q, k, v, options, out]);
      });
    },
  );
}

describe('flashAttention validation', () => {
  it('throws before any work, naming function, argument, expected and received', async () => {
    const { initBackend: init, ShapeError, ValueError } = await import('@lab/tensor');
    await init('cpu');
    const q = tf.zeros([1, 2, 5, 8]);
    expect(() => flashAttention(tf.zeros([2, 8]), q, q)).toThrow(
      'attention.flashAttention: q must be rank 4 [batch, heads, seqLen, headDim], got shape [2,8]',
    );
    expect(() => flashAttention(q, q, q, { blockSize: 12 })).toThrow(
      /attention\.flashAttention: blockSize must be a multiple of 8, got 12/,
    );
    expect(() => flashAttention(q, q, q, { blockSize: 1024 })).toThrow(ValueError);
    expect(() => flashAttention(q, q, q, { impl: 'gpu' as never })).toThrow(/impl must be one of/);
    expect(() => flashAttention(q, tf.zeros([1, 2, 5, 4]), tf.zeros([1, 2, 5, 4]))).toThrow(ShapeError);
    expect(() => flashAttention(q, q, q, { mask: tf.ones([5, 6], 'bool') })).toThrow(
      /mask must be broadcastable/,
    );
    expect(() => flashAttention(q, q, q, { window: [1.5, 0] })).toThrow(/window must be \[left, right\]/);
    const before = tf.memory().numTensors;
    expect(() => flashAttention(q, q, q, { causal: 'yes' as never })).toThrow(/causal must be one of/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
