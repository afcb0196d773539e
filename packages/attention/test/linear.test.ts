import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, testing } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { linearAttention, performerFeatureMap, scaledDotProductAttention } from '../src/index.js';
import { seeded } from './helpers.js';

/** Direct O(L²) definition on the host: out_i = Σ_j a_ij v_j / Σ_j a_ij with a_ij = φ(q_i)·φ(k_j). */
function reference(
  fq: Float32Array,
  fk: Float32Array,
  v: Float32Array,
  BH: number,
  L: number,
  F: number,
  Dv: number,
  causal: boolean,
) {
  const out = new Float64Array(BH * L * Dv);
  for (let h = 0; h < BH; h++) {
    for (let i = 0; i < L; i++) {
      let den = 0;
      const num = new Float64Array(Dv);
      for (let j = 0; j < (causal ? i + 1 : L); j++) {
        let a = 0;
        for (let f = 0; f < F; f++) a += fq[(h * L + i) * F + f]! * fk[(h * L + j) * F + f]!;
        den += a;
        for (let d = 0; d < Dv; d++) num[d] = num[d]! + a * v[(h * L + j) * Dv + d]!;
      }
      for (let d = 0; d < Dv; d++) out[(h * L + i) * Dv + d] = num[d]! / (den + 1e-6);
    }
  }
  return out;
}

describe.each(['cpu', 'wasm'] as const)('linearAttention on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it.each([false, true])('matches the O(L²) definition with elu+1 (causal %s)', (causal) => {
    const rng = seeded(1);
    const [B, H, L, D, Dv] = [2, 2, 23, 8, 5];
    const q = rng.normal([B, H, L, D]);
    const k = rng.normal([B, H, L, D]);
    const v = rng.normal([B, H, L, Dv]);
    const out = linearAttention(q, k, v, { causal, chunkSize: 8 });
    const phi = (x: tf.Tensor) => tf.tidy(() => tf.add(tf.elu(x), 1).dataSync() as Float32Array);
    const ref = reference(phi(q), phi(k), v.dataSync() as Float32Array, B * H, L, D, Dv, causal);
    expect(testing.relativeError(out.dataSync(), ref)).toBeLessThan(1e-5);
    testing.disposeAll([q, k, v, out]);
  });

  it('recurrent = parallel = chunked (odd length, odd chunk), forward and gradient, with relu and GQA', () => {
    const rng = seeded(2);
    const q = rng.normal([1, 4, 19, 6]);
    const k = rng.normal([1, 2, 19, 6]);
    const v = rng.normal([1, 2, 19, 7]);
    const dout = rng.normal([1, 4, 19, 7]);
    const results = (['recurrent', 'parallel', 'chunked'] as const).map((mode) => {
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        linearAttention(a, b, c, { causal: true, mode, chunkSize: 5, featureMap: 'relu', eps: 1e-3 });
      const out = f(q, k, v);
      const grads = tf.grads(f)([q, k, v], dout);
      return { out, grads };
    });
    for (const r of results.slice(1)) {
      expect(testing.relativeError(r.out.dataSync(), results[0]!.out.dataSync())).toBeLessThan(1e-5);
      for (let i = 0; i < 3; i++) {
        expect(testing.relativeError(r.grads[i]!.dataSync(), results[0]!.grads[i]!.dataSync())).toBeLessThan(
          1e-4,
        );
      }
    }
    testing.disposeAll([q, k, v, dout, results]);
  });

  it('streams: two calls with the state in between equal one call, for every causal mode', () => {
    const rng = seeded(3);
    const q = rng.normal([2, 2, 16, 4]);
    const k = rng.normal([2, 2, 16, 4]);
    const v = rng.normal([2, 2, 16, 3]);
    const whole = linearAttention(q, k, v, { causal: true, returnState: true });
    for (const mode of ['recurrent', 'parallel', 'chunked'] as const) {
      const part = (x: tf.Tensor, from: number, n: number) => tf.slice(x, [0, 0, from, 0], [-1, -1, n, -1]);
      const first = linearAttention(part(q, 0, 9), part(k, 0, 9), part(v, 0, 9), {
        causal: true,
        mode,
        returnState: true,
        chunkSize: 4,
      });
      const second = linearAttention(part(q, 9, 7), part(k, 9, 7), part(v, 9, 7), {
        causal: true,
        mode,
        chunkSize: 4,
        initialState: first.state,
        returnState: true,
      });
      const joined = tf.concat([first.out, second.out], 2);
      expect(testing.relativeError(joined.dataSync(), whole.out.dataSync())).toBeLessThan(1e-5);
      expect(testing.relativeError(second.state.kv.dataSync(), whole.state.kv.dataSync())).toBeLessThan(1e-5);
      expect(testing.relativeError(second.state.z.dataSync(), whole.state.z.dataSync())).toBeLessThan(1e-5);
      testing.disposeAll([first, second, joined]);
    }
    testing.disposeAll([q, k, v, whole]);
  });

  it('never looks ahead: zero gradient of output t with respect to later inputs', () => {
    const rng = seeded(4);
    const L = 21;
    const q = rng.normal([1, 1, L, 4]);
    const k = rng.normal([1, 1, L, 4]);
    const v = rng.normal([1, 1, L, 4]);
    const t = 10;
    const pick = tf.reshape(tf.oneHot(tf.tensor1d([t], 'int32'), L), [1, 1, L, 1]);
    for (const mode of ['recurrent', 'parallel', 'chunked'] as const) {
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(linearAttention(a, b, c, { causal: true, mode, chunkSize: 4 }), pick)),
      )([q, k, v]);
      for (const g of grads) {
        const data = g.dataSync();
        for (let j = t + 1; j < L; j++)
          expect(Array.from(data.slice(j * 4, j * 4 + 4))).toEqual([0, 0, 0, 0]);
        expect(data.slice(0, (t + 1) * 4).some((x) => x !== 0)).toBe(true);
      }
      testing.disposeAll(grads);
    }
    testing.disposeAll([q, k, v, pick]);
  });

  it('has gradients equal to finite differences (chunked causal)', () => {
    const rng = seeded(5);
    const q = rng.normal([1, 1, 9, 3]);
    const k = rng.normal([1, 1, 9, 3]);
    const v = rng.normal([1, 1, 9, 2]);
    const err = testing.gradientCheck(
      (a, b, c) => linearAttention(a!, b!, c!, { causal: true, chunkSize: 4 }),
      [q, k, v],
    );
    expect(err).toBeLessThan(2e-2);
    testing.disposeAll([q, k, v]);
  });

  it('leaks no tensors', () => {
    const rng = seeded(6);
    const q = rng.normal([1, 2, 10, 4]);
    for (const mode of ['recurrent', 'parallel', 'chunked'] as const) {
      const { result, leaked } = testing.countLeaks(() =>
        linearAttention(q, q, q, { causal: true, mode, returnState: true }),
      );
      expect(leaked).toBe(0);
      testing.disposeAll(result);
    }
    q.dispose();
  });

  it('rejects bad input naming function and argument', () => {
    const x = tf.zeros([1, 2, 5, 4]);
    expect(() => linearAttention(tf.zeros([5, 4]), x, x)).toThrow(
      /attention\.linearAttention: q must be rank 4/,
    );
    expect(() =>
      linearAttention(x, tf.zeros([1, 2, 6, 4]), tf.zeros([1, 2, 6, 4]), { causal: true }),
    ).toThrow(/S = L/);
    expect(() => linearAttention(x, x, x, { featureMap: 'softmax' as never })).toThrow(
      /featureMap must be one of/,
    );
    expect(() => linearAttention(x, x, x, { chunkSize: 0 })).toThrow(/chunkSize must be an integer >= 1/);
    x.dispose();
  });
});

describe.each(['cpu', 'wasm'] as const)('performerFeatureMap on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('draws orthogonal blocks: rows within a block are orthogonal', () => {
    const map = performerFeatureMap({ headDim: 8, numFeatures: 20, rng: createRng(1) });
    const w = map.projection.arraySync() as number[][];
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < i; j++) {
        const dot = w[i]!.reduce((s, x, d) => s + x * w[j]![d]!, 0);
        expect(Math.abs(dot)).toBeLessThan(1e-4);
      }
    }
    map.dispose();
  });

  it('approximates softmax attention, with an error that shrinks as the features grow', () => {
    const rng = seeded(7);
    const q = rng.normal([1, 2, 32, 16], 0.5);
    const k = rng.normal([1, 2, 32, 16], 0.5);
    const v = rng.normal([1, 2, 32, 16]);
    const exact = scaledDotProductAttention(q, k, v);
    const errors = [8, 64, 512].map((m) => {
      let total = 0;
      for (let seed = 0; seed < 4; seed++) {
        const map = performerFeatureMap({ headDim: 16, numFeatures: m, rng: createRng(100 + seed) });
        const approx = linearAttention(q, k, v, { featureMap: map });
        total += testing.relativeError(approx.dataSync(), exact.dataSync());
        testing.disposeAll([approx]);
        map.dispose();
      }
      return total / 4;
    });
    expect(errors[1]!).toBeLessThan(errors[0]!);
    expect(errors[2]!).toBeLessThan(errors[1]!);
    expect(errors[2]!).toBeLessThan(0.1);
    testing.disposeAll([q, k, v, exact]);
  });

  it('redraws a new projection from the generator, and frees the old one', () => {
    const map = performerFeatureMap({ headDim: 4, numFeatures: 8, rng: createRng(3), orthogonal: false });
    const before = map.projection.dataSync().slice();
    const tensors = tf.memory().numTensors;
    map.redraw();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(Array.from(map.projection.dataSync())).not.toEqual(Array.from(before));
    map.dispose();
  });
});
