/**
 * Dilated and causal 1-D convolutions (van den Oord et al. 2016, WaveNet §2.1), channels-last, on top of the
 * 2-D op (a height axis of size 1), so they train at any dilation too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { argumentMessage, assertKnownOptions, assertRank, assertSameSize, ValueError } from '@lab/tensor';
import { runConv2d } from './conv2d.js';
import { type Padding1d, padding1dTo2d, parsePositive, resolveGeometry2d } from './geometry.js';

/** Options of {@link dilatedConv1d}. */
export interface DilatedConv1dOptions {
  /** Dilation (default 1). */
  dilation?: number;
  /** Stride (default 1). */
  stride?: number;
  /** 'same', 'valid' (default), a symmetric amount, or explicit [before, after]. */
  padding?: Padding1d;
  /** 'auto' (default) or 'composite' (the explicitly dilated filter, see dilatedConv2d). */
  impl?: 'auto' | 'composite';
}

function checkTensors(fn: string, x: tf.Tensor, filter: tf.Tensor): void {
  assertRank(fn, 'x', x, 3, '[batch, length, inChannels]');
  assertRank(fn, 'filter', filter, 3, '[k, inChannels, outChannels]');
  for (const [name, t] of [
    ['x', x],
    ['filter', filter],
  ] as const) {
    if (t.dtype !== 'float32')
      throw new ValueError(argumentMessage(fn, name, 'of dtype float32', `dtype ${t.dtype}`));
  }
  assertSameSize(
    fn,
    'filter.shape[1] (inChannels)',
    filter.shape[1]!,
    'x.shape[2] (inChannels)',
    x.shape[2]!,
  );
}

function run1d(
  fn: string,
  x: tf.Tensor,
  filter: tf.Tensor,
  dilation: number,
  stride: number,
  padding: unknown,
  impl: string | undefined,
): tf.Tensor3D {
  const [n, l, c] = x.shape as [number, number, number];
  const [k, , o] = filter.shape as [number, number, number];
  const geometry = resolveGeometry2d(
    fn,
    [n, 1, l, c],
    [1, k],
    [1, dilation],
    [1, stride],
    padding1dTo2d(fn, padding),
    {
      input: 'x',
      filter: 'filter',
      axes: ['height', 'length'],
    },
  );
  return tf.tidy(() => {
    const y = runConv2d(
      tf.reshape(x, [n, 1, l, c]) as tf.Tensor4D,
      tf.reshape(filter, [1, k, c, o]) as tf.Tensor4D,
      geometry,
      false,
      impl,
    );
    return tf.reshape(y, [n, geometry.outWidth, o]) as tf.Tensor3D;
  });
}

/**
 * Dilated 1-D convolution, differentiable at any dilation, stride and padding (Yu & Koltun 2016, eq. 2 in 1-D).
 *
 * x: [batch, length, inChannels]; filter: [k, inChannels, outChannels]; returns [batch, outLength, outChannels],
 * y[n,t,o] = Σ_{j,c} x[n, t·s + j·d − before, c] · filter[j,c,o].
 */
export function dilatedConv1d(
  x: tf.Tensor,
  filter: tf.Tensor,
  options: DilatedConv1dOptions = {},
): tf.Tensor3D {
  const fn = 'conv.dilatedConv1d';
  checkTensors(fn, x, filter);
  assertKnownOptions(fn, options, ['dilation', 'stride', 'padding', 'impl']);
  const dilation = parsePositive(fn, 'dilation', options.dilation, 1);
  const stride = parsePositive(fn, 'stride', options.stride, 1);
  return run1d(fn, x, filter, dilation, stride, options.padding ?? 'valid', options.impl);
}

/**
 * Causal dilated 1-D convolution (van den Oord et al. 2016, WaveNet Fig. 3): left-pads (k − 1)·dilation
 * zeros, so output t sees inputs t, t − d, …, t − (k − 1)·d only and the length is kept.
 *
 * x: [batch, length, inChannels]; filter: [k, inChannels, outChannels]; returns [batch, length, outChannels],
 * y[n,t,o] = Σ_{j,c} x[n, t − (k − 1 − j)·d, c] · filter[j,c,o].
 */
export function causalConv1d(
  x: tf.Tensor,
  filter: tf.Tensor,
  options: { dilation?: number; impl?: 'auto' | 'composite' } = {},
): tf.Tensor3D {
  const fn = 'conv.causalConv1d';
  checkTensors(fn, x, filter);
  assertKnownOptions(fn, options, ['dilation', 'impl']);
  const dilation = parsePositive(fn, 'dilation', options.dilation, 1);
  const k = filter.shape[0]!;
  return run1d(fn, x, filter, dilation, 1, [(k - 1) * dilation, 0], options.impl);
}
