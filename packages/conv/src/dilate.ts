/**
 * Zero insertion and padding helpers, written with differentiable tfjs ops (reshape, pad, slice), so tfjs can
 * differentiate through them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { argumentMessage, assertRank, ValueError } from '@lab/tensor';
import { parsePair } from './geometry.js';

/**
 * Inserts `factor − 1` zeros between neighbouring entries along `axis` (no zeros after the last one):
 * size n becomes (n − 1)·factor + 1. A factor of 1 returns the input.
 */
export function insertZeros(t: tf.Tensor, axis: number, factor: number): tf.Tensor {
  if (factor === 1) return t;
  const shape = t.shape;
  const n = shape[axis]!;
  const expanded = [...shape.slice(0, axis + 1), 1, ...shape.slice(axis + 1)];
  const pads: [number, number][] = expanded.map(() => [0, 0]);
  pads[axis + 1] = [0, factor - 1];
  const grown = tf.pad(tf.reshape(t, expanded), pads);
  const merged = [...shape.slice(0, axis), n * factor, ...shape.slice(axis + 1)];
  const begin = shape.map(() => 0);
  const size = [...shape];
  size[axis] = (n - 1) * factor + 1;
  return tf.slice(tf.reshape(grown, merged), begin, size);
}

/**
 * Pads (positive amounts) or crops (negative amounts) the two spatial axes of an NHWC tensor.
 * `pads` = [[top, bottom], [left, right]].
 */
export function padOrCrop(t: tf.Tensor4D, pads: readonly (readonly [number, number])[]): tf.Tensor4D {
  const [[top, bottom], [left, right]] = pads as [[number, number], [number, number]];
  // Pad first, then crop: the result is x shifted by (top, left) and cut to size, even where a crop is larger
  // than the input itself (a convolution that reads only padding).
  let out: tf.Tensor4D = t;
  const pt = Math.max(0, top);
  const pb = Math.max(0, bottom);
  const pl = Math.max(0, left);
  const pr = Math.max(0, right);
  if (pt || pb || pl || pr) {
    out = tf.pad(out, [
      [0, 0],
      [pt, pb],
      [pl, pr],
      [0, 0],
    ]);
  }
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [n, h, w, c] = out.shape;
    const ct = Math.max(0, -top);
    const cb = Math.max(0, -bottom);
    const cl = Math.max(0, -left);
    const cr = Math.max(0, -right);
    out = tf.slice(out, [0, ct, cl, 0], [n, h - ct - cb, w - cl - cr, c]);
  }
  return out;
}

/**
 * The explicitly dilated filter of an atrous convolution (Yu & Koltun 2016, §2): `dilation − 1` zeros between
 * taps, so that an undilated convolution with it equals the dilated convolution with `filter`.
 *
 * filter: [kh, kw, ...rest] → [(kh − 1)·dh + 1, (kw − 1)·dw + 1, ...rest]. Differentiable.
 */
export function dilateFilter(filter: tf.Tensor, dilation: number | readonly [number, number]): tf.Tensor {
  const fn = 'conv.dilateFilter';
  assertRank(fn, 'filter', filter, [3, 4], '[kh, kw, inChannels, outChannels] or [kh, kw, channels]');
  const [dh, dw] = parsePair(fn, 'dilation', dilation);
  if (filter.dtype !== 'float32') {
    throw new ValueError(argumentMessage(fn, 'filter', 'of dtype float32', `dtype ${filter.dtype}`));
  }
  return tf.tidy(() => insertZeros(insertZeros(filter, 0, dh), 1, dw));
}
