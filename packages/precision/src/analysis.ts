/**
 * Where values land in a narrow format: the fractions that are zero, underflow to zero, become subnormal, or
 * overflow, and the histogram of log2 magnitudes (Micikevicius et al. 2018, Figure 3: activation gradients of
 * a network against the FP16 range).
 */
import { argumentMessage, assertKnownOptions, assertOneOf, ValueError } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { FORMAT_NAMES, FORMATS, type FormatName } from './formats.js';
import { encodeHost } from './kernels/convert.js';

function encodePatterns(format: Exclude<FormatName, 'float32'>, data: Float32Array): Uint16Array | Uint8Array {
  if (format === 'float16' || format === 'bfloat16') {
    const out = new Uint16Array(data.length);
    encodeHost(format === 'float16' ? 'f16' : 'bf16', data, out);
    return out;
  }
  const out = new Uint8Array(data.length);
  encodeHost(format === 'fp8e4m3' ? 'e4m3' : 'e5m2', data, out);
  return out;
}

export interface RangeAnalysisOptions {
  /** Lowest log2 bin (values below fall in the first bin). Default: the format's min subnormal exponent − 8. */
  minExponent?: number;
  /** Highest log2 bin (values above fall in the last bin). Default: the format's max exponent + 8. */
  maxExponent?: number;
}

/** Counts and fractions over all values of the tensors given. */
export interface RangeAnalysis {
  format: FormatName;
  /** Number of values analysed (all tensors together). */
  total: number;
  /** Exactly zero already. */
  zero: number;
  /** Non-zero, finite, and rounding to zero in the format (|x| <= minSubnormal / 2, nearest even). */
  underflow: number;
  /** Rounding to a non-zero subnormal of the format (precision is lost). */
  subnormal: number;
  /** Finite and rounding past the format's max (to inf, or NaN for fp8e4m3). */
  overflow: number;
  /** Already inf or NaN. */
  nonFinite: number;
  /** The same counts divided by `total`. */
  fractions: { zero: number; underflow: number; subnormal: number; overflow: number; nonFinite: number };
  /**
   * Histogram of floor(log2 |x|) over non-zero finite values: `counts[i]` counts exponent
   * `exponents[i]`; the first and last bins also hold everything below and above.
   */
  histogram: { exponents: number[]; counts: number[] };
}

/**
 * Analyses the values of tensors (gradients, activations, weights) against a format's range.
 *
 * tensors: a tensor, an array of tensors, or a map of them, any shapes.
 */
export function analyzeRange(
  tensors: tf.Tensor | tf.Tensor[] | tf.NamedTensorMap,
  format: FormatName,
  options: RangeAnalysisOptions = {},
): RangeAnalysis {
  const fn = 'precision.analyzeRange';
  assertOneOf(fn, 'format', format, FORMAT_NAMES);
  assertKnownOptions(fn, options, ['minExponent', 'maxExponent']);
  const info = FORMATS[format];
  const minSubExp = 1 - info.bias - info.mantissaBits;
  const maxExp = Math.floor(Math.log2(info.max));
  const { minExponent = minSubExp - 8, maxExponent = maxExp + 8 } = options;
  if (!Number.isInteger(minExponent) || !Number.isInteger(maxExponent) || minExponent >= maxExponent) {
    throw new ValueError(
      argumentMessage(fn, 'options', 'integer minExponent < maxExponent', `minExponent ${minExponent}, maxExponent ${maxExponent}`),
    );
  }
  const list: tf.Tensor[] =
    tensors instanceof tf.Tensor ? [tensors] : Array.isArray(tensors) ? tensors : typeof tensors === 'object' && tensors ? Object.values(tensors) : [];
  if (list.length === 0 || !list.every((t) => t instanceof tf.Tensor && !t.isDisposed)) {
    throw new ValueError(argumentMessage(fn, 'tensors', 'a tensor, an array or a map of (undisposed) tensors', String(tensors)));
  }
  const bins = maxExponent - minExponent + 1;
  const counts = new Array<number>(bins).fill(0);
  let total = 0;
  let zero = 0;
  let underflow = 0;
  let subnormal = 0;
  let overflow = 0;
  let nonFinite = 0;
  const bits = new Uint32Array(1);
  const view = new Float32Array(bits.buffer);
  const exponentMask = (2 ** info.exponentBits - 1) * 2 ** info.mantissaBits;
  const magnitudeMask = 2 ** (info.bits - 1) - 1;
  for (const t of list) {
    const data = t.dtype === 'float32' ? (t.dataSync() as Float32Array) : Float32Array.from(t.dataSync());
    total += data.length;
    // Classify by the exactly rounded patterns (the bulk encoder), not by thresholds.
    const patterns = format === 'float32' ? new Uint32Array(data.buffer, data.byteOffset, data.length) : encodePatterns(format, data);
    for (let i = 0; i < data.length; i++) {
      const x = data[i]!;
      if (x === 0) {
        zero++;
        continue;
      }
      if (!Number.isFinite(x)) {
        nonFinite++;
        continue;
      }
      const p = patterns[i]! & magnitudeMask;
      if (p === 0) underflow++;
      else if ((p & exponentMask) === 0) subnormal++;
      else if ((p & exponentMask) === exponentMask && (info.hasInfinity || p === magnitudeMask)) overflow++;
      const a = Math.abs(x);
      view[0] = a;
      let e = (bits[0]! >>> 23) - 127;
      if (e === -127) e = Math.floor(Math.log2(a)); // float32 subnormal input
      const bin = Math.min(Math.max(e, minExponent), maxExponent) - minExponent;
      counts[bin]!++;
    }
  }
  const fraction = (n: number) => (total === 0 ? 0 : n / total);
  return {
    format,
    total,
    zero,
    underflow,
    subnormal,
    overflow,
    nonFinite,
    fractions: {
      zero: fraction(zero),
      underflow: fraction(underflow),
      subnormal: fraction(subnormal),
      overflow: fraction(overflow),
      nonFinite: fraction(nonFinite),
    },
    histogram: { exponents: Array.from({ length: bins }, (_, i) => minExponent + i), counts },
  };
}
