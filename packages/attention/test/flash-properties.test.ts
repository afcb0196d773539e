import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setForceKernelFallback, testing } from '@lab/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AttentionOptions, flashAttention, scaledDotProductAttention } from '../src/index.js';
import { setFlashBackwardSplit } from '../src/kernels/flash.js';
import { seeded } from './helpers.js';

type Shape = { B: number; Hq: number; Hkv: number; L: number; S: number; D: number };
type MaskKind =
  | 'none'
  | 'causal'
  | 'top-left'
  | 'window'
  | 'causal-window'
  | 'mask'
  | 'bias'
  | 'mask+bias+causal';

function options(kind: MaskKind, s: Shape, rng: ReturnType<typeof seeded>): AttentionOptions {
  switch (kind) {
    case 'none':
      return {};
    case 'causal':
      return { causal: true };
    case 'top-left':
      return { causal: 'top-left' };
    case 'window':
      return { window: [5, 3] };
    case 'causal-window':
      return { causal: true, window: [7, -1] };
    case 'mask':
      return { mask: rng.bool([s.B, 1, s.L, s.S], 0.6) };
    case 'bias':
      return { bias: rng.normal([s.Hq, s.L, s.S]) };
    case 'mask+bias+causal':
      return {
        causal: true,
        mask: rng.bool([s.L, s.S], 0.7),
        bias: rng.normal([s.B, s.Hq, 1, s.S]),
        scale: 0.2,
      };
  }
}

const configs: [string, Shape, MaskKind][] = [
  ['L=S=1025 D=8 causal', { B: 1, Hq: 1, Hkv: 1, L: 1025, S: 1025, D: 8 }, 'causal'],
  // Large enough (L·S ≥ 256²) that the kernels run one kv head at a time, with per-head mask and bias offsets.
  ['L=260 S=270 D=8 GQA mask, per kv head', { B: 2, Hq: 4, Hkv: 2, L: 260, S: 270, D: 8 }, 'mask'],
  [
    'L=260 S=270 D=8 GQA mask+bias+causal, per kv head',
    { B: 2, Hq: 4, Hkv: 2, L: 260, S: 270, D: 8 },
    'mask+bias+causal',
  ],
  ['L=S=1', { B: 1, Hq: 2, Hkv: 1, L: 1, S: 1, D: 8 }, 'none'],
  ['L=1 decode, S=97, causal', { B: 2, Hq: 4, Hkv: 2, L: 1, S: 97, D: 64 }, 'causal'],
  ['L=97 S=97 D=59 causal', { B: 1, Hq: 2, Hkv: 2, L: 97, S: 97, D: 59 }, 'causal'],
  ['L=97 S=33 D=8 top-left', { B: 2, Hq: 3, Hkv: 1, L: 97, S: 33, D: 8 }, 'top-left'],
  ['L=33 S=97 D=128 window', { B: 1, Hq: 2, Hkv: 1, L: 33, S: 97, D: 128 }, 'window'],
  ['L=S=70 D=64 causal+window GQA', { B: 1, Hq: 4, Hkv: 2, L: 70, S: 70, D: 64 }, 'causal-window'],
  ['L=65 S=131 D=16 mask', { B: 2, Hq: 2, Hkv: 2, L: 65, S: 131, D: 16 }, 'mask'],
  ['L=40 S=77 D=24 bias GQA', { B: 1, Hq: 6, Hkv: 3, L: 40, S: 77, D: 24 }, 'bias'],
  ['L=50 S=64 D=12 mask+bias+causal', { B: 2, Hq: 2, Hkv: 1, L: 50, S: 64, D: 12 }, 'mask+bias+causal'],
];

for (const fallback of [false, true]) {
  describe.each(['cpu', 'wasm'] as const)(
    `flashAttention = composite on %s${fallback ? ' (fallback)' : ''}`,
    (backend) => {
      beforeAll(async () => {
        await initBackend(backend);
        setForceKernelFallback(fallback);
      });
      afterAll(() => setForceKernelFallback(false));

      // The large cases run on wasm only (the same kernels run on cpu; the fallback is checked on the small shapes).
      it.each(fallback || backend === 'cpu' ? configs.filter((c) => c[1].L * c[1].S < 256 * 256) : configs)(
        '%s: forward, lse and gradients agree',
        (_name, s, kind) => {
          const rng = seeded(s.L * 31 + s.S * 7 + s.D);
          const q = rng.normal([s.B, s.Hq, s.L, s.D]);
          const k = rng.normal([s.B, s.Hkv, s.S, s.D]);
          const v = rng.normal([s.B, s.Hkv, s.S, s.D]);
          const dout = rng.normal([s.B, s.Hq, s.L, s.D]);
          const opts = options(kind, s, rng);
          const blockSize = s.S > 70 ? 32 : 64;
          const fused = flashAttention(q, k, v, { ...opts, impl: 'fused', returnLse: true, blockSize });
          const ref = flashAttention(q, k, v, { ...opts, impl: 'composite', returnLse: true });
          const sdpa = scaledDotProductAttention(q, k, v, opts);
          expect(testing.relativeError(fused.out.dataSync(), sdpa.dataSync())).toBeLessThan(2e-6);
          expect(testing.maxAbsError(fused.out.dataSync(), ref.out.dataSync())).toBeLessThan(1e-5);
          const lf = fused.lse.dataSync();
          const lr = ref.lse.dataSync();
          for (let i = 0; i < lf.length; i++) {
            if (lr[i] === Number.NEGATIVE_INFINITY) expect(lf[i]).toBe(Number.NEGATIVE_INFINITY);
            else expect(Math.abs(lf[i]! - lr[i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lr[i]!)));
          }
          const gradsOf = (impl: 'fused' | 'composite') =>
            tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
              flashAttention(a, b, c, { ...opts, impl, blockSize }),
            )([q, k, v], dout);
          const gf = gradsOf('fused');
          const gc = gradsOf('composite');
          // The split backward (dK, dV over key blocks; dQ over query blocks), forced.
          setFlashBackwardSplit('always');
          const gs = gradsOf('fused');
          setFlashBackwardSplit('auto');
          for (let i = 0; i < 3; i++) {
            expect(testing.relativeError(gf[i]!.dataSync(), gc[i]!.dataSync())).toBeLessThan(1e-5);
            expect(testing.relativeError(gs[i]!.dataSync(), gc[i]!.dataSync())).toBeLessThan(1e-5);
          }
          testing.disposeAll([q, k, v, dout, opts, fused, ref, sdpa, gf, gc, gs]);
        },
      );
    },
  );
}

describe.each(['cpu', 'wasm'] as const)('flashAttention invariants on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('has gradients equal to finite differences (GQA, causal, mask)', () => {
    const rng = seeded(11);
    const q = rng.normal([1, 2, 9, 8]);
    const k = rng.normal([1, 1, 13, 8]);
    const v = rng.normal([1, 1, 13, 8]);
    const mask = rng.bool([9, 13], 0.8);
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      flashAttention(a, b, c, { causal: true, mask, impl: 'fused' });
    expect(testing.gradientCheck(f, [q, k, v], { epsilon: 1e-2, samples: 16 })).toBeLessThan(2e-2);
    testing.disposeAll([q, k, v, mask]);
  });

  it('never looks ahead: output t has zero gradient from inputs after t (causal)', () => {
    const rng = seeded(5);
    const L = 75;
    const q = rng.normal([1, 2, L, 16]);
    const k = rng.normal([1, 2, L, 16]);
    const v = rng.normal([1, 2, L, 16]);
    const t = 37;
    const pick = tf.reshape(tf.oneHot(tf.tensor1d([t], 'int32'), L), [1, 1, L, 1]);
    const [dq, dk, dv] = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.mul(flashAttention(a, b, c, { causal: true, blockSize: 16 }), pick)),
    )([q, k, v]);
    for (let h = 0; h < 2; h++) {
      for (const g of [dk!, dv!]) {
        const data = g.dataSync();
        for (let j = 0; j < L; j++) {
          const row = data.slice((h * L + j) * 16, (h * L + j) * 16 + 16);
          expect(row.some((x) => x !== 0)).toBe(j <= t); // keys after t: exactly zero; keys up to t: used
        }
      }
      const dqd = dq!.dataSync();
      for (let i = 0; i < L; i++) {
        expect(dqd.slice((h * L + i) * 16, (h * L + i) * 16 + 16).some((x) => x !== 0)).toBe(i === t);
      }
    }
    testing.disposeAll([q, k, v, pick, dq, dk, dv]);
  });

  it('gives zero rows and lse = -Infinity when a query sees nothing (causal with L > S)', () => {
    const rng = seeded(3);
    const q = rng.normal([1, 1, 10, 8]);
    const k = rng.normal([1, 1, 4, 8]);
    const v = rng.normal([1, 1, 4, 8]);
    const { out, lse } = flashAttention(q, k, v, { causal: true, returnLse: true });
    const o = out.dataSync();
    const l = lse.dataSync();
    for (let i = 0; i < 10; i++) {
      const visible = i + 4 - 10 >= 0;
      expect(Number.isFinite(l[i]!)).toBe(visible);
      expect(o.slice(i * 8, i * 8 + 8).every((x) => x === 0)).toBe(!visible);
    }
    const [dq] = tf.grads((a: tf.Tensor) => flashAttention(a, k, v, { causal: true }))([q]);
    expect(dq!.dataSync().every(Number.isFinite)).toBe(true);
    testing.disposeAll([q, k, v, out, lse, dq]);
  });

  it('treats a bias row of -Infinity as fully masked (zeros, finite gradients), on both paths', () => {
    const rng = seeded(13);
    const q = rng.normal([1, 2, 6, 8]);
    const k = rng.normal([1, 2, 9, 8]);
    const v = rng.normal([1, 2, 9, 8]);
    const biasData = new Float32Array(6 * 9);
    biasData.fill(Number.NEGATIVE_INFINITY, 2 * 9, 3 * 9); // query 2 sees nothing
    biasData[4 * 9 + 5] = Number.NEGATIVE_INFINITY; // query 4 loses one key
    const bias = tf.tensor(biasData, [6, 9]);
    for (const impl of ['fused', 'composite'] as const) {
      const out = flashAttention(q, k, v, { bias, impl });
      const o = out.dataSync();
      for (let h = 0; h < 2; h++)
        expect(Array.from(o.slice((h * 6 + 2) * 8, (h * 6 + 3) * 8))).toEqual(new Array(8).fill(0));
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        flashAttention(a, b, c, { bias, impl }),
      )([q, k, v]);
      for (const g of grads) expect(g.dataSync().every(Number.isFinite)).toBe(true);
      testing.disposeAll([out, grads]);
    }
    testing.disposeAll([q, k, v, bias]);
  });

  it('differentiates the bias (broadcast and full) as the composite does, q/k/v from the kernels', () => {
    const rng = seeded(14);
    const q = rng.normal([2, 4, 11, 8]);
    const k = rng.normal([2, 2, 13, 8]);
    const v = rng.normal([2, 2, 13, 8]);
    const dout = rng.normal([2, 4, 11, 8]);
    for (const shape of [
      [4, 1, 13],
      [2, 4, 11, 13],
    ]) {
      const bias = rng.normal(shape);
      const f = (fn: 'flash' | 'sdpa') => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
        fn === 'flash'
          ? flashAttention(a, b, c, { bias: d, causal: true, impl: 'fused' })
          : scaledDotProductAttention(a, b, c, { bias: d, causal: true });
      const gf = tf.grads(f('flash'))([q, k, v, bias], dout);
      const gs = tf.grads(f('sdpa'))([q, k, v, bias], dout);
      expect(gf[3]!.shape).toEqual(shape);
      for (let i = 0; i < 4; i++)
        expect(testing.relativeError(gf[i]!.dataSync(), gs[i]!.dataSync())).toBeLessThan(1e-5);
      testing.disposeAll([bias, gf, gs]);
    }
    testing.disposeAll([q, k, v, dout]);
  });

  it('leaks no tensors, forward and backward', () => {
    const rng = seeded(9);
    const q = rng.normal([1, 2, 20, 8]);
    const k = rng.normal([1, 2, 20, 8]);
    const v = rng.normal([1, 2, 20, 8]);
    const before = tf.memory().numTensors;
    const { result, leaked } = testing.countLeaks(() =>
      flashAttention(q, k, v, { causal: true, returnLse: true }),
    );
    expect(leaked).toBe(0);
    testing.disposeAll(result);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => flashAttention(a, b, c))([q, k, v]);
    testing.disposeAll(grads);
    expect(tf.memory().numTensors).toBe(before);
    testing.disposeAll([q, k, v]);
  });
});
