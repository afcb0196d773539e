/**
 * Dilated (atrous) 2-D convolution that trains at any dilation (Yu & Koltun 2016; Chen et al. 2017, DeepLab),
 * channels-last as tfjs.
 *
 * tfjs runs a dilated convolution forward, but its gradients (Conv2D, DepthwiseConv2dNative) reject any
 * dilation above 1, its forward rejects stride and dilation both above 1, and tfjs-backend-wasm has no
 * Conv2DBackpropFilter kernel at all. Here both gradients are written as *forward* convolutions, which every
 * backend runs (XNNPACK on wasm):
 *
 *   y[n,i,j,o]  = Σ_{a,b,c} x[n, i·sh + a·dh − top, j·sw + b·dw − left, c] · w[a,b,c,o]
 *   dx          = conv(zeroInsert_s(dy) padded by ((k−1)·d − top, …), rot180(w)ᵀ, stride 1, dilation d)
 *   dw[a,b,c,o] = conv(xᵀ [c, h, w, n], dyᵀ [i, j, n, o], stride d, dilation s)  (batch ↔ channels swapped)
 *
 * The gradient convolutions call this same op, so gradients of gradients work too. On the cpu and wasm backends
 * dw runs on fused WebAssembly SIMD kernels (kernels/filter-grad.ts, kernels/depthwise-grad.ts), and the
 * forward (hence also dx) of regular convolutions runs on a
 * direct SIMD kernel (kernels/forward.ts) where it beats the backend's convolution; each has its tfjs composite
 * beside it and a TypeScript fallback.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  argumentMessage,
  assertKnownOptions,
  assertRank,
  assertSameSize,
  defineOp,
  type Implementation,
  threadCount,
  toHost,
  ValueError,
} from '@lab/tensor';
import { dilateFilter, insertZeros, padOrCrop } from './dilate.js';
import { depthwiseGradHost } from './kernels/depthwise-grad.js';
import { filterGradHost } from './kernels/filter-grad.js';
import { inputGradHost } from './kernels/input-grad.js';
import { convForwardHost } from './kernels/forward.js';
import { type Geometry2d, type Padding2d, parsePair, resolveGeometry2d } from './geometry.js';

/** Options of {@link dilatedConv2d}. */
export interface DilatedConv2dOptions {
  /** Dilation (atrous rate) per spatial axis: a number or [h, w]. */
  dilation: number | readonly [number, number];
  /** Stride per spatial axis (default 1). Any combination with dilation is accepted. */
  stride?: number | readonly [number, number];
  /** 'same' (TensorFlow rule), 'valid', a symmetric amount, or explicit [[top, bottom], [left, right]]. */
  padding: Padding2d;
  /**
   * 'auto' (default): the backend's convolution or this package's SIMD kernels, whichever is faster; gradients
   * as forward convolutions and SIMD filter-gradient kernels (any dilation, stride and padding).
   * 'composite': the reference, an undilated convolution with the explicitly zero-inserted filter,
   * differentiated by tfjs (slower; its filter gradient needs Conv2DBackpropFilter, which tfjs-wasm lacks).
   */
  impl?: 'auto' | 'composite';
}

type Pads = readonly [readonly [number, number], readonly [number, number]];

/** Stride, dilation and resolved padding of one convolution. @internal */
export interface Plan {
  readonly stride: readonly [number, number];
  readonly dilation: readonly [number, number];
  readonly pads: Pads;
}

const anyAbove1 = (p: readonly [number, number]) => p[0] > 1 || p[1] > 1;

function explicit(pads: Pads): [[number, number], [number, number], [number, number], [number, number]] {
  return [
    [0, 0],
    [pads[0][0], pads[0][1]],
    [pads[1][0], pads[1][1]],
    [0, 0],
  ];
}

/**
 * Forward convolution with tfjs kernels at any stride/dilation. tfjs refuses stride and dilation both above 1;
 * then the cheaper of (a) the zero-inserted filter at the stride and (b) the stride-1 dilated convolution
 * subsampled is used (cost ratio: effective kernel area vs kernel area × stride area).
 */
function forwardConvTfjs(x: tf.Tensor4D, w: tf.Tensor4D, plan: Plan, depthwise: boolean): tf.Tensor4D {
  const { stride, dilation, pads } = plan;
  const conv = (
    input: tf.Tensor4D,
    filter: tf.Tensor4D,
    s: readonly [number, number],
    d: readonly [number, number],
  ) =>
    depthwise
      ? tf.depthwiseConv2d(input, filter, [s[0], s[1]], explicit(pads), 'NHWC', [d[0], d[1]])
      : tf.conv2d(input, filter, [s[0], s[1]], explicit(pads), 'NHWC', [d[0], d[1]]);
  if (!anyAbove1(stride) || !anyAbove1(dilation)) return conv(x, w, stride, dilation);
  const [kh, kw] = w.shape;
  const effectiveArea = ((kh - 1) * dilation[0] + 1) * ((kw - 1) * dilation[1] + 1);
  if (effectiveArea <= kh * kw * stride[0] * stride[1]) {
    return conv(x, dilateFilter(w, dilation) as tf.Tensor4D, stride, [1, 1]);
  }
  const full = conv(x, w, [1, 1], dilation);
  const [n, h, wd, c] = full.shape;
  return tf.stridedSlice(full, [0, 0, 0, 0], [n, h, wd, c], [1, stride[0], stride[1], 1]) as tf.Tensor4D;
}

/** Forward on the direct WebAssembly SIMD kernel (host arrays in and out). */
function forwardConvHost(x: tf.Tensor4D, w: tf.Tensor4D, plan: Plan): tf.Tensor4D {
  const [n, h, wd] = x.shape;
  const [kh, kw, , o] = w.shape;
  const outH =
    Math.floor((h + plan.pads[0][0] + plan.pads[0][1] - ((kh - 1) * plan.dilation[0] + 1)) / plan.stride[0]) +
    1;
  const outW =
    Math.floor(
      (wd + plan.pads[1][0] + plan.pads[1][1] - ((kw - 1) * plan.dilation[1] + 1)) / plan.stride[1],
    ) + 1;
  const xs = toHost(x);
  const ws = toHost(w);
  const data = convForwardHost(xs.data, x.shape, ws.data, w.shape, [outH, outW], {
    kernel: [kh, kw],
    stride: plan.stride,
    dilation: plan.dilation,
    before: [plan.pads[0][0], plan.pads[1][0]],
  });
  return tf.tensor4d(data, [n, outH, outW, o]);
}

/**
 * Forward of a (depthwise when `depthwise`) convolution. 'auto' takes the direct SIMD kernel on the cpu
 * backend (tfjs-cpu's conv2d is ~60× slower), and on wasm where tfjs needs a workaround (stride and dilation
 * both above 1) or the worker pool runs; elsewhere the backend's own convolution (XNNPACK on wasm).
 * @internal (exported for tests: 'fused' / 'composite' force one path)
 */
export function forwardConv(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  plan: Plan,
  depthwise: boolean,
  impl: Implementation = 'auto',
): tf.Tensor4D {
  const backend = tf.getBackend();
  const hostable = !depthwise && (backend === 'cpu' || backend === 'wasm');
  if (impl === 'fused' && !hostable) {
    throw new ValueError(
      `conv.forwardConv: impl 'fused' needs a regular convolution on the cpu or wasm backend, got ${depthwise ? 'depthwise' : 'regular'} on ${backend}`,
    );
  }
  const useHost =
    impl === 'fused' ||
    (impl === 'auto' &&
      hostable &&
      (backend === 'cpu' || (anyAbove1(plan.stride) && anyAbove1(plan.dilation)) || threadCount() > 1));
  return useHost ? forwardConvHost(x, w, plan) : forwardConvTfjs(x, w, plan, depthwise);
}

interface InputGradAttrs {
  readonly xShape: readonly number[];
  readonly plan: Plan;
}

/**
 * dx of a regular convolution as an op: composite = the dilated convolution of the zero-inserted dy (any
 * backend); fused (cpu, wasm) = a scatter per tap on a WebAssembly SIMD kernel, without the s² zeros; the
 * fused path's gradient is the composite's (dx is bilinear in dy and w).
 */
const inputGradientOp = defineOp<[tf.Tensor4D, tf.Tensor4D], InputGradAttrs>({
  name: 'conv.inputGradient',
  validate: null,
  composite: ([dy, w], { xShape, plan }) => inputGradientComposite(dy, w, xShape, plan, false),
  fused: {
    backends: ['cpu', 'wasm'],
    forward: ([dy, w], { xShape, plan }) => {
      const data = inputGradHost(dy.data, dy.shape, w.data, w.shape, xShape, {
        kernel: [w.shape[0]!, w.shape[1]!],
        stride: plan.stride,
        dilation: plan.dilation,
        before: [plan.pads[0][0], plan.pads[1][0]],
      });
      return { outputs: [{ data, shape: [...xShape] }] };
    },
  },
  gradient: 'recompute',
});

/**
 * The input gradient of a convolution at a resolved plan. dy: [batch, oh, ow, out]; w: the filter; returns
 * [batch, h, w, in]. 'auto' takes the SIMD scatter kernel on cpu, and on wasm for strides above 1 or with the
 * worker pool (else XNNPACK's convolution, as fast at stride 1). @internal (exported for tests)
 */
export function inputGradient(
  dy: tf.Tensor4D,
  w: tf.Tensor4D,
  xShape: readonly number[],
  plan: Plan,
  depthwise: boolean,
  impl: Implementation = 'auto',
): tf.Tensor4D {
  if (depthwise) return inputGradientComposite(dy, w, xShape, plan, true);
  const preferComposite =
    impl === 'auto' && tf.getBackend() === 'wasm' && !anyAbove1(plan.stride) && threadCount() <= 1;
  return inputGradientOp(
    [dy, w],
    { xShape, plan },
    { impl: preferComposite ? 'composite' : impl },
  )[0] as tf.Tensor4D;
}

/** The rows of the padded input that the forward reads: (k − 1)·d + (o − 1)·s + 1. */
function spanned(k: number, d: number, o: number, s: number): number {
  return (k - 1) * d + (o - 1) * s + 1;
}

/** dx of a (depthwise when `depthwise`) convolution: a dilated forward convolution of the zero-inserted dy. */
function inputGradientComposite(
  dy: tf.Tensor4D,
  w: tf.Tensor4D,
  xShape: readonly number[],
  plan: Plan,
  depthwise: boolean,
): tf.Tensor4D {
  const { stride, dilation, pads } = plan;
  const [, h, wd] = xShape as [number, number, number];
  const [kh, kw] = w.shape;
  const [, oh, ow] = dy.shape;
  const up = insertZeros(insertZeros(dy, 1, stride[0]), 2, stride[1]) as tf.Tensor4D;
  const z = padOrCrop(up, [
    [(kh - 1) * dilation[0] - pads[0][0], h + pads[0][0] - (oh - 1) * stride[0] - 1],
    [(kw - 1) * dilation[1] - pads[1][0], wd + pads[1][0] - (ow - 1) * stride[1] - 1],
  ]);
  const flipped = tf.reverse(w, [0, 1]);
  const zeroPads: Pads = [
    [0, 0],
    [0, 0],
  ];
  const inner: Plan = { stride: [1, 1], dilation, pads: zeroPads };
  if (!depthwise) {
    return conv2dCore(z, tf.transpose(flipped, [0, 1, 3, 2]) as tf.Tensor4D, inner, false);
  }
  // Depthwise with multiplier m: output channel c·m + q comes from input channel c; dx[c] = Σ_q (…)[c·m + q].
  const [, , c, m] = w.shape;
  const perOutput = conv2dCore(z, tf.reshape(flipped, [kh, kw, c * m, 1]) as tf.Tensor4D, inner, true);
  if (m === 1) return perOutput;
  const [n, hh, ww] = perOutput.shape;
  return tf.sum(tf.reshape(perOutput, [n, hh, ww, c, m]), 4) as tf.Tensor4D;
}

/** dw of a convolution: the batch-channel-swapped correlation of x and dy, itself a strided convolution. */
function filterGradientComposite(
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  kernel: readonly [number, number],
  plan: Plan,
): tf.Tensor4D {
  const { stride, dilation, pads } = plan;
  const [, h, wd] = x.shape;
  const [, oh, ow] = dy.shape;
  const hp = spanned(kernel[0], dilation[0], oh, stride[0]);
  const wp = spanned(kernel[1], dilation[1], ow, stride[1]);
  const xp = padOrCrop(x, [
    [pads[0][0], hp - h - pads[0][0]],
    [pads[1][0], wp - wd - pads[1][0]],
  ]);
  const xt = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [inChannels, hp, wp, batch]
  // [outHeight, outWidth, batch, outChannels] (a reshape when batch = 1)
  const dyt = (
    dy.shape[0] === 1 ? tf.reshape(dy, [oh, ow, 1, dy.shape[3]]) : tf.transpose(dy, [1, 2, 0, 3])
  ) as tf.Tensor4D;
  const zeroPads: Pads = [
    [0, 0],
    [0, 0],
  ];
  const g = conv2dCore(xt, dyt, { stride: dilation, dilation: stride, pads: zeroPads }, false); // [in, kh, kw, out]
  return tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D;
}

interface FilterGradAttrs {
  readonly kernel: readonly [number, number];
  readonly plan: Plan;
}

/**
 * dw as an op: the composite is the convolution above (any backend, differentiable by tfjs through this
 * package's own gradients); the fused kernel (cpu, wasm) accumulates 4 × 8 register blocks per tap in
 * WebAssembly SIMD with no im2col buffer; the fused path's gradient is the composite's (bilinear in x, dy).
 */
const filterGradientOp = defineOp<[tf.Tensor4D, tf.Tensor4D], FilterGradAttrs>({
  name: 'conv.filterGradient',
  validate: null,
  composite: ([x, dy], { kernel, plan }) => filterGradientComposite(dy, x, kernel, plan),
  fused: {
    backends: ['cpu', 'wasm'],
    forward: ([x, dy], { kernel, plan }) => {
      const data = filterGradHost(x.data, x.shape, dy.data, dy.shape, {
        kernel,
        stride: plan.stride,
        dilation: plan.dilation,
        before: [plan.pads[0][0], plan.pads[1][0]],
      });
      return { outputs: [{ data, shape: [kernel[0], kernel[1], x.shape[3]!, dy.shape[3]!] }] };
    },
  },
  gradient: 'recompute',
});

/**
 * The filter gradient of a (regular) convolution at a resolved plan. x: [batch, h, w, in]; dy: [batch, oh, ow,
 * out]; returns [kh, kw, in, out]. @internal (exported for tests: `impl` forces the fused or composite path).
 */
export function filterGradient(
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  kernel: readonly [number, number],
  plan: Plan,
  impl: Implementation = 'auto',
): tf.Tensor4D {
  return filterGradientOp([x, dy], { kernel, plan }, { impl })[0] as tf.Tensor4D;
}

/** dw of a depthwise convolution: for each tap, the strided window of x times dy, summed over positions. */
function depthwiseFilterGradientComposite(
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  filterShape: readonly number[],
  plan: Plan,
): tf.Tensor4D {
  const { stride, dilation, pads } = plan;
  const [kh, kw, c, m] = filterShape as [number, number, number, number];
  const [n, h, wd] = x.shape;
  const [, oh, ow] = dy.shape;
  const hp = spanned(kh, dilation[0], oh, stride[0]);
  const wp = spanned(kw, dilation[1], ow, stride[1]);
  const xp = padOrCrop(x, [
    [pads[0][0], hp - h - pads[0][0]],
    [pads[1][0], wp - wd - pads[1][0]],
  ]);
  const dy5 = tf.reshape(dy, [n, oh, ow, c, m]);
  const taps: tf.Tensor[] = [];
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const r0 = a * dilation[0];
      const c0 = b * dilation[1];
      const window = tf.stridedSlice(
        xp,
        [0, r0, c0, 0],
        [n, r0 + (oh - 1) * stride[0] + 1, c0 + (ow - 1) * stride[1] + 1, c],
        [1, stride[0], stride[1], 1],
      ); // [n, oh, ow, c]
      taps.push(tf.sum(tf.mul(tf.expandDims(window, 4), dy5), [0, 1, 2])); // [c, m]
    }
  }
  return tf.reshape(tf.stack(taps), [kh, kw, c, m]) as tf.Tensor4D;
}

interface DepthwiseGradAttrs {
  readonly filterShape: readonly number[];
  readonly plan: Plan;
}

/**
 * Depthwise dw as an op: composite = the per-tap window products above; fused (cpu, wasm) = a WebAssembly SIMD
 * kernel accumulating 4 channels per register; the fused path's gradient is the composite's.
 */
const depthwiseFilterGradientOp = defineOp<[tf.Tensor4D, tf.Tensor4D], DepthwiseGradAttrs>({
  name: 'conv.depthwiseFilterGradient',
  validate: null,
  composite: ([x, dy], { filterShape, plan }) => depthwiseFilterGradientComposite(dy, x, filterShape, plan),
  fused: {
    backends: ['cpu', 'wasm'],
    forward: ([x, dy], { filterShape, plan }) => {
      const [kh, kw, c, m] = filterShape as [number, number, number, number];
      const data = depthwiseGradHost(x.data, x.shape, dy.data, dy.shape, m, {
        kernel: [kh, kw],
        stride: plan.stride,
        dilation: plan.dilation,
        before: [plan.pads[0][0], plan.pads[1][0]],
      });
      return { outputs: [{ data, shape: [kh, kw, c, m] }] };
    },
  },
  gradient: 'recompute',
});

/**
 * The filter gradient of a depthwise convolution at a resolved plan. x: [batch, h, w, c]; dy: [batch, oh, ow,
 * c·m]; returns [kh, kw, c, m]. @internal (exported for tests: `impl` forces the fused or composite path).
 */
export function depthwiseFilterGradient(
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  filterShape: readonly number[],
  plan: Plan,
  impl: Implementation = 'auto',
): tf.Tensor4D {
  return depthwiseFilterGradientOp([x, dy], { filterShape, plan }, { impl })[0] as tf.Tensor4D;
}

/** The differentiable convolution at a resolved plan (no validation: callers validated). */
function conv2dCore(x: tf.Tensor4D, w: tf.Tensor4D, plan: Plan, depthwise: boolean): tf.Tensor4D {
  const kernel: [number, number] = [w.shape[0], w.shape[1]];
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, wi, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([xi, wi]);
    return {
      value: forwardConv(xi as tf.Tensor4D, wi as tf.Tensor4D, plan, depthwise),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor4D;
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dx = inputGradient(g, ws, xs.shape, plan, depthwise);
        const dw = depthwise
          ? depthwiseFilterGradient(g, xs, ws.shape, plan)
          : filterGradient(g, xs, kernel, plan);
        return [dx, dw];
      },
    };
  });
  return f(x, w) as tf.Tensor4D;
}

/** The composite reference: an undilated convolution with the explicitly dilated filter (tfjs autodiff). */
function compositeConv(x: tf.Tensor4D, w: tf.Tensor4D, plan: Plan, depthwise: boolean): tf.Tensor4D {
  const dilated = dilateFilter(w, plan.dilation) as tf.Tensor4D;
  const s: [number, number] = [plan.stride[0], plan.stride[1]];
  return depthwise
    ? tf.depthwiseConv2d(x, dilated, s, explicit(plan.pads), 'NHWC', 1)
    : tf.conv2d(x, dilated, s, explicit(plan.pads), 'NHWC', 1);
}

const OPTION_KEYS = ['dilation', 'stride', 'padding', 'impl'] as const;

/** Validates a 2-D call and resolves its geometry (shared by the regular and depthwise variants). */
export function validateConv2d(
  fn: string,
  x: tf.Tensor,
  filter: tf.Tensor,
  options: DilatedConv2dOptions,
  depthwise: boolean,
): Geometry2d {
  assertRank(fn, 'x', x, 4, '[batch, height, width, inChannels]');
  assertRank(
    fn,
    'filter',
    filter,
    4,
    depthwise ? '[kh, kw, inChannels, multiplier]' : '[kh, kw, inChannels, outChannels]',
  );
  for (const [name, t] of [
    ['x', x],
    ['filter', filter],
  ] as const) {
    if (t.dtype !== 'float32')
      throw new ValueError(argumentMessage(fn, name, 'of dtype float32', `dtype ${t.dtype}`));
  }
  if (options === undefined || options === null || typeof options !== 'object') {
    throw new ValueError(
      argumentMessage(fn, 'options', 'an object { dilation, padding, stride? }', String(options)),
    );
  }
  assertKnownOptions(fn, options, OPTION_KEYS);
  if (options.impl !== undefined && options.impl !== 'auto' && options.impl !== 'composite') {
    throw new ValueError(argumentMessage(fn, 'impl', "'auto' or 'composite'", JSON.stringify(options.impl)));
  }
  assertSameSize(
    fn,
    'filter.shape[2] (inChannels)',
    filter.shape[2]!,
    'x.shape[3] (inChannels)',
    x.shape[3]!,
  );
  const dilation = parsePair(fn, 'dilation', options.dilation);
  const stride = parsePair(fn, 'stride', options.stride, 1);
  if (options.padding === undefined) {
    throw new ValueError(
      argumentMessage(fn, 'padding', "'same', 'valid' or a number (it has no default)", 'undefined'),
    );
  }
  return resolveGeometry2d(
    fn,
    x.shape,
    [filter.shape[0]!, filter.shape[1]!],
    dilation,
    stride,
    options.padding,
  );
}

/** Runs a validated call. @internal */
export function runConv2d(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  geometry: Geometry2d,
  depthwise: boolean,
  impl = 'auto',
) {
  const plan: Plan = { stride: geometry.stride, dilation: geometry.dilation, pads: geometry.pads };
  return tf.tidy(() => (impl === 'composite' ? compositeConv : conv2dCore)(x, filter, plan, depthwise));
}

/**
 * Dilated (atrous) 2-D convolution, differentiable in x and filter at any dilation, stride and padding
 * (Yu & Koltun 2016, eq. 2; Chen et al. 2017).
 *
 * x: [batch, height, width, inChannels]; filter: [kh, kw, inChannels, outChannels];
 * returns [batch, outHeight, outWidth, outChannels] with
 * y[n,i,j,o] = Σ_{a,b,c} x[n, i·sh + a·dh − top, j·sw + b·dw − left, c] · filter[a,b,c,o].
 *
 * ```ts
 * const y = dilatedConv2d(x, w, { dilation: 2, padding: 'same' });
 * const [dx, dw] = tf.grads((x, w) => dilatedConv2d(x, w, { dilation: [2, 3], stride: 2, padding: 'valid' }).sum())([x, w]);
 * ```
 */
export function dilatedConv2d(x: tf.Tensor, filter: tf.Tensor, options: DilatedConv2dOptions): tf.Tensor4D {
  const geometry = validateConv2d('conv.dilatedConv2d', x, filter, options, false);
  return runConv2d(x as tf.Tensor4D, filter as tf.Tensor4D, geometry, false, options.impl);
}

/**
 * Dilated depthwise 2-D convolution (as MobileNet / DeepLab v3+ separable atrous convolution), differentiable
 * in x and filter at any dilation, stride and padding.
 *
 * x: [batch, height, width, inChannels]; filter: [kh, kw, inChannels, multiplier];
 * returns [batch, outHeight, outWidth, inChannels · multiplier], output channel c·multiplier + q from input c.
 */
export function dilatedDepthwiseConv2d(
  x: tf.Tensor,
  filter: tf.Tensor,
  options: DilatedConv2dOptions,
): tf.Tensor4D {
  const geometry = validateConv2d('conv.dilatedDepthwiseConv2d', x, filter, options, true);
  return runConv2d(x as tf.Tensor4D, filter as tf.Tensor4D, geometry, true, options.impl);
}
