/**
 * Matrix product on the toolkit's own WebAssembly SIMD kernel: the end-to-end example of an op (composite
 * reference, fused kernel, gradient), and a building block for later packages.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertRank, ShapeError } from './errors.js';
import { matmulHost, transposeHost } from './kernels/matmul.js';
import { type CallOptions, defineOp } from './op.js';

export interface MatmulOptions extends CallOptions {
  /** Use Aᵀ (A given as [k, m]). */
  transposeA?: boolean;
  /** Use Bᵀ (B given as [n, k]). */
  transposeB?: boolean;
}

type MatmulAttrs = { transposeA: boolean; transposeB: boolean };

const matmulOp = defineOp<[tf.Tensor, tf.Tensor], MatmulAttrs>({
  name: 'tensor.matmul',
  validate: ([a, b], { transposeA, transposeB }) => {
    assertRank('tensor.matmul', 'a', a, 2, transposeA ? '[k, m]' : '[m, k]');
    assertRank('tensor.matmul', 'b', b, 2, transposeB ? '[n, k]' : '[k, n]');
    const ka = transposeA ? a.shape[0] : a.shape[1];
    const kb = transposeB ? b.shape[1] : b.shape[0];
    if (ka !== kb) {
      throw new ShapeError(
        `tensor.matmul: inner dimensions must agree, got a [${a.shape}]${transposeA ? 'ᵀ' : ''} and b [${b.shape}]${transposeB ? 'ᵀ' : ''} (${ka} vs ${kb})`,
      );
    }
  },
  composite: ([a, b], { transposeA, transposeB }) => tf.matMul(a, b, transposeA, transposeB),
  fused: {
    backends: ['cpu', 'wasm'],
    forward: ([a, b], { transposeA, transposeB }) => {
      const [ra, ca] = a.shape as [number, number];
      const [rb, cb] = b.shape as [number, number];
      const m = transposeA ? ca : ra;
      const k = transposeA ? ra : ca;
      const n = transposeB ? rb : cb;
      const A = transposeA ? transposeHost(a.data, ra, ca) : a.data;
      const B = transposeB ? transposeHost(b.data, rb, cb) : b.data;
      return { outputs: [{ data: matmulHost(A, B, m, k, n), shape: [m, n] }] };
    },
  },
  // d(AB) = dC Bᵀ and Aᵀ dC (with the transposes folded in), computed by this same op.
  gradient: (dy, { inputs: [a, b], attrs: { transposeA, transposeB } }) => {
    const da = transposeA ? matmul(b, dy, { transposeA: transposeB, transposeB: true }) : matmul(dy, b, { transposeB: !transposeB });
    const db = transposeB ? matmul(dy, a, { transposeA: true, transposeB: transposeA }) : matmul(a, dy, { transposeA: !transposeA });
    return [da, db];
  },
});

/**
 * C = A · B for 2-D float32 tensors (optionally transposed), on the toolkit's WebAssembly SIMD kernel on the
 * cpu and wasm backends, and `tf.matMul` elsewhere. Differentiable.
 *
 * a: [m, k] (or [k, m] with transposeA); b: [k, n] (or [n, k] with transposeB); returns [m, n].
 */
export function matmul(a: tf.Tensor, b: tf.Tensor, options: MatmulOptions = {}): tf.Tensor2D {
  const { transposeA = false, transposeB = false, impl } = options;
  return matmulOp([a, b], { transposeA, transposeB }, { impl })[0] as tf.Tensor2D;
}
