/**
 * The floating-point formats of mixed-precision training: IEEE 754 binary32 and binary16, Google's bfloat16,
 * and the two OCP 8-bit formats (Micikevicius et al. 2022, "FP8 Formats for Deep Learning"; OCP OFP8 spec).
 */

/** The formats this package converts between. */
export type FormatName = 'float32' | 'float16' | 'bfloat16' | 'fp8e4m3' | 'fp8e5m2';

/** The narrow formats (everything but float32). */
export type NarrowFormat = Exclude<FormatName, 'float32'>;

/** What defines a binary floating-point format, and its derived limits. */
export interface FormatInfo {
  readonly name: FormatName;
  /** Storage width in bits. */
  readonly bits: number;
  /** Width of the exponent field. */
  readonly exponentBits: number;
  /** Width of the stored mantissa (fraction) field, without the implicit leading bit. */
  readonly mantissaBits: number;
  /** Exponent bias: a normal value is (1 + m / 2^mantissaBits) · 2^(e − bias). */
  readonly bias: number;
  /** Largest finite value. */
  readonly max: number;
  /** Smallest positive normal value, 2^(1 − bias). */
  readonly minNormal: number;
  /** Smallest positive subnormal value, 2^(1 − bias − mantissaBits). */
  readonly minSubnormal: number;
  /** Distance from 1 to the next larger value, 2^−mantissaBits. */
  readonly epsilon: number;
  /** Whether the format has infinities (E4M3FN has none: overflow is NaN, or ±max when saturating). */
  readonly hasInfinity: boolean;
  /** The bit pattern of positive infinity, or null. */
  readonly infinityBits: number | null;
  /** The canonical (quiet, positive) NaN bit pattern this package writes. */
  readonly nanBits: number;
  /** The bit pattern of +max. */
  readonly maxBits: number;
}

function info(
  name: FormatName,
  exponentBits: number,
  mantissaBits: number,
  hasInfinity: boolean,
): FormatInfo {
  const bits = 1 + exponentBits + mantissaBits;
  const bias = 2 ** (exponentBits - 1) - 1;
  const topExponent = 2 ** exponentBits - 1;
  // With infinities the all-ones exponent is reserved; E4M3FN only reserves S.1111.111 for NaN.
  const maxExponentField = hasInfinity ? topExponent - 1 : topExponent;
  const maxMantissa = hasInfinity ? 2 ** mantissaBits - 1 : 2 ** mantissaBits - 2;
  const max = (1 + maxMantissa / 2 ** mantissaBits) * 2 ** (maxExponentField - bias);
  return Object.freeze({
    name,
    bits,
    exponentBits,
    mantissaBits,
    bias,
    max,
    minNormal: 2 ** (1 - bias),
    minSubnormal: 2 ** (1 - bias - mantissaBits),
    epsilon: 2 ** -mantissaBits,
    hasInfinity,
    infinityBits: hasInfinity ? topExponent * 2 ** mantissaBits : null,
    nanBits: hasInfinity ? topExponent * 2 ** mantissaBits + 2 ** (mantissaBits - 1) : 2 ** (bits - 1) - 1,
    maxBits: maxExponentField * 2 ** mantissaBits + maxMantissa,
  });
}

/**
 * Every format's parameters and limits. float16 max 65504, bfloat16 max ≈ 3.39e38, fp8e4m3 (OCP E4M3FN,
 * no infinities, NaN = S.1111.111) max 448, fp8e5m2 max 57344.
 */
export const FORMATS: Readonly<Record<FormatName, FormatInfo>> = Object.freeze({
  float32: info('float32', 8, 23, true),
  float16: info('float16', 5, 10, true),
  bfloat16: info('bfloat16', 8, 7, true),
  fp8e4m3: info('fp8e4m3', 4, 3, false),
  fp8e5m2: info('fp8e5m2', 5, 2, true),
});

/** The format names, in order of width. */
export const FORMAT_NAMES: readonly FormatName[] = ['float32', 'float16', 'bfloat16', 'fp8e4m3', 'fp8e5m2'];
