import { afterAll, describe, expect, it } from 'vitest';
import { setForceKernelFallback, ValueError } from '@lab/tensor';
import { f16round as petamorikenF16round } from '@petamoriken/float16';
import {
  bfloat16BitsToFloat32,
  f16round,
  FORMATS,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  float32ToFp8E4M3Bits,
  float32ToFp8E5M2Bits,
  fp8E4M3BitsToFloat32,
  fp8E5M2BitsToFloat32,
  fromBfloat16,
  fromFloat16,
  roundToFormat,
  toBfloat16,
  toFloat16,
  toFp8E4M3,
  toFp8E5M2,
} from '../src/index.js';
import { fixture, isNaN32, isNaNPattern } from './helpers.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fromBits = (bits: number) => {
  u32[0] = bits;
  return f32[0]!;
};
const bitsOf = (x: number) => {
  f32[0] = x;
  return u32[0]!;
};

describe('FORMATS', () => {
  it('has the limits of each format', () => {
    expect(FORMATS.float16).toMatchObject({ bits: 16, exponentBits: 5, mantissaBits: 10, bias: 15, max: 65504 });
    expect(FORMATS.float16.minNormal).toBe(2 ** -14);
    expect(FORMATS.float16.minSubnormal).toBe(2 ** -24);
    expect(FORMATS.float16.epsilon).toBe(2 ** -10);
    expect(FORMATS.bfloat16).toMatchObject({ bits: 16, exponentBits: 8, mantissaBits: 7, bias: 127 });
    expect(FORMATS.bfloat16.max).toBe(fromBits(0x7f7f0000));
    expect(FORMATS.bfloat16.minSubnormal).toBe(2 ** -133);
    expect(FORMATS.fp8e4m3).toMatchObject({ bits: 8, bias: 7, max: 448, hasInfinity: false, nanBits: 0x7f, maxBits: 0x7e });
    expect(FORMATS.fp8e4m3.minNormal).toBe(2 ** -6);
    expect(FORMATS.fp8e4m3.minSubnormal).toBe(2 ** -9);
    expect(FORMATS.fp8e5m2).toMatchObject({ bits: 8, bias: 15, max: 57344, hasInfinity: true, infinityBits: 0x7c, maxBits: 0x7b });
    expect(FORMATS.fp8e5m2.minSubnormal).toBe(2 ** -16);
    expect(FORMATS.float32.max).toBe(fromBits(0x7f7fffff));
    expect(FORMATS.float32.minSubnormal).toBe(2 ** -149);
    // max and minSubnormal are what the decoders give for the max and smallest patterns
    expect(float16BitsToFloat32(0x7bff)).toBe(FORMATS.float16.max);
    expect(fp8E4M3BitsToFloat32(FORMATS.fp8e4m3.maxBits)).toBe(FORMATS.fp8e4m3.max);
    expect(fp8E5M2BitsToFloat32(FORMATS.fp8e5m2.maxBits)).toBe(FORMATS.fp8e5m2.max);
    expect(fp8E4M3BitsToFloat32(1)).toBe(FORMATS.fp8e4m3.minSubnormal);
    expect(bfloat16BitsToFloat32(1)).toBe(FORMATS.bfloat16.minSubnormal);
  });
});

describe('scalar conversions against numpy / ml_dtypes (every bit)', () => {
  const fx = fixture();

  it('decodes all 65 536 float16 and bfloat16 patterns', () => {
    let bad = 0;
    for (let h = 0; h < 65536; h++) {
      const f16 = float16BitsToFloat32(h);
      const ref16 = fx.f16_bits_to_f32_bits[h]!;
      if (isNaN32(ref16) ? !Number.isNaN(f16) : bitsOf(f16) !== ref16) bad++;
      const bf = bfloat16BitsToFloat32(h);
      const refBf = fx.bf16_bits_to_f32_bits[h]!;
      if (isNaN32(refBf) ? !Number.isNaN(bf) : bitsOf(bf) !== refBf) bad++;
    }
    expect(bad).toBe(0);
  });

  const cases = [
    ['float16', 'to_f16_bits', float32ToFloat16Bits, isNaNPattern.f16],
    ['bfloat16', 'to_bf16_bits', float32ToBfloat16Bits, isNaNPattern.bf16],
    ['E4M3FN', 'to_e4m3fn_bits', (x: number) => float32ToFp8E4M3Bits(x), isNaNPattern.e4m3],
    ['E5M2', 'to_e5m2_bits', (x: number) => float32ToFp8E5M2Bits(x), isNaNPattern.e5m2],
  ] as const;
  for (const [name, key, encode, isNaNOut] of cases) {
    it(`encodes all ${fx.f32_bits.length} float32 inputs to ${name}`, () => {
      const mismatches: string[] = [];
      fx.f32_bits.forEach((bits, i) => {
        const got = encode(fromBits(bits));
        const expected = fx[key][i]!;
        const ok = isNaN32(bits) ? isNaNOut(got) : isNaNOut(expected) ? isNaNOut(got) : got === expected;
        if (!ok) mismatches.push(`0x${bits.toString(16)} → 0x${got.toString(16)} (expected 0x${expected.toString(16)})`);
      });
      expect(mismatches.slice(0, 5)).toEqual([]);
    });
  }
});

describe('bulk conversions against the fixture (wasm and fallback)', () => {
  afterAll(() => setForceKernelFallback(false));
  const fx = fixture();
  for (const fallback of [false, true]) {
    it(`${fallback ? 'TypeScript fallback' : 'WebAssembly SIMD'}: every fixture bit`, () => {
      setForceKernelFallback(fallback);
      const input = new Float32Array(Uint32Array.from(fx.f32_bits).buffer);
      const checks = [
        [toFloat16(input), fx.to_f16_bits, isNaNPattern.f16],
        [toBfloat16(input), fx.to_bf16_bits, isNaNPattern.bf16],
        [toFp8E4M3(input), fx.to_e4m3fn_bits, isNaNPattern.e4m3],
        [toFp8E5M2(input), fx.to_e5m2_bits, isNaNPattern.e5m2],
      ] as const;
      for (const [got, expected, isNaNOut] of checks) {
        let bad = 0;
        for (let i = 0; i < got.length; i++) {
          const ok = isNaN32(fx.f32_bits[i]!) || isNaNOut(expected[i]!) ? isNaNOut(got[i]!) : got[i] === expected[i];
          if (!ok) bad++;
        }
        expect(bad).toBe(0);
      }
      // Decoding keeps NaN payloads, so every pattern (NaNs included) matches numpy's float32 bits.
      const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
      expect(Array.from(new Uint32Array(fromFloat16(all).buffer))).toEqual(fx.f16_bits_to_f32_bits);
      expect(Array.from(new Uint32Array(fromBfloat16(all).buffer))).toEqual(fx.bf16_bits_to_f32_bits);
      setForceKernelFallback(false);
    });
  }
});

describe('special values', () => {
  it('rounds ties to even, keeps signed zeros, overflows as the references', () => {
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65519.99)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // tie → even → inf
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0); // tie between 0 and the min subnormal → 0
    expect(float32ToFloat16Bits(1.5 * 2 ** -25)).toBe(1);
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(float32ToFloat16Bits(Number.NEGATIVE_INFINITY)).toBe(0xfc00);
    expect(float32ToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(float32ToBfloat16Bits(fromBits(0x7f7fffff))).toBe(0x7f80); // float32 max → inf
    // E4M3FN: 464 is the tie between 448 and (non-existent) 480 → 448; beyond → NaN, or 448 saturating.
    expect(float32ToFp8E4M3Bits(464)).toBe(0x7e);
    expect(float32ToFp8E4M3Bits(465)).toBe(0x7f);
    expect(float32ToFp8E4M3Bits(Number.POSITIVE_INFINITY)).toBe(0x7f);
    expect(float32ToFp8E4M3Bits(1e6, { saturate: true })).toBe(0x7e);
    expect(float32ToFp8E4M3Bits(Number.NEGATIVE_INFINITY, { saturate: true })).toBe(0xfe);
    expect(float32ToFp8E4M3Bits(Number.NaN, { saturate: true }) & 0x7f).toBe(0x7f);
    expect(float32ToFp8E4M3Bits(2 ** -10)).toBe(0); // half the min subnormal, tie → 0
    expect(float32ToFp8E4M3Bits(3 * 2 ** -10)).toBe(2); // 1.5 units, tie → even 2
    // E5M2: 61440 is the tie between 57344 and 65536 (inf) → even → inf.
    expect(float32ToFp8E5M2Bits(61439)).toBe(0x7b);
    expect(float32ToFp8E5M2Bits(61440)).toBe(0x7c);
    expect(float32ToFp8E5M2Bits(61440, { saturate: true })).toBe(0x7b);
    expect(float32ToFp8E5M2Bits(Number.POSITIVE_INFINITY, { saturate: true })).toBe(0x7b);
    expect(float32ToFp8E5M2Bits(-0)).toBe(0x80);
    expect(fp8E5M2BitsToFloat32(0x7c)).toBe(Number.POSITIVE_INFINITY);
    expect(fp8E5M2BitsToFloat32(0xfc)).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(fp8E4M3BitsToFloat32(0xff))).toBe(true);
    expect(fp8E4M3BitsToFloat32(0x80)).toBe(-0);
    expect(Object.is(fp8E4M3BitsToFloat32(0x80), -0)).toBe(true);
  });

  it('every fp8 pattern decodes and re-encodes to itself (non-NaN)', () => {
    for (let b = 0; b < 256; b++) {
      const x = fp8E4M3BitsToFloat32(b);
      if (!Number.isNaN(x)) expect(float32ToFp8E4M3Bits(x)).toBe(b);
      const y = fp8E5M2BitsToFloat32(b);
      if (!Number.isNaN(y)) expect(float32ToFp8E5M2Bits(y)).toBe(b);
    }
  });
});

describe('f16round and roundToFormat (single rounding from float64)', () => {
  it('avoids double rounding through float32', () => {
    // 1 + 2^-11 + 2^-30 is just above a float16 tie; float32 rounds it onto the tie, which then goes to even.
    const x = 1 + 2 ** -11 + 2 ** -30;
    expect(Math.fround(x)).toBe(1 + 2 ** -11);
    expect(f16round(x)).toBe(1 + 2 ** -10);
    expect(float16BitsToFloat32(float32ToFloat16Bits(x))).toBe(1); // the float32 path, as documented
    expect(f16round(65519.999)).toBe(65504);
    expect(f16round(65520)).toBe(Number.POSITIVE_INFINITY);
    expect(Object.is(f16round(-1e-30), -0)).toBe(true);
    expect(Number.isNaN(f16round(Number.NaN))).toBe(true);
  });

  it('matches Math.fround for float32 and @petamoriken/float16 f16round on random doubles', () => {
    let state = 12345;
    const random = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 2 ** 32;
    };
    for (let i = 0; i < 20000; i++) {
      const x = (random() - 0.5) * 2 ** Math.floor(random() * 80 - 40);
      expect(roundToFormat(x, 'float32')).toBe(Math.fround(x));
      expect(f16round(x)).toBe(petamorikenF16round(x));
    }
    for (const x of [2 ** -200, 1e300, -3.4028235677973366e38, 2 ** -149 * 0.5, 2 ** -149 * 0.75]) {
      expect(roundToFormat(x, 'float32')).toBe(Math.fround(x));
    }
  });

  it('agrees with the float32 path on float32 inputs for every format', () => {
    const fx = fixture();
    for (const bits of fx.f32_bits.slice(0, 5000)) {
      const x = fromBits(bits);
      if (Number.isNaN(x)) continue;
      expect(roundToFormat(x, 'bfloat16')).toBe(bfloat16BitsToFloat32(float32ToBfloat16Bits(x)));
      const e4 = fp8E4M3BitsToFloat32(float32ToFp8E4M3Bits(x, { saturate: true }));
      expect(roundToFormat(x, 'fp8e4m3', { saturate: true })).toBe(e4);
      expect(roundToFormat(x, 'fp8e5m2')).toBe(fp8E5M2BitsToFloat32(float32ToFp8E5M2Bits(x)));
    }
  });
});

describe('bad input', () => {
  it('names the function and the argument', () => {
    expect(() => float16BitsToFloat32(70000)).toThrow(/precision\.float16BitsToFloat32: bits must be an integer bit pattern in \[0, 65535\], got 70000/);
    expect(() => fp8E4M3BitsToFloat32(1.5)).toThrow(ValueError);
    expect(() => float32ToFloat16Bits('1' as unknown as number)).toThrow(/precision\.float32ToFloat16Bits: x must be a number/);
    expect(() => float32ToFp8E4M3Bits(1, { saturated: true } as never)).toThrow(/unknown option "saturated"/);
    expect(() => toFloat16([1, 2] as unknown as Float32Array)).toThrow(/precision\.toFloat16: src must be a Float32Array, got an Array\(2\)/);
    expect(() => toFloat16(new Float32Array(4), new Uint16Array(3))).toThrow(/precision\.toFloat16: dst must be a Uint16Array of length 4 \(src\.length\), got length 3/);
    expect(() => fromFloat16(new Uint8Array(4) as unknown as Uint16Array)).toThrow(/src must be a Uint16Array, got Uint8Array\(4\)/);
    expect(() => roundToFormat(1, 'float8' as never)).toThrow(/precision\.roundToFormat: format must be one of/);
  });
});
