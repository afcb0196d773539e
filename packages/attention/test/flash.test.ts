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
