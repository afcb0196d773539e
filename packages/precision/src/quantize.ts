/**
 * Fake quantization of tensors to a narrow float format (round to the format and back to float32), the
 * building block of simulated low-precision training (Micikevicius et al. 2018; FP8: Micikevicius et al. 2022),
 * and packing float32 tensors into 16- or 8-bit storage.
 *
 * x: [...dims] → [...dims] float32, every value exactly representable in the format.
 */
import {
  argumentMessage,
  assertKnownOptions,
  assertOneOf,
  assertTensor,
  type CallOptions,
  defineOp,
  type HostTensor,
  ShapeError,
  ValueError,
} from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { roundArray } from './convert.js';
import { FORMAT_NAMES, FORMATS, type FormatName } from './formats.js';
import { decodeHost, encodeHost, type Narrow } from './kernels/convert.js';

const KIND: Record<Exclude<FormatName, 'float32'>, Narrow> = {
  float16: 'f16',
  bfloat16: 'bf16',
  fp8e4m3: 'e4m3',
  fp8e5m2: 'e5m2',
};

export interface QuantizeOptions extends CallOptions {
  /** fp8 only: clamp out-of-range values (and ±inf) to ±max instead of NaN (E4M3FN) or ±inf (E5M2). */
  saturate?: boolean;
  /**
   * The backward pass: `false` (default) is the straight-through estimator (dy passes unchanged);
   * `true` rounds dy to the format too, as a cast in a graph that runs in that format would (gradients then
   * underflow and overflow as in real low-precision training).
   */
  roundGradient?: boolean;
}

type QuantizeAttrs = { format: FormatName; saturate: boolean; roundGradient: boolean };

/** Rounds host data to the format and back (nearest even), with the bulk kernels. */
function roundHost(data: Float32Array, format: FormatName, saturate: boolean): Float32Array {
  return roundArray(data, format, new Float32Array(data.length), format.startsWith('fp8') ? { saturate } : undefined);
}

/**
 * The same rounding with tfjs ops only (the composite reference, and the path on webgl/webgpu): with
 * e = max(floor(log2 |x|), emin), M = 2^(e + 23 − mantissaBits) has a float32 ulp equal to the format's
 * quantum at |x|, so (|x| + M) − M is |x| rounded to nearest even by float32 arithmetic. Values past 2^64 are
 * scaled down by 2^64 first so that M stays finite (bfloat16 reaches 2^127).
 */
function roundComposite(x: tf.Tensor, format: FormatName, saturate: boolean): tf.Tensor {
  if (format === 'float32') return x.clone();
  const info = FORMATS[format];
  return tf.tidy(() => {
    const emin = 1 - info.bias;
    const emax = (info.hasInfinity ? 2 ** info.exponentBits - 2 : 2 ** info.exponentBits - 1) - info.bias;
    const a = tf.abs(x);
    const big = tf.greaterEqual(a, 2 ** 64);
    const scaledA = tf.where(big, tf.mul(a, 2 ** -64), a);
    const floorA = tf.maximum(a, info.minNormal);
    let e = tf.floor(tf.div(tf.log(floorA), Math.LN2));
    e = tf.clipByValue(e, emin, emax);
    const p = tf.pow(tf.scalar(2), e);
    // Correct log rounding: exactly one binade [p, 2p) contains max(|x|, minNormal).
    e = tf.add(e, tf.sub(tf.cast(tf.lessEqual(tf.mul(p, 2), floorA), 'float32'), tf.cast(tf.greater(p, floorA), 'float32')));
    e = tf.clipByValue(e, emin, emax);
    const shift = tf.where(big, tf.scalar(-64), tf.scalar(0));
    const magic = tf.pow(tf.scalar(2), tf.add(tf.add(e, 23 - info.mantissaBits), shift));
    const rounded = tf.sub(tf.add(scaledA, magic), magic);
    const r = tf.where(big, tf.mul(rounded, 2 ** 64), rounded);
    const overflowValue = saturate ? info.max : info.hasInfinity ? Number.POSITIVE_INFINITY : Number.NaN;
    const limited = tf.where(tf.greater(r, info.max), tf.fill(r.shape, overflowValue), r);
    // Negative inputs, including -0 (whose reciprocal is -inf).
    const negative = tf.logicalOr(tf.less(x, 0), tf.less(tf.div(1, x), 0));
    return tf.where(negative, tf.neg(limited), limited);
  });
}

function roundGradientOf(dy: tf.Tensor, attrs: QuantizeAttrs): tf.Tensor {
  return attrs.roundGradient ? quantizeOp([dy], { ...attrs, saturate: false, roundGradient: false })[0]! : dy.clone();
}

const quantizeOp = defineOp<[tf.Tensor], QuantizeAttrs>({
  name: 'precision.quantize',
  validate: ([x]) => {
    assertTensor('precision.quantize', 'x', x);
    if (x.dtype !== 'float32') {
      throw new ValueError(argumentMessage('precision.quantize', 'x', 'a float32 tensor', `dtype ${x.dtype}`));
    }
  },
  composite: ([x], attrs) => {
    const fn = tf.customGrad((input, save) => {
      void save;
      return {
        value: roundComposite(input as tf.Tensor, attrs.format, attrs.saturate),
        gradFunc: (dy: tf.Tensor) => roundGradientOf(dy, attrs),
      };
    });
    return (fn as (t: tf.Tensor) => tf.Tensor)(x);
  },
  fused: {
    backends: ['cpu', 'wasm'],
    forward: ([x], { format, saturate }) => ({
      outputs: [{ data: roundHost(x.data, format, saturate), shape: x.shape } satisfies HostTensor],
    }),
  },
  gradient: (dy, { attrs }) => [roundGradientOf(dy, attrs)],
});

function checkFormat(fn: string, format: unknown): asserts format is FormatName {
  assertOneOf(fn, 'format', format, FORMAT_NAMES);
}

/**
 * Rounds every value of `x` to the nearest value of `format` (nearest even, exactly as the scalar
 * conversions) and returns it as float32: "fake quantization". Differentiable with a straight-through
 * gradient (or a rounded one, see {@link QuantizeOptions.roundGradient}).
 *
 * x: [...dims] float32 → [...dims] float32.
 */
export function quantize(x: tf.Tensor, format: FormatName, options: QuantizeOptions = {}): tf.Tensor {
  const fn = 'precision.quantize';
  assertKnownOptions(fn, options, ['saturate', 'roundGradient', 'impl']);
  checkFormat(fn, format);
  const { saturate = false, roundGradient = false, impl } = options;
  if (typeof saturate !== 'boolean') throw new ValueError(argumentMessage(fn, 'options.saturate', 'a boolean', String(saturate)));
  if (typeof roundGradient !== 'boolean') {
    throw new ValueError(argumentMessage(fn, 'options.roundGradient', 'a boolean', String(roundGradient)));
  }
  return quantizeOp([x], { format, saturate, roundGradient }, { impl })[0]!;
}

/** A float32 tensor packed into a narrow format's storage (bit patterns, row-major). */
export interface EncodedTensor {
  format: FormatName;
  shape: number[];
  /** float16/bfloat16: Uint16Array; fp8: Uint8Array; float32: Float32Array. */
  data: Uint16Array | Uint8Array | Float32Array;
}

/**
 * Packs a float32 tensor into 16- or 8-bit storage (half or a quarter of the bytes), rounding to nearest even.
 *
 * x: [...dims] float32 → { format, shape: [...dims], data: [prod(dims)] patterns }.
 */
export function encodeTensor(x: tf.Tensor, format: FormatName, options: { saturate?: boolean } = {}): EncodedTensor {
  const fn = 'precision.encodeTensor';
  assertTensor(fn, 'x', x);
  checkFormat(fn, format);
  assertKnownOptions(fn, options, ['saturate']);
  const { saturate = false } = options;
  if (x.dtype !== 'float32') throw new ValueError(argumentMessage(fn, 'x', 'a float32 tensor', `dtype ${x.dtype}`));
  const values = x.dataSync() as Float32Array;
  if (format === 'float32') return { format, shape: [...x.shape], data: values.slice() };
  const kind = KIND[format];
  const data = kind === 'e4m3' || kind === 'e5m2' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  encodeHost(kind, values, data, saturate);
  return { format, shape: [...x.shape], data };
}

/**
 * Unpacks storage made by {@link encodeTensor} (or read from a file) into a float32 tensor (exact).
 *
 * encoded.data: [prod(shape)] patterns → [...shape] float32.
 */
export function decodeTensor(encoded: EncodedTensor): tf.Tensor {
  const fn = 'precision.decodeTensor';
  if (typeof encoded !== 'object' || encoded === null) {
    throw new ValueError(argumentMessage(fn, 'encoded', 'an object { format, shape, data }', String(encoded)));
  }
  const { format, shape, data } = encoded;
  checkFormat(fn, format);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ShapeError(argumentMessage(fn, 'encoded.shape', 'an array of non-negative integers', String(shape)));
  }
  const size = shape.reduce((p, d) => p * d, 1);
  const expected = format === 'float32' ? Float32Array : FORMATS[format].bits === 16 ? Uint16Array : Uint8Array;
  if (!(data instanceof expected)) {
    throw new ValueError(argumentMessage(fn, 'encoded.data', `a ${expected.name} for ${format}`, data?.constructor?.name ?? String(data)));
  }
  if (data.length !== size) {
    throw new ShapeError(argumentMessage(fn, 'encoded.data', `of length ${size} (shape [${shape}])`, `length ${data.length}`));
  }
  if (format === 'float32') return tf.tensor(data.slice() as Float32Array, shape, 'float32');
  const out = new Float32Array(size);
  decodeHost(KIND[format], data as Uint16Array | Uint8Array, out);
  return tf.tensor(out, shape, 'float32');
}
