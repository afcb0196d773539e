/**
 * Rotary position embedding (Su et al. 2021, "RoFormer"): rotates each pair of dimensions of a query or key
 * by an angle proportional to its position, so that q·k depends on positions only through their difference.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, assertKnownOptions, assertNumber, assertTensor, ShapeError } from '@lab/tensor';

export interface RopeOptions {
  /** Position of the first row (default 0), e.g. the number of cached tokens in a decode step. */
  offset?: number;
  /** Frequency base (default 10000). */
  base?: number;
}

/**
 * Applies RoPE along the last axis, the rows (axis -2) being positions offset, offset + 1, …; the
 * rotate-half layout of GPT-NeoX / LLaMA: with x = [x₁, x₂] (halves), out = [x₁ cos θ − x₂ sin θ,
 * x₂ cos θ + x₁ sin θ], θ_{p,i} = p · base^(−2i/D).
 *
 * x: [..., L, D] with D even; returns the same shape.
 */
export function applyRope(x: tf.Tensor, options: RopeOptions = {}): tf.Tensor {
  const fn = 'attention.applyRope';
  assertKnownOptions(fn, options, ['offset', 'base']);
  assertTensor(fn, 'x', x);
  const { offset = 0, base = 10000 } = options;
  assertInteger(fn, 'offset', offset, 0);
  assertNumber(fn, 'base', base, { exclusiveMin: 0 });
  if (x.rank < 2)
    throw new ShapeError(`${fn}: x must be at least rank 2 [..., seqLen, dim], got shape [${x.shape}]`);
  const D = x.shape[x.rank - 1]!;
  const L = x.shape[x.rank - 2]!;
  if (D % 2 !== 0)
    throw new ShapeError(`${fn}: the last dimension of x must be even, got shape [${x.shape}]`);
  const half = D / 2;
  const cos = new Float32Array(L * half);
  const sin = new Float32Array(L * half);
  for (let p = 0; p < L; p++) {
    for (let i = 0; i < half; i++) {
      const angle = (offset + p) * base ** ((-2 * i) / D);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return tf.tidy(() => {
    const c = tf.tensor2d(cos, [L, half]);
    const s = tf.tensor2d(sin, [L, half]);
    const [x1, x2] = tf.split(x, 2, -1) as [tf.Tensor, tf.Tensor];
    return tf.concat([tf.sub(tf.mul(x1, c), tf.mul(x2, s)), tf.add(tf.mul(x2, c), tf.mul(x1, s))], -1);
  });
}
