/**
 * Bulk conversions between float32 arrays and IEEE 754 binary16, bfloat16 and OCP fp8 storage (E4M3FN, E5M2;
 * Micikevicius et al. 2022), round to nearest even, bit-exact with the scalar functions: WebAssembly SIMD
 * kernels (throughput measured in the README) with a plain TypeScript fallback where SIMD is missing.
 *
 * src: [n] → dst: [n]; `dst` is written in place when given (same length), else allocated.
 */
import { argumentMessage, ValueError } from '@lab/tensor';
import { decodeHost, encodeHost, type Narrow, roundHostArray } from './kernels/convert.js';
import type { FormatName } from './formats.js';
import { type Fp8Options, saturateOption } from './scalar.js';

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<number>).length})`;
  if (Array.isArray(value)) return `an Array(${value.length})`;
  return typeof value;
}

function checkArray<T>(fn: string, arg: string, value: unknown, type: new (n: number) => T, name: string): asserts value is T {
  if (!(value instanceof type)) throw new ValueError(argumentMessage(fn, arg, `a ${name}`, describe(value)));
}

function output<T extends Uint16Array | Uint8Array | Float32Array>(
  fn: string,
  dst: unknown,
  n: number,
  type: new (n: number) => T,
  name: string,
): T {
  if (dst === undefined) return new type(n);
  checkArray(fn, 'dst', dst, type, name);
  const length = (dst as unknown as ArrayLike<number>).length;
  if (length !== n) throw new ValueError(argumentMessage(fn, 'dst', `a ${name} of length ${n} (src.length)`, `length ${length}`));
  return dst;
}

function encode<T extends Uint16Array | Uint8Array>(
  fn: string,
  kind: Narrow,
  src: unknown,
  dst: unknown,
  type: new (n: number) => T,
  name: string,
  saturate = false,
): T {
  checkArray(fn, 'src', src, Float32Array, 'Float32Array');
  const out = output(fn, dst, src.length, type, name);
  encodeHost(kind, src, out, saturate);
  return out;
}

function decode(fn: string, kind: Narrow, src: unknown, dst: unknown, type: new (n: number) => Uint16Array | Uint8Array, name: string): Float32Array {
  checkArray(fn, 'src', src, type, name);
  const out = output(fn, dst, src.length, Float32Array, 'Float32Array');
  decodeHost(kind, src, out);
  return out;
}

/** float32 → float16 bit patterns (nearest even; as numpy `astype(float16)`). */
export function toFloat16(src: Float32Array, dst?: Uint16Array): Uint16Array {
  return encode('precision.toFloat16', 'f16', src, dst, Uint16Array, 'Uint16Array');
}

/** float16 bit patterns → float32 (exact; NaN payloads kept). */
export function fromFloat16(src: Uint16Array, dst?: Float32Array): Float32Array {
  return decode('precision.fromFloat16', 'f16', src, dst, Uint16Array, 'Uint16Array');
}

/** float32 → bfloat16 bit patterns (nearest even; as ml_dtypes bfloat16). */
export function toBfloat16(src: Float32Array, dst?: Uint16Array): Uint16Array {
  return encode('precision.toBfloat16', 'bf16', src, dst, Uint16Array, 'Uint16Array');
}

/** bfloat16 bit patterns → float32 (exact). */
export function fromBfloat16(src: Uint16Array, dst?: Float32Array): Float32Array {
  return decode('precision.fromBfloat16', 'bf16', src, dst, Uint16Array, 'Uint16Array');
}

/** float32 → OCP E4M3FN bit patterns (nearest even; overflow → NaN, or ±448 with `saturate`). */
export function toFp8E4M3(src: Float32Array, dst?: Uint8Array, options?: Fp8Options): Uint8Array {
  const saturate = saturateOption('precision.toFp8E4M3', options);
  return encode('precision.toFp8E4M3', 'e4m3', src, dst, Uint8Array, 'Uint8Array', saturate);
}

/** OCP E4M3FN bit patterns → float32 (exact). */
export function fromFp8E4M3(src: Uint8Array, dst?: Float32Array): Float32Array {
  return decode('precision.fromFp8E4M3', 'e4m3', src, dst, Uint8Array, 'Uint8Array');
}

/** float32 → OCP E5M2 bit patterns (nearest even; overflow → ±inf, or ±57344 with `saturate`). */
export function toFp8E5M2(src: Float32Array, dst?: Uint8Array, options?: Fp8Options): Uint8Array {
  const saturate = saturateOption('precision.toFp8E5M2', options);
  return encode('precision.toFp8E5M2', 'e5m2', src, dst, Uint8Array, 'Uint8Array', saturate);
}

/** OCP E5M2 bit patterns → float32 (exact). */
export function fromFp8E5M2(src: Uint8Array, dst?: Float32Array): Float32Array {
  return decode('precision.fromFp8E5M2', 'e5m2', src, dst, Uint8Array, 'Uint8Array');
}

const ROUND_KIND: Record<Exclude<FormatName, 'float32'>, Narrow> = {
  float16: 'f16',
  bfloat16: 'bf16',
  fp8e4m3: 'e4m3',
  fp8e5m2: 'e5m2',
};

/**
 * Rounds every value of a float32 array to the nearest value of `format` (nearest even) and writes it back
 * as float32 (one SIMD pass): the bulk `Math.f16round` on float32 input, and the host side of `quantize`.
 *
 * src: [n] → dst: [n] (may be `src` itself).
 */
export function roundArray(src: Float32Array, format: FormatName, dst?: Float32Array, options?: Fp8Options): Float32Array {
  const fn = 'precision.roundArray';
  checkArray(fn, 'src', src, Float32Array, 'Float32Array');
  if (!['float32', 'float16', 'bfloat16', 'fp8e4m3', 'fp8e5m2'].includes(format)) {
    throw new ValueError(argumentMessage(fn, 'format', '"float32", "float16", "bfloat16", "fp8e4m3" or "fp8e5m2"', String(format)));
  }
  const saturate = saturateOption(fn, options);
  const out = output(fn, dst, src.length, Float32Array, 'Float32Array');
  if (format === 'float32') {
    if (out !== src) out.set(src);
    return out;
  }
  roundHostArray(ROUND_KIND[format], src, out, saturate);
  return out;
}
