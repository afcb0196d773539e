import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRng,
  matmul,
  matmulFallback,
  matmulWasm,
  ShapeError,
  setForceKernelFallback,
  testing,
} from '../src/index.js';
import { useBackend } from './backend.js';

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [4, 8, 8],
  [17, 33, 9],
  [64, 64, 64],
  [97, 59, 130],
];

describe('host kernels', () => {
  it.each(SHAPES)('SIMD and fallback are bit-identical at m=%i k=%i n=%i', (m, k, n) => {
    const rng = createRng(m * 1000 + k * 10 + n);
    const a = rng.normalData(m * k);
    const b = rng.normalData(k * n);
    const simd = matmulWasm(a, b, m, k, n);
    const plain = matmulFallback(a, b, m, k, n);
    expect(simd).toEqual(plain);
    // and both are the float32 product: compare with a float64 reference
    const ref = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let kk = 0; kk < k; kk++) s += a[i * k + kk]! * b[kk * n + j]!;
        ref[i * n + j] = s;
      }
    expect(testing.relativeError(simd, ref)).toBeLessThan(1e-6);
  });
  it('propagates NaN and infinities as IEEE arithmetic does', () => {
    const a = new Float32Array([Number.NaN, 1, 2, 3]);
    const b = new Float32Array([1, 0, 0, Number.POSITIVE_INFINITY]);
    const c = matmulWasm(a, b, 2, 2, 2);
    expect(Number.isNaN(c[0]!)).toBe(true);
    expect(c[3]).toBe(Number.POSITIVE_INFINITY);
    expect(Array.from(c)).toEqual(Array.from(matmulFallback(a, b, 2, 2, 2)));
  });
});

describe.each(['cpu', 'wasm'] as const)('matmul op on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  afterAll(() => setForceKernelFallback(false));

  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('fused equals tf.matMul (transposeA=%s, transposeB=%s)', (ta, tb) => {
    const rng = createRng(5);
    const [m, k, n] = [23, 17, 31];
    const a = rng.normal(ta ? [k, m] : [m, k]);
    const b = rng.normal(tb ? [n, k] : [k, n]);
    const { result, leaked } = testing.countLeaks(() => matmul(a, b, { transposeA: ta, transposeB: tb }));
    expect(leaked).toBe(0);
    const ref = tf.matMul(a, b, ta, tb);
    expect(result.shape).toEqual([m, n]);
    expect(testing.relativeError(result.dataSync(), ref.dataSync())).toBeLessThan(1e-6);
    tf.dispose([a, b, result, ref]);
  });

  it('gradients equal the composite and finite differences, for every transpose', () => {
    const rng = createRng(6);
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const a = rng.normal(ta ? [6, 5] : [5, 6]);
      const b = rng.normal(tb ? [4, 6] : [6, 4]);
      const dy = rng.normal([5, 4]);
      const vjp = (impl: 'fused' | 'composite') =>
        tf.grads((x: tf.Tensor, y: tf.Tensor) =>
          tf.sum(tf.mul(matmul(x, y, { transposeA: ta, transposeB: tb, impl }), dy)),
        )([a, b]);
      const [fa, fb] = vjp('fused');
      const [ca, cb] = vjp('composite');
      expect(testing.relativeError(fa!.dataSync(), ca!.dataSync())).toBeLessThan(1e-6);
      expect(testing.relativeError(fb!.dataSync(), cb!.dataSync())).toBeLessThan(1e-6);
      const fd = testing.gradientCheck((x, y) => matmul(x!, y!, { transposeA: ta, transposeB: tb }), [a, b]);
      expect(fd).toBeLessThan(1e-2);
      tf.dispose([a, b, dy, fa!, fb!, ca!, cb!]);
    }
  });

  it('the TypeScript fallback gives the same bits as the SIMD kernel through the op', () => {
    const rng = createRng(8);
    const a = rng.normal([33, 21]);
    const b = rng.normal([21, 19]);
    const simd = matmul(a, b).dataSync();
    setForceKernelFallback(true);
    const plain = matmul(a, b).dataSync();
    setForceKernelFallback(false);
    expect(Array.from(plain)).toEqual(Array.from(simd));
    tf.dispose([a, b]);
  });

  it('rejects bad shapes with the function, argument, expected and received', () => {
    const a = tf.zeros([2, 3]);
    const b = tf.zeros([4, 5]);
    expect(() => matmul(a, b)).toThrow(ShapeError);
    expect(() => matmul(a, b)).toThrow(/tensor.matmul: inner dimensions must agree, got a \[2,3\] and b \[4,5\] \(3 vs 4\)/);
    expect(() => matmul(tf.zeros([2]), b)).toThrow(/tensor.matmul: a must be rank 2 \[m, k\], got shape \[2\]/);
    tf.dispose([a, b]);
  });
});

