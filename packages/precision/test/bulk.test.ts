import { afterAll, describe, expect, it } from 'vitest';
import { setForceKernelFallback, useWasmKernels } from '@lab/tensor';
import { decodeFallback, decodeWasm, encodeFallback, encodeWasm, type Narrow, roundWasm } from '../src/kernels/convert.js';
import { fromFp8E4M3, fromFp8E5M2, toFloat16, toFp8E4M3 } from '../src/index.js';

/**
 * 2^24 float32 patterns: the top 24 bits run through every value (every sign, every exponent, the top 15
 * mantissa bits) and the low 8 bits are hashed, so ties and near-ties of every format occur in every binade.
 * Special values (±0, ±inf, NaNs, extremes, format boundaries) are appended.
 */
function inputs(): Float32Array {
  const n = 1 << 24;
  const specials = [
    0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fffffff, 0xffffffff,
    1, 0x80000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x477fe000, 0x477ff000, 0x477fefff, 0x33000000,
    0x33000001, 0x43e80000, 0x43e80001, 0x47700000, 0x476fffff, 0x3a800000, 0x3b000000,
  ];
  const bits = new Uint32Array(n + specials.length);
  for (let i = 0; i < n; i++) {
    let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b);
    h ^= h >>> 13;
    bits[i] = ((i << 8) | (h & 0xff)) >>> 0;
  }
  bits.set(specials, n);
  return new Float32Array(bits.buffer);
}

function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('WebAssembly SIMD kernels = scalar TypeScript, bit for bit', () => {
  it('runs the SIMD path here', () => {
    expect(useWasmKernels()).toBe(true);
  });

  const src = inputs();
  const kinds: [Narrow, boolean][] = [
    ['f16', false],
    ['bf16', false],
    ['e4m3', false],
    ['e4m3', true],
    ['e5m2', false],
    ['e5m2', true],
  ];
  for (const [kind, saturate] of kinds) {
    // Saturation only changes overflow: every 4th input (all exponents still) is enough there.
    const input = saturate ? new Float32Array(src.length >> 2).map((_, i) => src[4 * i + (i & 3)]!) : src;
    it(`encodes ${input.length} float32 values to ${kind}${saturate ? ' (saturating)' : ''}`, () => {
      const make = () => (kind === 'f16' || kind === 'bf16' ? new Uint16Array(input.length) : new Uint8Array(input.length));
      const simd = make();
      const scalar = make();
      encodeWasm(kind, input, simd, saturate);
      encodeFallback(kind, input, scalar, saturate);
      const at = firstMismatch(simd, scalar);
      expect(at === -1 ? 'all equal' : `0x${new Uint32Array(input.buffer)[at]!.toString(16)}: simd ${simd[at]} scalar ${scalar[at]}`).toBe('all equal');
    });
  }

  it('rounds in one pass (fake quantization) exactly as encode + decode, every format, in place too', () => {
    // 2^20 of the inputs (every exponent still), to keep the test short.
    const input = new Float32Array(src.length >> 4).map((_, i) => src[16 * i + (i & 15)]!);
    for (const [kind, saturate] of kinds) {
      const packed = kind === 'f16' || kind === 'bf16' ? new Uint16Array(input.length) : new Uint8Array(input.length);
      encodeFallback(kind, input, packed, saturate);
      const reference = new Float32Array(input.length);
      decodeFallback(kind, packed, reference);
      const fused = new Float32Array(input.length);
      roundWasm(kind, input, fused, saturate);
      expect(firstMismatch(new Uint32Array(fused.buffer), new Uint32Array(reference.buffer))).toBe(-1);
      const inPlace = input.slice(0, 1000);
      roundWasm(kind, inPlace, inPlace, saturate);
      expect(firstMismatch(new Uint32Array(inPlace.buffer), new Uint32Array(reference.buffer, 0, 1000))).toBe(-1);
    }
  });

  it('decodes every float16, bfloat16 and fp8 pattern like the scalar decoders (NaN payloads included)', () => {
    const all16 = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const all8 = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const kind of ['f16', 'bf16', 'e4m3', 'e5m2'] as const) {
      const src16 = kind === 'f16' || kind === 'bf16' ? all16 : all8;
      // Repeat the patterns so that the chunked path and the unaligned tail are both exercised.
      const repeated = new (src16.constructor as Uint16ArrayConstructor)(src16.length * 3 + 7);
      for (let i = 0; i < repeated.length; i++) repeated[i] = src16[i % src16.length]!;
      const simd = new Float32Array(repeated.length);
      const scalar = new Float32Array(repeated.length);
      decodeWasm(kind, repeated, simd);
      decodeFallback(kind, repeated, scalar);
      expect(firstMismatch(new Uint32Array(simd.buffer), new Uint32Array(scalar.buffer))).toBe(-1);
    }
  });

  it('handles lengths that are not multiples of the SIMD block, and offsets into shared buffers', () => {
    const buffer = new Float32Array(1000);
    for (let i = 0; i < buffer.length; i++) buffer[i] = (i - 500) * 0.37;
    for (const n of [0, 1, 15, 17, 63, 64, 65, 129, 999]) {
      const view = buffer.subarray(1, 1 + n);
      const a = toFloat16(view);
      setForceKernelFallback(true);
      const b = toFloat16(view);
      setForceKernelFallback(false);
      expect(Array.from(a)).toEqual(Array.from(b));
    }
    const big = new Uint8Array(70001).map((_, i) => i & 0xff);
    expect(Array.from(fromFp8E4M3(big).subarray(69990))).toEqual(Array.from(big.subarray(69990), (b) => fromFp8E4M3(Uint8Array.of(b))[0]!));
    const dst = new Uint8Array(big.length);
    expect(toFp8E4M3(fromFp8E5M2(big), dst, { saturate: true })).toBe(dst);
  });
});

afterAll(() => setForceKernelFallback(false));
