// WebAssembly SIMD kernels of @lab/precision: bulk conversions between float32 and float16, bfloat16 and the
// two OCP fp8 formats, bit-exact with the scalar functions of src/scalar.ts (round to nearest even).
// Conventions (see packages/tensor/assembly/index.ts): arguments are byte offsets and sizes; no allocation.
// Every kernel converts whole blocks of 16 values, ceil(n / 16) of them: the caller allocates its buffers
// rounded up to 16 values and ignores the padding. Kernels take (part, parts) last and convert their share.

function blockRange(n: i32, part: i32, parts: i32): i64 {
  const blocks = (n + 15) >> 4;
  const start = (<i64>blocks * part) / parts;
  const end = (<i64>blocks * (part + 1)) / parts;
  return (start << 32) | end;
}

// ---------------------------------------------------------------------------------------------------------
// float32 -> float16. Four lanes of float32 bits in, four float16 patterns (in the low 16 bits) out.
// Rounding is done by the FPU: |x| is scaled by 4 (exactly, or to +inf past the float16 range) and added to
// a power of two whose ulp is one float16 ulp of x (never below 2^-24, which handles subnormals), so the sum
// is x rounded to nearest even; the float16 exponent and mantissa are then read off the sum's bits.
// V8 does not hoist v128 constants out of loops and rebuilds each one at every use; kernels therefore make
// their constants once, before the loop, from `opaque` (0 at run time, unknown to the optimiser), and pass
// them to the lane functions (small, so binaryen -O3 inlines them; no @inline decorator, which biome rejects).
function opaque(n: i32): i32 {
  return n >> 31; // n >= 0
}

function splat(value: i32, zero: i32): v128 {
  return i32x4.splat(value | zero);
}

function f32ToF16x4(u: v128, absMask: v128, expMask: v128, scaleUp: v128, scaleDown: v128, minExp: v128, rebias: v128, e16Mask: v128, m16Mask: v128, inf32: v128, nan16: v128): v128 {
  const abs = v128.and(u, absMask);
  const sign = i32x4.shr_u(v128.andnot(u, absMask), 16);
  const scaled = f32x4.mul(f32x4.mul(abs, scaleUp), scaleDown); // ·2^112·2^-110: 4|x|, or +inf past the range
  // 2^(e + 15), with e = max(exponent of x, -14): its ulp is the float16 ulp of x, times 4.
  const magic = i32x4.add(i32x4.max_u(v128.and(abs, expMask), minExp), rebias);
  const sum = f32x4.add(magic, scaled);
  const bits = i32x4.add(v128.and(i32x4.shr_u(sum, 13), e16Mask), v128.and(sum, m16Mask));
  return v128.or(sign, v128.bitselect(nan16, bits, i32x4.gt_s(abs, inf32)));
}

export function f32_to_f16(src: usize, dst: usize, n: i32, part: i32, parts: i32): void {
  const range = blockRange(n, part, parts);
  const end = <i32>(range & 0xffffffff);
  const z = opaque(n);
  const absMask = splat(0x7fffffff, z);
  const expMask = splat(0x7f800000, z);
  const scaleUp = splat(0x77800000, z); // 2^112
  const scaleDown = splat(0x08800000, z); // 2^-110
  const minExp = splat(0x38800000, z);
  const rebias = splat(0x07800000, z);
  const e16Mask = splat(0x7c00, z);
  const m16Mask = splat(0x0fff, z);
  const nan16 = splat(0x7e00, z);
  for (let b = <i32>(range >> 32); b < end; b++) {
    const s = src + (<usize>b << 6);
    const d = dst + (<usize>b << 5);
    const r0 = f32ToF16x4(v128.load(s), absMask, expMask, scaleUp, scaleDown, minExp, rebias, e16Mask, m16Mask, expMask, nan16);
    const r1 = f32ToF16x4(v128.load(s, 16), absMask, expMask, scaleUp, scaleDown, minExp, rebias, e16Mask, m16Mask, expMask, nan16);
    const r2 = f32ToF16x4(v128.load(s, 32), absMask, expMask, scaleUp, scaleDown, minExp, rebias, e16Mask, m16Mask, expMask, nan16);
    const r3 = f32ToF16x4(v128.load(s, 48), absMask, expMask, scaleUp, scaleDown, minExp, rebias, e16Mask, m16Mask, expMask, nan16);
    v128.store(d, i16x8.narrow_i32x4_u(r0, r1));
    v128.store(d, i16x8.narrow_i32x4_u(r2, r3), 16);
  }
}

// float16 -> float32 (exact): the exponent is rebiased by adding 112 << 23 (once more for inf/NaN, which keeps
// the NaN payload); subnormals are made normal with an implicit bit and the bias 2^-14 subtracted in float.
function f16ToF32x4(h: v128, magnitudeMask: v128, expMask: v128, rebias: v128, implicit: v128, minNormal: v128, signMask: v128): v128 {
  const shifted = i32x4.shl(v128.and(h, magnitudeMask), 13);
  const exponent = v128.and(shifted, expMask);
  const normal = i32x4.add(shifted, rebias);
  const special = i32x4.add(normal, rebias);
  const subnormal = f32x4.sub(i32x4.add(normal, implicit), minNormal);
  let out = v128.bitselect(special, normal, i32x4.eq(exponent, expMask));
  out = v128.bitselect(subnormal, out, i32x4.eq(exponent, i32x4.splat(0)));
  return v128.or(out, i32x4.shl(v128.and(h, signMask), 16));
}

export function f16_to_f32(src: usize, dst: usize, n: i32, part: i32, parts: i32): void {
  const range = blockRange(n, part, parts);
  const end = <i32>(range & 0xffffffff);
  const z = opaque(n);
  const m = splat(0x7fff, z);
  const e = splat(0x0f800000, z);
  const r = splat(0x38000000, z);
  const i = splat(0x00800000, z);
  const mn = splat(0x38800000, z); // 2^-14
  const sg = splat(0x8000, z);
  for (let b = <i32>(range >> 32); b < end; b++) {
    const s = src + (<usize>b << 5);
    const d = dst + (<usize>b << 6);
    v128.store(d, f16ToF32x4(v128.load16x4_u(s), m, e, r, i, mn, sg));
    v128.store(d, f16ToF32x4(v128.load16x4_u(s, 8), m, e, r, i, mn, sg), 16);
    v128.store(d, f16ToF32x4(v128.load16x4_u(s, 16), m, e, r, i, mn, sg), 32);
    v128.store(d, f16ToF32x4(v128.load16x4_u(s, 24), m, e, r, i, mn, sg), 48);
  }
}

// ---------------------------------------------------------------------------------------------------------
// float32 -> bfloat16: the top 16 bits, rounded to nearest even by adding 0x7fff plus the lowest kept bit;
// NaN keeps its top bits with the quiet bit set.
function f32ToBf16x4(u: v128, one: v128, half: v128, quietBit: v128, absMask: v128, inf32: v128): v128 {
  const top = i32x4.shr_u(u, 16);
  const rounded = i32x4.shr_u(i32x4.add(i32x4.add(u, half), v128.and(top, one)), 16);
  const nan = i32x4.gt_u(v128.and(u, absMask), inf32);
  return v128.bitselect(v128.or(top, quietBit), rounded, nan);
}

export function f32_to_bf16(src: usize, dst: usize, n: i32, part: i32, parts: i32): void {
  const range = blockRange(n, part, parts);
  const end = <i32>(range & 0xffffffff);
  const z = opaque(n);
  const one = splat(1, z);
  const half = splat(0x7fff, z);
  const quietBit = splat(0x40, z);
  const absMask = splat(0x7fffffff, z);
  const inf32 = splat(0x7f800000, z);
  for (let b = <i32>(range >> 32); b < end; b++) {
    const s = src + (<usize>b << 6);
    const d = dst + (<usize>b << 5);
    const r0 = f32ToBf16x4(v128.load(s), one, half, quietBit, absMask, inf32);
    const r1 = f32ToBf16x4(v128.load(s, 16), one, half, quietBit, absMask, inf32);
    const r2 = f32ToBf16x4(v128.load(s, 32), one, half, quietBit, absMask, inf32);
    const r3 = f32ToBf16x4(v128.load(s, 48), one, half, quietBit, absMask, inf32);
    v128.store(d, i16x8.narrow_i32x4_u(r0, r1));
    v128.store(d, i16x8.narrow_i32x4_u(r2, r3), 16);
  }
}

// bfloat16 -> float32: the 16 bits become the top half (interleave zeros below each value).
export function bf16_to_f32(src: usize, dst: usize, n: i32, part: i32, parts: i32): void {
  const range = blockRange(n, part, parts);
  const end = <i32>(range & 0xffffffff);
  const zero = i32x4.splat(0);
  for (let b = <i32>(range >> 32); b < end; b++) {
    const s = src + (<usize>b << 5);
    const d = dst + (<usize>b << 6);
    const lo = v128.load(s);
    const hi = v128.load(s, 16);
    v128.store(d, i8x16.shuffle(zero, lo, 0, 1, 16, 17, 0, 1, 18, 19, 0, 1, 20, 21, 0, 1, 22, 23));
    v128.store(d, i8x16.shuffle(zero, lo, 0, 1, 24, 25, 0, 1, 26, 27, 0, 1, 28, 29, 0, 1, 30, 31), 16);
    v128.store(d, i8x16.shuffle(zero, hi, 0, 1, 16, 17, 0, 1, 18, 19, 0, 1, 20, 21, 0, 1, 22, 23), 32);
    v128.store(d, i8x16.shuffle(zero, hi, 0, 1, 24, 25, 0, 1, 26, 27, 0, 1, 28, 29, 0, 1, 30, 31), 48);
  }
}

// ---------------------------------------------------------------------------------------------------------
// float32 -> fp8. Normal results: the float32 pattern rebiased and rounded to nearest even in integer
// arithmetic; subnormal results (|x| below the format's min normal): |x| plus a power of two whose ulp is the
// format's min subnormal, rounded by the FPU. Overflow: to +inf (E5M2), NaN (E4M3FN) or ±max (saturate).

// One lane function for both fp8 formats; the constants (made before the loop) carry the format:
//   rebias = (127 - bias) << 23 minus the rounding half (2^(shift-1) - 1), shift = 23 - mantissaBits,
//   minNormal = pattern of 2^(1 - bias), magic = a power of two whose ulp is the min subnormal,
//   maxBits = +max pattern. Past the range (±inf included) the rebased pattern exceeds maxBits, so one compare
//   catches every overflow; NaN is selected last.
function f32ToFp8x4(
  u: v128,
  shift: i32,
  absMask: v128,
  one: v128,
  rebias: v128,
  minNormal: v128,
  magic: v128,
  maxBits: v128,
  inf32: v128,
  overflow: v128,
  nan: v128,
): v128 {
  const abs = v128.and(u, absMask);
  const sign = i32x4.shr_u(v128.andnot(u, absMask), 24);
  const lsb = v128.and(i32x4.shr_u(abs, shift), one);
  const normal = i32x4.shr_u(i32x4.add(i32x4.sub(abs, rebias), lsb), shift);
  const subnormal = i32x4.sub(f32x4.add(abs, magic), magic);
  let out = v128.bitselect(normal, subnormal, i32x4.ge_s(abs, minNormal));
  out = v128.bitselect(overflow, out, i32x4.gt_s(out, maxBits));
  out = v128.bitselect(nan, out, i32x4.gt_s(abs, inf32));
  return v128.or(out, sign);
}

// E4M3FN: bias 7, 3 mantissa bits, max 448 = 0x7e, NaN = 0x7f, no infinities (+inf -> NaN, or max).
export function f32_to_e4m3(src: usize, dst: usize, n: i32, saturate: i32, part: i32, parts: i32): void {
  const range = blockRange(n, part, parts);
  const end = <i32>(range & 0xffffffff);
  const z = opaque(n);
  const absMask = splat(0x7fffffff, z);
  const one = splat(1, z);
  const rebias = splat(0x3c000000 - 0x0007ffff, z);
  const minNormal = splat(0x3c800000, z); // 2^-6
  const magic = splat(0x46800000, z); // 2^14: ulp 2^-9
  const maxBits = splat(0x7e, z);
  const inf32 = splat(0x7f800000, z);
  const overflow = splat(saturate ? 0x7e : 0x7f, z);
  const nan = splat(0x7f, z);
  for (let b = <i32>(range >> 32); b < end; b++) {
    const s = src + (<usize>b << 6);
    const r0 = f32ToFp8x4(v128.load(s), 20, absMask, one, rebias, minNormal, magic, maxBits, inf32, overflow, nan);
    const r1 = f32ToFp8x4(v128.load(s, 16), 20, absMask, one, rebias, minNormal, magic, maxBits, inf32, overflow, nan);
    const r2 = f32ToFp8x4(v128.load(s, 32), 20, absMask, one, rebias, minNormal, magic, maxBits, inf32, overflow, nan);
    const r3 = f32ToFp8x4(v128.load(s, 48), 20, absMask, one, rebias, minNormal, magic, maxBits, inf32, overflow, nan);
    v128.store(dst + (<usize>b << 4), i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(r0, r1), i16x8.narrow_i32x4_u(r2, r3)));
  }
}

// E5M2: bias 15, 2 mantissa bits, max 57344 = 0x7b, +inf = 0x7c, NaN = 0x7e.
export function f32_to_e5m2(src: usize, dst: usize, n: i32, saturate: i32, part: i32, parts: i32): void {
  const range = blockRange(n, part, parts);
  const end = <i32>(range & 0xffffffff);
  const z = opaque(n);
  const absMask = splat(0x7fffffff, z);
  const one = splat(1, z);
  const rebias = splat(0x38000000 - 0x000fffff, z);
  const minNormal = splat(0x38800000, z); // 2^-14
  const magic = splat(0x43000000, z); // 2^7: ulp 2^-16
  const maxBits = splat(0x7b, z);
  const inf32 = splat(0x7f800000, z);
  const overflow = splat(saturate ? 0x7b : 0x7c, z);
  const nan = splat(0x7e, z);
  for (let b = <i32>(range >> 32); b < end; b++) {
    const s = src + (<usize>b << 6);
    const r0 = f32ToFp8x4(v128.load(s), 21, absMask, one, rebias, minNormal, magic, maxBits, inf32, overflow, nan);
    const r1 = f32ToFp8x4(v128.load(s, 16), 21, absMask, one, rebias, minNormal, magic, maxBits, inf32, overflow, nan);
    const r2 = f32ToFp8x4(v128.load(s, 32), 21, absMask, one, rebias, minNormal, magic, maxBits, inf32, overflow, nan);
    const r3 = f32ToFp8x4(v128.load(s, 48), 21, absMask, one, rebias, minNormal, magic, maxBits, inf32, overflow, nan);
    v128.store(dst + (<usize>b << 4), i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(r0, r1), i16x8.narrow_i32x4_u(r2, r3)));
  }
}

// E5M2 -> float32: an E5M2 pattern is the top byte of the float16 pattern with the same value.
export function e5m2_to_f32(src: usize, dst: usize, n: i32, part: i32, parts: i32): void {
  const range = blockRange(n, part, parts);
  const end = <i32>(range & 0xffffffff);
  const z = opaque(n);
  const m = splat(0x7fff, z);
  const e = splat(0x0f800000, z);
  const r = splat(0x38000000, z);
  const i = splat(0x00800000, z);
  const mn = splat(0x38800000, z); // 2^-14
  const sg = splat(0x8000, z);
  for (let b = <i32>(range >> 32); b < end; b++) {
    const s = src + (<usize>b << 4);
    const d = dst + (<usize>b << 6);
    const lo = i16x8.shl(v128.load8x8_u(s), 8);
    const hi = i16x8.shl(v128.load8x8_u(s, 8), 8);
    v128.store(d, f16ToF32x4(i32x4.extend_low_i16x8_u(lo), m, e, r, i, mn, sg));
    v128.store(d, f16ToF32x4(i32x4.extend_high_i16x8_u(lo), m, e, r, i, mn, sg), 16);
    v128.store(d, f16ToF32x4(i32x4.extend_low_i16x8_u(hi), m, e, r, i, mn, sg), 32);
    v128.store(d, f16ToF32x4(i32x4.extend_high_i16x8_u(hi), m, e, r, i, mn, sg), 48);
  }
}

// E4M3FN -> float32 (exact): rebias by 120 << 23; subnormals as in f16ToF32x4 with the bias 2^-6;
// S.1111.111 is NaN (the canonical quiet NaN with the sign).
function e4m3ToF32x4(b: v128, mask: v128, rebias: v128, implicit: v128, minNormal: v128, eight: v128, nan: v128, signMask: v128): v128 {
  const magnitude = v128.and(b, mask);
  const normal = i32x4.add(i32x4.shl(magnitude, 20), rebias);
  const subnormal = f32x4.sub(i32x4.add(normal, implicit), minNormal);
  let out = v128.bitselect(subnormal, normal, i32x4.lt_u(magnitude, eight));
  out = v128.bitselect(nan, out, i32x4.eq(magnitude, mask));
  return v128.or(out, i32x4.shl(v128.and(b, signMask), 24));
}

export function e4m3_to_f32(src: usize, dst: usize, n: i32, part: i32, parts: i32): void {
  const range = blockRange(n, part, parts);
  const end = <i32>(range & 0xffffffff);
  const z = opaque(n);
  const mask = splat(0x7f, z);
  const rebias = splat(0x3c000000, z);
  const implicit = splat(0x00800000, z);
  const minNormal = splat(0x3c800000, z); // 2^-6
  const eight = splat(8, z);
  const nan = splat(0x7fc00000, z);
  const signMask = splat(0x80, z);
  for (let b = <i32>(range >> 32); b < end; b++) {
    const s = src + (<usize>b << 4);
    const d = dst + (<usize>b << 6);
    const lo = v128.load8x8_u(s);
    const hi = v128.load8x8_u(s, 8);
    v128.store(d, e4m3ToF32x4(i32x4.extend_low_i16x8_u(lo), mask, rebias, implicit, minNormal, eight, nan, signMask));
    v128.store(d, e4m3ToF32x4(i32x4.extend_high_i16x8_u(lo), mask, rebias, implicit, minNormal, eight, nan, signMask), 16);
    v128.store(d, e4m3ToF32x4(i32x4.extend_low_i16x8_u(hi), mask, rebias, implicit, minNormal, eight, nan, signMask), 32);
    v128.store(d, e4m3ToF32x4(i32x4.extend_high_i16x8_u(hi), mask, rebias, implicit, minNormal, eight, nan, signMask), 48);
  }
}
