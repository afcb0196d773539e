/**
 * Exact scalar conversions between float32 and float16 (IEEE 754 binary16), bfloat16 and the OCP fp8 formats
 * E4M3FN and E5M2 (Micikevicius et al. 2022), rounding to nearest even, as numpy float16 and ml_dtypes do:
 * subnormals are produced and read, signed zeros kept, overflow goes to ±inf (E5M2, float16, bfloat16) or to
 * NaN (E4M3FN has no infinities), unless `saturate` clamps it to ±max, as fp8 training recipes do.
 *
 * The `*Bits` helpers on raw float32 patterns (uint32 as a number) are the TypeScript fallback of the bulk
 * conversions and the reference the WebAssembly kernels are tested against, bit for bit.
 */
import { argumentMessage, assertKnownOptions, ValueError } from '@lab/tensor';
import { FORMATS, type FormatName } from './formats.js';

/** Options of the fp8 encoders. */
export interface Fp8Options {
  /**
   * Clamp values beyond the format's range (including ±inf) to ±max instead of overflowing to NaN (E4M3FN)
   * or ±inf (E5M2). NaN stays NaN. Default false, as ml_dtypes.
   */
  saturate?: boolean;
}

const scratch32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratch32.buffer);
const scratch64 = new Float64Array(1);
const scratchHi = new Uint32Array(scratch64.buffer);
// Index of the high 32 bits of a float64 in its two uint32 halves (1 on little-endian machines).
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** The float32 bit pattern of `x` rounded to float32 (as a non-negative number). */
export function float32Bits(x: number): number {
  scratch32[0] = x;
  return scratchU32[0]!;
}

/** The float32 value of a bit pattern (NaN payloads are not kept by JS numbers). */
export function float32FromBits(bits: number): number {
  scratchU32[0] = bits;
  return scratch32[0]!;
}

/** Rounds `value · 2^-shift` to nearest even, in int32 arithmetic (0 <= value < 2^31, 1 <= shift <= 30). */
function shiftRoundEven(value: number, shift: number): number {
  const q = value >>> shift;
  const rem = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

// ----------------------------------------------------------------------------------------------------------
// float16

/** float32 pattern → float16 pattern, round to nearest even. NaN → sign | 0x7e00. */
export function f32BitsToF16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00; // >= 65520 (inf, or rounds past 65504)
  if (a >= 0x38800000) {
    // normal: rebias the exponent (127 → 15), round the 13 dropped bits to nearest even
    return sign | ((a - 0x38000000 + 0x0fff + ((a >>> 13) & 1)) >>> 13);
  }
  if (a <= 0x33000000) return sign; // <= 2^-25: rounds to zero (2^-25 is a tie, to even 0)
  // subnormal: value = m · 2^(e - 150), in units of 2^-24
  const e = a >>> 23;
  const m = (a & 0x7fffff) | 0x800000;
  return sign | shiftRoundEven(m, 126 - e);
}

/** float16 pattern → float32 pattern (exact; NaN payloads kept, as numpy). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return (sign | 0x7f800000 | (m << 13)) >>> 0;
  if (e !== 0) return (sign | ((e + 112) << 23) | (m << 13)) >>> 0;
  if (m === 0) return sign >>> 0;
  // subnormal m · 2^-24: normalise
  const lead = 31 - Math.clz32(m); // 0..9
  return (sign | ((lead + 103) << 23) | ((m << (23 - lead)) & 0x7fffff)) >>> 0;
}

// ----------------------------------------------------------------------------------------------------------
// bfloat16

/** float32 pattern → bfloat16 pattern, round to nearest even. NaN → its top bits with the quiet bit set. */
export function f32BitsToBf16Bits(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) / 65536) >>> 0; // u + 0x8000 <= 0xff807fff: no wrap, exact in double
}

/** bfloat16 pattern → float32 pattern (exact). */
export function bf16BitsToF32Bits(h: number): number {
  return (h << 16) >>> 0;
}

// ----------------------------------------------------------------------------------------------------------
// fp8

interface Fp8Layout {
  mantissaBits: number;
  bias: number;
  hasInfinity: boolean;
  maxBits: number;
  nanBits: number;
}

const E4M3: Fp8Layout = { mantissaBits: 3, bias: 7, hasInfinity: false, maxBits: 0x7e, nanBits: 0x7f };
const E5M2: Fp8Layout = { mantissaBits: 2, bias: 15, hasInfinity: true, maxBits: 0x7b, nanBits: 0x7e };

function f32BitsToFp8(u: number, layout: Fp8Layout, saturate: boolean): number {
  const { mantissaBits, bias, hasInfinity, maxBits, nanBits } = layout;
  const sign = (u >>> 24) & 0x80;
  const a = u & 0x7fffffff;
  const overflow = saturate ? maxBits : hasInfinity ? maxBits + 1 : nanBits;
  if (a > 0x7f800000) return sign | nanBits;
  if (a === 0x7f800000) return sign | overflow;
  const shift = 23 - mantissaBits;
  const minNormalBits = (128 - bias) << 23; // exponent field of 2^(1 - bias)
  if (a >= minNormalBits) {
    const r = shiftRoundEven(a - ((127 - bias) << 23), shift);
    return sign | (r > maxBits ? overflow : r);
  }
  // subnormal result: value = m · 2^(max(e, 1) - 150), in units of 2^(1 - bias - mantissaBits)
  const e = a >>> 23;
  const m = e === 0 ? a : (a & 0x7fffff) | 0x800000;
  const unitShift = 150 - Math.max(e, 1) + 1 - bias - mantissaBits;
  if (unitShift > 25) return sign; // below half a unit
  return sign | shiftRoundEven(m, unitShift);
}

/** float32 pattern → E4M3FN pattern, round to nearest even; overflow → NaN (0x7f), or ±448 when saturating. */
export function f32BitsToE4m3Bits(u: number, saturate = false): number {
  return f32BitsToFp8(u, E4M3, saturate);
}

/** float32 pattern → E5M2 pattern, round to nearest even; overflow → ±inf, or ±57344 when saturating. */
export function f32BitsToE5m2Bits(u: number, saturate = false): number {
  return f32BitsToFp8(u, E5M2, saturate);
}

/** E4M3FN pattern → float32 pattern (exact; S.1111.111 → the quiet NaN with that sign). */
export function e4m3BitsToF32Bits(b: number): number {
  const sign = (b & 0x80) << 24;
  const e = (b >>> 3) & 0xf;
  const m = b & 7;
  if ((b & 0x7f) === 0x7f) return (sign | 0x7fc00000) >>> 0;
  if (e !== 0) return (sign | ((e + 120) << 23) | (m << 20)) >>> 0;
  if (m === 0) return sign >>> 0;
  const lead = 31 - Math.clz32(m); // 0..2: value m · 2^-9
  return (sign | ((lead + 118) << 23) | ((m << (23 - lead)) & 0x7fffff)) >>> 0;
}

/** E5M2 pattern → float32 pattern (exact): E5M2 is the top byte of a float16 pattern. */
export function e5m2BitsToF32Bits(b: number): number {
  return f16BitsToF32Bits((b & 0xff) << 8);
}

// ----------------------------------------------------------------------------------------------------------
// Public scalar API (numbers in, numbers out).

function checkNumber(fn: string, x: unknown): asserts x is number {
  if (typeof x !== 'number') throw new ValueError(argumentMessage(fn, 'x', 'a number', typeof x));
}

function checkBits(fn: string, bits: unknown, width: number): asserts bits is number {
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 0 || bits >= 2 ** width) {
    throw new ValueError(
      argumentMessage(fn, 'bits', `an integer bit pattern in [0, ${2 ** width - 1}]`, String(bits)),
    );
  }
}

export function saturateOption(fn: string, options: Fp8Options | undefined): boolean {
  assertKnownOptions(fn, options, ['saturate']);
  const saturate = options?.saturate ?? false;
  if (typeof saturate !== 'boolean') {
    throw new ValueError(argumentMessage(fn, 'options.saturate', 'a boolean', String(saturate)));
  }
  return saturate;
}

/** The float16 bit pattern of `x` (rounded to float32 first, then to float16, nearest even, as numpy). */
export function float32ToFloat16Bits(x: number): number {
  checkNumber('precision.float32ToFloat16Bits', x);
  return f32BitsToF16Bits(float32Bits(x));
}

/** The value of a float16 bit pattern. */
export function float16BitsToFloat32(bits: number): number {
  checkBits('precision.float16BitsToFloat32', bits, 16);
  return float32FromBits(f16BitsToF32Bits(bits));
}

/** The bfloat16 bit pattern of `x` (rounded to float32 first, then to bfloat16, nearest even, as ml_dtypes). */
export function float32ToBfloat16Bits(x: number): number {
  checkNumber('precision.float32ToBfloat16Bits', x);
  return f32BitsToBf16Bits(float32Bits(x));
}

/** The value of a bfloat16 bit pattern. */
export function bfloat16BitsToFloat32(bits: number): number {
  checkBits('precision.bfloat16BitsToFloat32', bits, 16);
  return float32FromBits(bf16BitsToF32Bits(bits));
}

/** The OCP E4M3FN bit pattern of `x` (via float32, nearest even; ml_dtypes float8_e4m3fn unless saturating). */
export function float32ToFp8E4M3Bits(x: number, options?: Fp8Options): number {
  checkNumber('precision.float32ToFp8E4M3Bits', x);
  return f32BitsToE4m3Bits(float32Bits(x), saturateOption('precision.float32ToFp8E4M3Bits', options));
}

/** The value of an OCP E4M3FN bit pattern. */
export function fp8E4M3BitsToFloat32(bits: number): number {
  checkBits('precision.fp8E4M3BitsToFloat32', bits, 8);
  return float32FromBits(e4m3BitsToF32Bits(bits));
}

/** The OCP E5M2 bit pattern of `x` (via float32, nearest even; ml_dtypes float8_e5m2 unless saturating). */
export function float32ToFp8E5M2Bits(x: number, options?: Fp8Options): number {
  checkNumber('precision.float32ToFp8E5M2Bits', x);
  return f32BitsToE5m2Bits(float32Bits(x), saturateOption('precision.float32ToFp8E5M2Bits', options));
}

/** The value of an OCP E5M2 bit pattern. */
export function fp8E5M2BitsToFloat32(bits: number): number {
  checkBits('precision.fp8E5M2BitsToFloat32', bits, 8);
  return float32FromBits(e5m2BitsToF32Bits(bits));
}

// ----------------------------------------------------------------------------------------------------------
// Single rounding from float64.

/** floor(log2 |x|) of a positive normal float64, read from its bits (exact, unlike Math.log2). */
function exponentOf(a: number): number {
  scratch64[0] = a;
  const e = ((scratchHi[HI]! >>> 20) & 0x7ff) - 1023;
  if (e !== -1023) return e;
  scratch64[0] = a * 2 ** 64; // float64 subnormal
  return ((scratchHi[HI]! >>> 20) & 0x7ff) - 1023 - 64;
}

/**
 * Rounds a float64 to the nearest value of `format` (nearest even) in one step, and returns it as a number:
 * no double rounding through float32. Overflow gives ±inf, NaN for fp8e4m3, or ±max with `saturate`.
 * `roundToFormat(x, 'float32')` is `Math.fround(x)`; `roundToFormat(x, 'float16')` is `f16round(x)`.
 */
export function roundToFormat(x: number, format: FormatName, options?: Fp8Options): number {
  const fn = 'precision.roundToFormat';
  checkNumber(fn, x);
  const info = FORMATS[format];
  if (!info) throw new ValueError(argumentMessage(fn, 'format', `one of ${Object.keys(FORMATS).join(', ')}`, String(format)));
  const saturate = saturateOption(fn, options);
  if (Number.isNaN(x)) return Number.NaN;
  const negative = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  const overflow = saturate ? info.max : info.hasInfinity ? Number.POSITIVE_INFINITY : Number.NaN;
  let r: number;
  if (a === Number.POSITIVE_INFINITY) r = overflow;
  else {
    const quantum = a < info.minNormal ? info.minSubnormal : 2 ** (exponentOf(a) - info.mantissaBits);
    const y = a / quantum; // exact: a power-of-two scaling, y < 2^(mantissaBits + 1)
    let q = Math.floor(y);
    const d = y - q;
    if (d > 0.5 || (d === 0.5 && q % 2 === 1)) q += 1;
    r = q * quantum;
    if (r > info.max) r = overflow;
  }
  return negative ? -r : r;
}

/**
 * `x` rounded to the nearest float16 value, in one rounding from float64: the ES2025 `Math.f16round`.
 * (Rounding through float32 first would be wrong for values near a float16 tie.)
 */
export function f16round(x: number): number {
  return roundToFormat(x, 'float16');
}
