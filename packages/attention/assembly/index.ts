// WebAssembly SIMD kernels of @lab/attention (AssemblyScript, --runtime stub; see packages/tensor/assembly).
//
// FlashAttention (Dao et al. 2022; FlashAttention-2, Dao 2023): the forward pass walks key blocks of one
// query block with an online softmax (running max m, running sum l, output accumulator in the output rows)
// and saves only lse = m + log l; the backward pass recomputes P = exp(s - lse) block by block.
//
// Every kernel reads its arguments from a parameter block of i32 words (byte offsets, sizes, f32 bits),
// written by src/kernels/flash.ts; the indices are the P_* constants below (keep the two lists in sync).
// Layouts (row-major float32; Dp = headDim rounded up to 8 with zero padding, Sp = S rounded up to 8):
//   q, out, dout, dq: [B·Hq, L, Dp]    k, v, dk, dv: [B·Hkv, S, Dp]    kt, vt: [B·Hkv, Sp/8, Dp, 8] (panels)
//   lse, dvec: [B·Hq, L]    mask: u8, bias: f32, both read at b·sb + h·sh + i·sl + j·ss (broadcast = stride 0)
//   blockmap: u8 [B·Hq, ceil(L/br), ceil(S/bc)], 0 = the block has no visible key (skipped).

const P_Q = 0;
const P_KT = 1;
const P_V = 2;
const P_OUT = 3;
const P_LSE = 4;
const P_BHQ = 5;
const P_HQ = 6;
const P_GROUP = 7;
const P_L = 8;
const P_S = 9;
const P_DP = 10;
const P_SP = 11;
const P_SCALE = 12;
const P_LEFT = 13;
const P_RIGHT = 14;
const P_OFFSET = 15;
const P_MASK = 16;
const P_MASK_STRIDES = 17; // 4 words
const P_BIAS = 21;
const P_BIAS_STRIDES = 22; // 4 words
const P_BLOCKMAP = 26;
const P_SCRATCH = 27;
const P_BR = 28;
const P_BC = 29;
const P_K = 30;
const P_VT = 31;
const P_DOUT = 32;
const P_DVEC = 33;
const P_DQ = 34;
const P_DK = 35;
const P_DV = 36;
const P_BHKV = 37;

@inline
function pi(params: usize, index: i32): i32 {
  return load<i32>(params + (<usize>index << 2));
}

@inline
function pu(params: usize, index: i32): usize {
  return <usize>load<u32>(params + (<usize>index << 2));
}

const NEG_INF: f32 = -Infinity;

// ---------------------------------------------------------------------------------------------------------
// Vector exp: range reduction x = n·ln2 + r, |r| ≤ ln2/2, a degree-6 polynomial for e^r, and 2^n built in
// the exponent bits (as XNNPACK's softmax does). Inputs below -87 (and -Infinity) give exactly 0.

@inline
function vexp(x: v128): v128 {
  const valid = f32x4.ge(x, f32x4.splat(-87.0));
  // pmax/pmin: one instruction each (f32x4.max/min take eight in V8, for NaN and signed-zero rules that a clamp
  // against constants does not need; a NaN x stays NaN and is zeroed by `valid` as before).
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.0)), f32x4.splat(88.0));
  // n = round(x·log₂e) by the magic number 1.5·2²³ + 127, which leaves n + 127 in the low mantissa bits: one
  // shift makes 2^n (f32x4.nearest and i32x4.trunc_sat_f32x4_s cost about ten instructions in V8).
  const nm = f32x4.add(f32x4.mul(x, f32x4.splat(1.4426950408889634)), f32x4.splat(12583039.0));
  const n = f32x4.sub(nm, f32x4.splat(12583039.0));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693145751953125)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(1.428606765330187e-6)));
  let p = f32x4.splat(1.3888889e-3);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3333333e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1666667e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.16666667));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  return v128.and(f32x4.mul(p, i32x4.shl(nm, 23)), valid);
}

/** Writes the 12 vectors of vexpAt's constants at `k` (192 bytes). */
@inline
function writeExpConstants(k: usize): void {
  v128.store(k, f32x4.splat(-87.0), 0);
  v128.store(k, f32x4.splat(88.0), 16);
  v128.store(k, f32x4.splat(1.4426950408889634), 32);
  v128.store(k, f32x4.splat(0.693145751953125), 48);
  v128.store(k, f32x4.splat(1.428606765330187e-6), 64);
  v128.store(k, f32x4.splat(1.3888889e-3), 80);
  v128.store(k, f32x4.splat(8.3333333e-3), 96);
  v128.store(k, f32x4.splat(4.1666667e-2), 112);
  v128.store(k, f32x4.splat(0.16666667), 128);
  v128.store(k, f32x4.splat(0.5), 144);
  v128.store(k, f32x4.splat(1.0), 160);
  v128.store(k, f32x4.splat(12583039.0), 176);
}

/**
 * vexp with its constants read from memory at `k` (see writeExpConstants): the compiler would otherwise
 * rebuild every constant vector on each call inside the loops, which costs more than the polynomial.
 */
@inline
function vexpAt(x: v128, k: usize): v128 {
  const lo = v128.load(k, 0);
  const valid = f32x4.ge(x, lo);
  x = f32x4.pmin(f32x4.pmax(x, lo), v128.load(k, 16));
  const magic = v128.load(k, 176);
  const nm = f32x4.add(f32x4.mul(x, v128.load(k, 32)), magic);
  const n = f32x4.sub(nm, magic);
  let r = f32x4.sub(x, f32x4.mul(n, v128.load(k, 48)));
  r = f32x4.sub(r, f32x4.mul(n, v128.load(k, 64)));
  let p = f32x4.add(f32x4.mul(v128.load(k, 80), r), v128.load(k, 96));
  p = f32x4.add(f32x4.mul(p, r), v128.load(k, 112));
  p = f32x4.add(f32x4.mul(p, r), v128.load(k, 128));
  p = f32x4.add(f32x4.mul(p, r), v128.load(k, 144));
  const one = v128.load(k, 160);
  p = f32x4.add(f32x4.mul(p, r), one);
  p = f32x4.add(f32x4.mul(p, r), one);
  return v128.and(f32x4.mul(p, i32x4.shl(nm, 23)), valid);
}

/** exp of 4 floats at `src` to `dst` (for tests of the polynomial). n must be a multiple of 4. */
export function exp_f32(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) v128.store(dst + (<usize>i << 2), vexp(v128.load(src + (<usize>i << 2))));
}

@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

@inline
function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

// ---------------------------------------------------------------------------------------------------------
// Block products (4 × 8 register blocks).

/**
 * dst[r, c] = scale · Σ_d a[r, d] · b[c, d] for r < rows, c < colsPad (a multiple of 8): a [rows, dp]
 * row-major, b packed in panels of 8 keys ([colsPad / 8, dp, 8], see pack_panels), dst with row stride
 * `dstStride`.
 */
@inline
function blockScores(
  a: usize,
  rows: i32,
  dp: i32,
  bt: usize,
  dst: usize,
  dstStride: i32,
  colsPad: i32,
  scale: f32,
): void {
  const rowBytes = <usize>dp << 2;
  const panelBytes = <usize>dp << 5;
  const vs = f32x4.splat(scale);
  for (let r0 = 0; r0 < rows; r0 += 4) {
    const n = min(4, rows - r0);
    const a0 = a + <usize>r0 * rowBytes;
    const a1 = n > 1 ? a0 + rowBytes : a0;
    const a2 = n > 2 ? a0 + 2 * rowBytes : a0;
    const a3 = n > 3 ? a0 + 3 * rowBytes : a0;
    const d0 = dst + ((<usize>r0 * <usize>dstStride) << 2);
    const dstRow = <usize>dstStride << 2;
    for (let c0 = 0; c0 < colsPad; c0 += 8) {
      let acc00 = f32x4.splat(0);
      let acc01 = f32x4.splat(0);
      let acc10 = f32x4.splat(0);
      let acc11 = f32x4.splat(0);
      let acc20 = f32x4.splat(0);
      let acc21 = f32x4.splat(0);
      let acc30 = f32x4.splat(0);
      let acc31 = f32x4.splat(0);
      let bp = bt + <usize>(c0 >> 3) * panelBytes;
      for (let d = 0; d < dp; d++) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        const off = <usize>d << 2;
        const x0 = v128.load32_splat(a0 + off);
        const x1 = v128.load32_splat(a1 + off);
        const x2 = v128.load32_splat(a2 + off);
        const x3 = v128.load32_splat(a3 + off);
        acc00 = f32x4.add(acc00, f32x4.mul(x0, b0));
        acc01 = f32x4.add(acc01, f32x4.mul(x0, b1));
        acc10 = f32x4.add(acc10, f32x4.mul(x1, b0));
        acc11 = f32x4.add(acc11, f32x4.mul(x1, b1));
        acc20 = f32x4.add(acc20, f32x4.mul(x2, b0));
        acc21 = f32x4.add(acc21, f32x4.mul(x2, b1));
        acc30 = f32x4.add(acc30, f32x4.mul(x3, b0));
        acc31 = f32x4.add(acc31, f32x4.mul(x3, b1));
        bp += 32;
      }
      const o = d0 + (<usize>c0 << 2);
      v128.store(o, f32x4.mul(acc00, vs));
      v128.store(o, f32x4.mul(acc01, vs), 16);
      if (n > 1) {
        v128.store(o + dstRow, f32x4.mul(acc10, vs));
        v128.store(o + dstRow, f32x4.mul(acc11, vs), 16);
      }
      if (n > 2) {
        v128.store(o + 2 * dstRow, f32x4.mul(acc20, vs));
        v128.store(o + 2 * dstRow, f32x4.mul(acc21, vs), 16);
      }
      if (n > 3) {
        v128.store(o + 3 * dstRow, f32x4.mul(acc30, vs));
        v128.store(o + 3 * dstRow, f32x4.mul(acc31, vs), 16);
      }
    }
  }
}

/**
 * y[r, :] += Σ_c p[r, c] · x[c, :] for r < rows, c < cols: p with row stride `pStride`, x [cols, dp] and
 * y [rows, dp] row-major (dp a multiple of 8). (O += P·V in the forward, dQ += dS·K in the backward.)
 */
@inline
function accumulatePX(p: usize, pStride: i32, rows: i32, cols: i32, x: usize, y: usize, dp: i32): void {
  const rowBytes = <usize>dp << 2;
  const pRow = <usize>pStride << 2;
  for (let r0 = 0; r0 < rows; r0 += 4) {
    const n = min(4, rows - r0);
    const p0 = p + <usize>r0 * pRow;
    const p1 = n > 1 ? p0 + pRow : p0;
    const p2 = n > 2 ? p0 + 2 * pRow : p0;
    const p3 = n > 3 ? p0 + 3 * pRow : p0;
    const y0 = y + <usize>r0 * rowBytes;
    const y1 = n > 1 ? y0 + rowBytes : y0;
    const y2 = n > 2 ? y0 + 2 * rowBytes : y0;
    const y3 = n > 3 ? y0 + 3 * rowBytes : y0;
    for (let d0 = 0; d0 < dp; d0 += 8) {
      const dOff = <usize>d0 << 2;
      let acc00 = v128.load(y0 + dOff);
      let acc01 = v128.load(y0 + dOff, 16);
      let acc10 = v128.load(y1 + dOff);
      let acc11 = v128.load(y1 + dOff, 16);
      let acc20 = v128.load(y2 + dOff);
      let acc21 = v128.load(y2 + dOff, 16);
      let acc30 = v128.load(y3 + dOff);
      let acc31 = v128.load(y3 + dOff, 16);
      let xp = x + dOff;
      for (let c = 0; c < cols; c++) {
        const b0 = v128.load(xp);
        const b1 = v128.load(xp, 16);
        const off = <usize>c << 2;
        const s0 = v128.load32_splat(p0 + off);
        const s1 = v128.load32_splat(p1 + off);
        const s2 = v128.load32_splat(p2 + off);
        const s3 = v128.load32_splat(p3 + off);
        acc00 = f32x4.add(acc00, f32x4.mul(s0, b0));
        acc01 = f32x4.add(acc01, f32x4.mul(s0, b1));
        acc10 = f32x4.add(acc10, f32x4.mul(s1, b0));
        acc11 = f32x4.add(acc11, f32x4.mul(s1, b1));
        acc20 = f32x4.add(acc20, f32x4.mul(s2, b0));
        acc21 = f32x4.add(acc21, f32x4.mul(s2, b1));
        acc30 = f32x4.add(acc30, f32x4.mul(s3, b0));
        acc31 = f32x4.add(acc31, f32x4.mul(s3, b1));
        xp += rowBytes;
      }
      // Stores in reverse so that a clamped (duplicate) row pointer ends with the true row's value.
      if (n > 3) {
        v128.store(y3 + dOff, acc30);
        v128.store(y3 + dOff, acc31, 16);
      }
      if (n > 2) {
        v128.store(y2 + dOff, acc20);
        v128.store(y2 + dOff, acc21, 16);
      }
      if (n > 1) {
        v128.store(y1 + dOff, acc10);
        v128.store(y1 + dOff, acc11, 16);
      }
      v128.store(y0 + dOff, acc00);
      v128.store(y0 + dOff, acc01, 16);
    }
  }
}

/**
 * y[c, :] += Σ_r p[r, c] · x[r, :] for c < cols, r < rows: p with row stride `pStride` (its columns up to
 * cols rounded to 4 must be readable), x [rows, dp], y [cols, dp]. (dV += Pᵀ·dO, dK += dSᵀ·Q.)
 */
@inline
function accumulatePtX(p: usize, pStride: i32, rows: i32, cols: i32, x: usize, y: usize, dp: i32): void {
  const rowBytes = <usize>dp << 2;
  const pRow = <usize>pStride << 2;
  for (let c0 = 0; c0 < cols; c0 += 4) {
    const n = min(4, cols - c0);
    const y0 = y + <usize>c0 * rowBytes;
    const y1 = n > 1 ? y0 + rowBytes : y0;
    const y2 = n > 2 ? y0 + 2 * rowBytes : y0;
    const y3 = n > 3 ? y0 + 3 * rowBytes : y0;
    const pc = p + (<usize>c0 << 2);
    for (let d0 = 0; d0 < dp; d0 += 8) {
      const dOff = <usize>d0 << 2;
      let acc00 = v128.load(y0 + dOff);
      let acc01 = v128.load(y0 + dOff, 16);
      let acc10 = v128.load(y1 + dOff);
      let acc11 = v128.load(y1 + dOff, 16);
      let acc20 = v128.load(y2 + dOff);
      let acc21 = v128.load(y2 + dOff, 16);
      let acc30 = v128.load(y3 + dOff);
      let acc31 = v128.load(y3 + dOff, 16);
      let xp = x + dOff;
      let pp = pc;
      for (let r = 0; r < rows; r++) {
        const b0 = v128.load(xp);
        const b1 = v128.load(xp, 16);
        const pv = v128.load(pp);
        const s0 = v128.shuffle<f32>(pv, pv, 0, 0, 0, 0);
        const s1 = v128.shuffle<f32>(pv, pv, 1, 1, 1, 1);
        const s2 = v128.shuffle<f32>(pv, pv, 2, 2, 2, 2);
        const s3 = v128.shuffle<f32>(pv, pv, 3, 3, 3, 3);
        acc00 = f32x4.add(acc00, f32x4.mul(s0, b0));
        acc01 = f32x4.add(acc01, f32x4.mul(s0, b1));
        acc10 = f32x4.add(acc10, f32x4.mul(s1, b0));
        acc11 = f32x4.add(acc11, f32x4.mul(s1, b1));
        acc20 = f32x4.add(acc20, f32x4.mul(s2, b0));
        acc21 = f32x4.add(acc21, f32x4.mul(s2, b1));
        acc30 = f32x4.add(acc30, f32x4.mul(s3, b0));
        acc31 = f32x4.add(acc31, f32x4.mul(s3, b1));
        xp += rowBytes;
        pp += pRow;
      }
      if (n > 3) {
        v128.store(y3 + dOff, acc30);
        v128.store(y3 + dOff, acc31, 16);
      }
      if (n > 2) {
        v128.store(y2 + dOff, acc20);
        v128.store(y2 + dOff, acc21, 16);
      }
      if (n > 1) {
        v128.store(y1 + dOff, acc10);
        v128.store(y1 + dOff, acc11, 16);
      }
      v128.store(y0 + dOff, acc00);
      v128.store(y0 + dOff, acc01, 16);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Masks.

/** First visible key of query row i (band only), clamped to [0, S]. */
@inline
function bandLo(i: i32, left: i32, offset: i32): i32 {
  return left >= 0 ? max(0, i + offset - left) : 0;
}

/** Last visible key of query row i (band only), clamped to [-1, S - 1]. */
@inline
function bandHi(i: i32, right: i32, offset: i32, S: i32): i32 {
  return right >= 0 ? min(S - 1, i + offset + right) : S - 1;
}

/**
 * Applies the band, bias, mask and the key tail (c ≥ cols) to a block of scores s [rows, colsPad] (row
 * stride `stride`), for query rows i0.. of head (b, h) and keys j0... Masked scores become -Infinity.
 */
function maskBlock(
  params: usize,
  s: usize,
  stride: i32,
  rows: i32,
  cols: i32,
  colsPad: i32,
  b: i32,
  h: i32,
  i0: i32,
  j0: i32,
): void {
  const S = pi(params, P_S);
  const left = pi(params, P_LEFT);
  const right = pi(params, P_RIGHT);
  const offset = pi(params, P_OFFSET);
  const mask = pu(params, P_MASK);
  const bias = pu(params, P_BIAS);
  const band = left >= 0 || right >= 0;
  // Whole block inside the band: the last row's first key and the first row's last key bound it.
  const inside = !band || (bandLo(i0 + rows - 1, left, offset) <= j0 && bandHi(i0, right, offset, S) >= j0 + cols - 1);
  if (bias) {
    const sb = pi(params, P_BIAS_STRIDES);
    const sh = pi(params, P_BIAS_STRIDES + 1);
    const sl = pi(params, P_BIAS_STRIDES + 2);
    const ss = pi(params, P_BIAS_STRIDES + 3);
    for (let r = 0; r < rows; r++) {
      const base = bias + (<usize>(b * sb + h * sh + (i0 + r) * sl + j0 * ss) << 2);
      const row = s + (<usize>(r * stride) << 2);
      for (let c = 0; c < cols; c++) {
        const ptr = row + (<usize>c << 2);
        store<f32>(ptr, load<f32>(ptr) + load<f32>(base + (<usize>(c * ss) << 2)));
      }
    }
  }
  if (mask) {
    const mb = pi(params, P_MASK_STRIDES);
    const mh = pi(params, P_MASK_STRIDES + 1);
    const ml = pi(params, P_MASK_STRIDES + 2);
    const ms = pi(params, P_MASK_STRIDES + 3);
    for (let r = 0; r < rows; r++) {
      const base = mask + <usize>(b * mb + h * mh + (i0 + r) * ml + j0 * ms);
      const row = s + (<usize>(r * stride) << 2);
      for (let c = 0; c < cols; c++) {
        if (load<u8>(base + <usize>(c * ms)) == 0) store<f32>(row + (<usize>c << 2), NEG_INF);
      }
    }
  }
  if (!inside) {
    for (let r = 0; r < rows; r++) {
      const lo = bandLo(i0 + r, left, offset) - j0;
      const hi = bandHi(i0 + r, right, offset, S) - j0;
      const row = s + (<usize>(r * stride) << 2);
      for (let c = 0; c < cols; c++) if (c < lo || c > hi) store<f32>(row + (<usize>c << 2), NEG_INF);
    }
  }
  if (cols < colsPad) {
    for (let r = 0; r < rows; r++) {
      const row = s + (<usize>(r * stride) << 2);
      for (let c = cols; c < colsPad; c++) store<f32>(row + (<usize>c << 2), NEG_INF);
    }
  }
}

/** The key blocks [kbLo, kbHi] that the band lets query rows [i0, i0 + rows) see (kbHi < kbLo: none). */
@inline
function keyBlockLo(params: usize, i0: i32, bc: i32): i32 {
  return bandLo(i0, pi(params, P_LEFT), pi(params, P_OFFSET)) / bc;
}

@inline
function keyBlockHi(params: usize, i0: i32, rows: i32, bc: i32): i32 {
  const S = pi(params, P_S);
  const hi = bandHi(i0 + rows - 1, pi(params, P_RIGHT), pi(params, P_OFFSET), S);
  const lo = bandLo(i0, pi(params, P_LEFT), pi(params, P_OFFSET));
  if (hi < lo || hi < 0 || lo >= S) return -1;
  return hi / bc;
}

// ---------------------------------------------------------------------------------------------------------
// Kernels.

/**
 * Packs src [n, S, dp] per head into panels of 8 rows transposed: dst [n, sp / 8, dp, 8] with
 * dst[h, p, d, c] = src[h, 8p + c, d], zero past S (so a block product streams 32 contiguous bytes per d).
 * Split over heads.
 */
export function pack_panels(src: usize, dst: usize, n: i32, S: i32, dp: i32, sp: i32, part: i32, parts: i32): void {
  const panels = sp >> 3;
  for (let hd = part; hd < n; hd += parts) {
    const s0 = src + ((<usize>hd * <usize>S * <usize>dp) << 2);
    const d0 = dst + ((<usize>hd * <usize>dp * <usize>sp) << 2);
    for (let p = 0; p < panels; p++) {
      const pd = d0 + ((<usize>p * <usize>dp) << 5);
      const j0 = p << 3;
      const width = min(8, S - j0);
      for (let c = 0; c < 8; c++) {
        if (c < width) {
          const row = s0 + ((<usize>(j0 + c) * <usize>dp) << 2);
          for (let d = 0; d < dp; d++) store<f32>(pd + (<usize>d << 5) + (<usize>c << 2), load<f32>(row + (<usize>d << 2)));
        } else {
          for (let d = 0; d < dp; d++) store<f32>(pd + (<usize>d << 5) + (<usize>c << 2), 0);
        }
      }
    }
  }
}

/**
 * Forward (FlashAttention-2, Algorithm 1): for each task (query head, query block), out rows and lse.
 * Tasks go round-robin to the parts, last query blocks first (the longest under causal masks), and the
 * pool hands parts to whichever thread is free. Scratch per part: br·bc + 2·br + 52 floats.
 */
export function flash_forward(params: usize, part: i32, parts: i32): void {
  const q = pu(params, P_Q);
  const kt = pu(params, P_KT);
  const v = pu(params, P_V);
  const out = pu(params, P_OUT);
  const lseOut = pu(params, P_LSE);
  const BHq = pi(params, P_BHQ);
  const Hq = pi(params, P_HQ);
  const group = pi(params, P_GROUP);
  const L = pi(params, P_L);
  const S = pi(params, P_S);
  const dp = pi(params, P_DP);
  const sp = pi(params, P_SP);
  const scale = load<f32>(params + (<usize>P_SCALE << 2));
  const blockmap = pu(params, P_BLOCKMAP);
  const br = pi(params, P_BR);
  const bc = pi(params, P_BC);
  const nqb = (L + br - 1) / br;
  const nkb = (S + bc - 1) / bc;
  const Hkv = Hq / group;
  const scratch = pu(params, P_SCRATCH) + ((<usize>part * <usize>(br * bc + 2 * br + 52)) << 2);
  const sbuf = scratch;
  const mrow = scratch + (<usize>(br * bc) << 2);
  const lrow = mrow + (<usize>br << 2);
  const expk = (lrow + (<usize>br << 2) + 15) & ~15; // 192 bytes of exp constants
  writeExpConstants(expk);
  const rowBytes = <usize>dp << 2;
  const tasks = BHq * nqb;
  for (let t = part; t < tasks; t += parts) {
    // Last query blocks first: under causal masks they see the most keys (longest tasks first balances parts).
    const bh = (tasks - 1 - t) / nqb;
    const qb = (tasks - 1 - t) % nqb;
    const b = bh / Hq;
    const h = bh % Hq;
    const kvh = b * Hkv + h / group;
    const i0 = qb * br;
    const rows = min(br, L - i0);
    const qp = q + (<usize>(bh * L + i0) * rowBytes);
    const op = out + (<usize>(bh * L + i0) * rowBytes);
    const ktp = kt + ((<usize>kvh * <usize>dp * <usize>sp) << 2);
    const vp = v + ((<usize>kvh * <usize>S * <usize>dp) << 2);
    memory.fill(op, 0, <usize>rows * rowBytes);
    for (let r = 0; r < rows; r++) {
      store<f32>(mrow + (<usize>r << 2), NEG_INF);
      store<f32>(lrow + (<usize>r << 2), 0);
    }
    const kbLo = keyBlockLo(params, i0, bc);
    const kbHi = keyBlockHi(params, i0, rows, bc);
    for (let kb = kbLo; kb <= kbHi; kb++) {
      if (blockmap && load<u8>(blockmap + <usize>((bh * nqb + qb) * nkb + kb)) == 0) continue;
      const j0 = kb * bc;
      const cols = min(bc, S - j0);
      const colsPad = (cols + 7) & ~7;
      blockScores(qp, rows, dp, ktp + ((<usize>j0 * <usize>dp) << 2), sbuf, bc, colsPad, scale);
      maskBlock(params, sbuf, bc, rows, cols, colsPad, b, h, i0, j0);
      // Online softmax, row by row.
      for (let r = 0; r < rows; r++) {
        const row = sbuf + (<usize>(r * bc) << 2);
        // The row maximum with pmax (one instruction, where f32x4.max is an eight-instruction chain carried
        // from one vector to the next); pmax skips NaN, so NaN scores are tracked apart and make the maximum
        // NaN, as f32x4.max would.
        let vm = f32x4.splat(NEG_INF);
        let nan = f32x4.splat(0);
        for (let c = 0; c < colsPad; c += 4) {
          const v = v128.load(row + (<usize>c << 2));
          vm = f32x4.pmax(vm, v);
          nan = v128.or(nan, f32x4.ne(v, v));
        }
        const mOld = load<f32>(mrow + (<usize>r << 2));
        const mNew = v128.any_true(nan) ? <f32>NaN : max(mOld, hmax(vm));
        if (mNew == NEG_INF) {
          memory.fill(row, 0, <usize>colsPad << 2);
          continue;
        }
        const vmNew = f32x4.splat(mNew);
        let vsum = f32x4.splat(0);
        for (let c = 0; c < colsPad; c += 4) {
          const ptr = row + (<usize>c << 2);
          const e = vexpAt(f32x4.sub(v128.load(ptr), vmNew), expk);
          v128.store(ptr, e);
          vsum = f32x4.add(vsum, e);
        }
        const alpha: f32 = mOld == NEG_INF ? 0 : Mathf.exp(mOld - mNew);
        store<f32>(lrow + (<usize>r << 2), load<f32>(lrow + (<usize>r << 2)) * alpha + hsum(vsum));
        store<f32>(mrow + (<usize>r << 2), mNew);
        if (alpha != 1) {
          const va = f32x4.splat(alpha);
          const orow = op + <usize>r * rowBytes;
          for (let d = 0; d < dp; d += 4) {
            const ptr = orow + (<usize>d << 2);
            v128.store(ptr, f32x4.mul(v128.load(ptr), va));
          }
        }
      }
      accumulatePX(sbuf, bc, rows, cols, vp + ((<usize>j0 * <usize>dp) << 2), op, dp);
    }
    // Normalise; rows that saw no key are zeros with lse = -Infinity.
    for (let r = 0; r < rows; r++) {
      const l = load<f32>(lrow + (<usize>r << 2));
      const orow = op + <usize>r * rowBytes;
      const lsePtr = lseOut + (<usize>(bh * L + i0 + r) << 2);
      if (l > 0) {
        const vinv = f32x4.splat(<f32>1 / l);
        for (let d = 0; d < dp; d += 4) {
          const ptr = orow + (<usize>d << 2);
          v128.store(ptr, f32x4.mul(v128.load(ptr), vinv));
        }
        store<f32>(lsePtr, load<f32>(mrow + (<usize>r << 2)) + Mathf.log(l));
      } else {
        memory.fill(orow, 0, rowBytes);
        store<f32>(lsePtr, NEG_INF);
      }
    }
  }
}

/** dvec[i] = Σ_d dout[i, d] · out[i, d] over n rows of dp floats. Split over rows. */
export function flash_backward_dvec(dout: usize, out: usize, dvec: usize, n: i32, dp: i32, part: i32, parts: i32): void {
  const start = (n * part) / parts;
  const end = (n * (part + 1)) / parts;
  for (let i = start; i < end; i++) {
    const a = dout + ((<usize>i * <usize>dp) << 2);
    const o = out + ((<usize>i * <usize>dp) << 2);
    let acc = f32x4.splat(0);
    for (let d = 0; d < dp; d += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(a + (<usize>d << 2)), v128.load(o + (<usize>d << 2))));
    store<f32>(dvec + (<usize>i << 2), hsum(acc));
  }
}

/**
 * P = exp(s - lse) for a block of rows (lse = -Infinity, a row that saw nothing, gives P = 0), in place.
 */
@inline
function probabilities(sbuf: usize, bc: i32, rows: i32, colsPad: i32, lse: usize, expk: usize): void {
  for (let r = 0; r < rows; r++) {
    let l = load<f32>(lse + (<usize>r << 2));
    if (l == NEG_INF) l = Infinity;
    const vl = f32x4.splat(l);
    const row = sbuf + (<usize>(r * bc) << 2);
    for (let c = 0; c < colsPad; c += 4) {
      const ptr = row + (<usize>c << 2);
      v128.store(ptr, vexpAt(f32x4.sub(v128.load(ptr), vl), expk));
    }
  }
}

/** dS = P ∘ (dP − dvec_r), into dpbuf. */
@inline
function scoreGradients(pbuf: usize, dpbuf: usize, bc: i32, rows: i32, colsPad: i32, dvec: usize): void {
  for (let r = 0; r < rows; r++) {
    const vd = f32x4.splat(load<f32>(dvec + (<usize>r << 2)));
    const off = <usize>(r * bc) << 2;
    for (let c = 0; c < colsPad; c += 4) {
      const o = off + (<usize>c << 2);
      v128.store(dpbuf + o, f32x4.mul(v128.load(pbuf + o), f32x4.sub(v128.load(dpbuf + o), vd)));
    }
  }
}

/**
 * Backward (FlashAttention-2, Algorithm 2) for one kv head per task: for each key block, for each query head
 * of its group and each query block that sees it, recompute S and P = exp(S − lse), then dV += Pᵀ dO,
 * dP = dO Vᵀ, dS = P ∘ (dP − rowsum(dO ∘ O)), dK += scale · dSᵀ Q, dQ += scale · dS K. A task owns its kv
 * head's dK, dV and its query heads' dQ, so parts never write the same memory. Scratch per part: 2·br·bc.
 * dq, dk, dv must be zeroed by the caller.
 */
export function flash_backward(params: usize, part: i32, parts: i32): void {
  const q = pu(params, P_Q);
  const k = pu(params, P_K);
  const kt = pu(params, P_KT);
  const vt = pu(params, P_VT);
  const dout = pu(params, P_DOUT);
  const lse = pu(params, P_LSE);
  const dvec = pu(params, P_DVEC);
  const dq = pu(params, P_DQ);
  const dk = pu(params, P_DK);
  const dv = pu(params, P_DV);
  const BHkv = pi(params, P_BHKV);
  const Hq = pi(params, P_HQ);
  const group = pi(params, P_GROUP);
  const L = pi(params, P_L);
  const S = pi(params, P_S);
  const dp = pi(params, P_DP);
  const sp = pi(params, P_SP);
  const scale = load<f32>(params + (<usize>P_SCALE << 2));
  const blockmap = pu(params, P_BLOCKMAP);
  const br = pi(params, P_BR);
  const bc = pi(params, P_BC);
  const nqb = (L + br - 1) / br;
  const nkb = (S + bc - 1) / bc;
  const Hkv = Hq / group;
  const pbuf = pu(params, P_SCRATCH) + ((<usize>part * <usize>(2 * br * bc + 48)) << 2);
  const dpbuf = pbuf + (<usize>(br * bc) << 2);
  const expk = dpbuf + (<usize>(br * bc) << 2); // 192 bytes of exp constants
  writeExpConstants(expk);
  const rowBytes = <usize>dp << 2;
  for (let kvh = part; kvh < BHkv; kvh += parts) {
    const b = kvh / Hkv;
    const hk = kvh % Hkv;
    const ktp = kt + ((<usize>kvh * <usize>dp * <usize>sp) << 2);
    const vtp = vt + ((<usize>kvh * <usize>dp * <usize>sp) << 2);
    const kp = k + ((<usize>kvh * <usize>S * <usize>dp) << 2);
    const dkp = dk + ((<usize>kvh * <usize>S * <usize>dp) << 2);
    const dvp = dv + ((<usize>kvh * <usize>S * <usize>dp) << 2);
    for (let kb = 0; kb < nkb; kb++) {
      const j0 = kb * bc;
      const cols = min(bc, S - j0);
      const colsPad = (cols + 7) & ~7;
      for (let g = 0; g < group; g++) {
        const h = hk * group + g;
        const bh = b * Hq + h;
        for (let qb = 0; qb < nqb; qb++) {
          const i0 = qb * br;
          const rows = min(br, L - i0);
          if (kb < keyBlockLo(params, i0, bc) || kb > keyBlockHi(params, i0, rows, bc)) continue;
          if (blockmap && load<u8>(blockmap + <usize>((bh * nqb + qb) * nkb + kb)) == 0) continue;
          const rowOff = <usize>(bh * L + i0) * rowBytes;
          const qp = q + rowOff;
          const dop = dout + rowOff;
          const lsep = lse + (<usize>(bh * L + i0) << 2);
          blockScores(qp, rows, dp, ktp + ((<usize>j0 * <usize>dp) << 2), pbuf, bc, colsPad, scale);
          maskBlock(params, pbuf, bc, rows, cols, colsPad, b, h, i0, j0);
          probabilities(pbuf, bc, rows, colsPad, lsep, expk);
          accumulatePtX(pbuf, bc, rows, cols, dop, dvp + ((<usize>j0 * <usize>dp) << 2), dp);
          blockScores(dop, rows, dp, vtp + ((<usize>j0 * <usize>dp) << 2), dpbuf, bc, colsPad, 1);
          scoreGradients(pbuf, dpbuf, bc, rows, colsPad, dvec + (<usize>(bh * L + i0) << 2));
          accumulatePtX(dpbuf, bc, rows, cols, qp, dkp + ((<usize>j0 * <usize>dp) << 2), dp);
          accumulatePX(dpbuf, bc, rows, cols, kp + ((<usize>j0 * <usize>dp) << 2), dq + rowOff, dp);
        }
      }
    }
    // The scale of s = scale · q·k, applied once to dK and to the query heads' dQ.
    const vs = f32x4.splat(scale);
    const nk = S * dp;
    for (let i = 0; i < nk; i += 4) {
      const ptr = dkp + (<usize>i << 2);
      v128.store(ptr, f32x4.mul(v128.load(ptr), vs));
    }
    for (let g = 0; g < group; g++) {
      const dqp = dq + ((<usize>(b * Hq + hk * group + g) * <usize>L * <usize>dp) << 2);
      const nq = L * dp;
      for (let i = 0; i < nq; i += 4) {
        const ptr = dqp + (<usize>i << 2);
        v128.store(ptr, f32x4.mul(v128.load(ptr), vs));
      }
    }
  }
}

/**
 * Backward, split for parallelism when there are few kv heads (FlashAttention-2 parallelises the backward over
 * key blocks): one task per (kv head, key block) accumulating its dK and dV rows over every query head of the
 * group and query block that sees it. dQ comes from flash_backward_dq. dk, dv zeroed by the caller.
 */
export function flash_backward_dkdv(params: usize, part: i32, parts: i32): void {
  const q = pu(params, P_Q);
  const kt = pu(params, P_KT);
  const vt = pu(params, P_VT);
  const dout = pu(params, P_DOUT);
  const lse = pu(params, P_LSE);
  const dvec = pu(params, P_DVEC);
  const dk = pu(params, P_DK);
  const dv = pu(params, P_DV);
  const BHkv = pi(params, P_BHKV);
  const Hq = pi(params, P_HQ);
  const group = pi(params, P_GROUP);
  const L = pi(params, P_L);
  const S = pi(params, P_S);
  const dp = pi(params, P_DP);
  const sp = pi(params, P_SP);
  const scale = load<f32>(params + (<usize>P_SCALE << 2));
  const blockmap = pu(params, P_BLOCKMAP);
  const br = pi(params, P_BR);
  const bc = pi(params, P_BC);
  const nqb = (L + br - 1) / br;
  const nkb = (S + bc - 1) / bc;
  const Hkv = Hq / group;
  const pbuf = pu(params, P_SCRATCH) + ((<usize>part * <usize>(2 * br * bc + 48)) << 2);
  const dpbuf = pbuf + (<usize>(br * bc) << 2);
  const expk = dpbuf + (<usize>(br * bc) << 2); // 192 bytes of exp constants
  writeExpConstants(expk);
  const rowBytes = <usize>dp << 2;
  const tasks = BHkv * nkb;
  for (let t = part; t < tasks; t += parts) {
    const kvh = t / nkb;
    const kb = t % nkb;
    const b = kvh / Hkv;
    const hk = kvh % Hkv;
    const j0 = kb * bc;
    const cols = min(bc, S - j0);
    const colsPad = (cols + 7) & ~7;
    const headOff = <usize>kvh * <usize>dp * <usize>sp;
    const ktp = kt + ((headOff + <usize>j0 * <usize>dp) << 2);
    const vtp = vt + ((headOff + <usize>j0 * <usize>dp) << 2);
    const rowsOff = (<usize>kvh * <usize>S + <usize>j0) * rowBytes;
    const dkp = dk + rowsOff;
    const dvp = dv + rowsOff;
    for (let g = 0; g < group; g++) {
      const h = hk * group + g;
      const bh = b * Hq + h;
      for (let qb = 0; qb < nqb; qb++) {
        const i0 = qb * br;
        const rows = min(br, L - i0);
        if (kb < keyBlockLo(params, i0, bc) || kb > keyBlockHi(params, i0, rows, bc)) continue;
        if (blockmap && load<u8>(blockmap + <usize>((bh * nqb + qb) * nkb + kb)) == 0) continue;
        const rowOff = <usize>(bh * L + i0) * rowBytes;
        const qp = q + rowOff;
        const dop = dout + rowOff;
        blockScores(qp, rows, dp, ktp, pbuf, bc, colsPad, scale);
        maskBlock(params, pbuf, bc, rows, cols, colsPad, b, h, i0, j0);
        probabilities(pbuf, bc, rows, colsPad, lse + (<usize>(bh * L + i0) << 2), expk);
        accumulatePtX(pbuf, bc, rows, cols, dop, dvp, dp);
        blockScores(dop, rows, dp, vtp, dpbuf, bc, colsPad, 1);
        scoreGradients(pbuf, dpbuf, bc, rows, colsPad, dvec + (<usize>(bh * L + i0) << 2));
        accumulatePtX(dpbuf, bc, rows, cols, qp, dkp, dp);
      }
    }
    const vs = f32x4.splat(scale);
    const n = cols * dp;
    for (let i = 0; i < n; i += 4) {
      const ptr = dkp + (<usize>i << 2);
      v128.store(ptr, f32x4.mul(v128.load(ptr), vs));
    }
  }
}

/** Backward, split: one task per (query head, query block) accumulating its dQ rows. dq zeroed by the caller. */
export function flash_backward_dq(params: usize, part: i32, parts: i32): void {
  const q = pu(params, P_Q);
  const k = pu(params, P_K);
  const kt = pu(params, P_KT);
  const vt = pu(params, P_VT);
  const dout = pu(params, P_DOUT);
  const lse = pu(params, P_LSE);
  const dvec = pu(params, P_DVEC);
  const dq = pu(params, P_DQ);
  const BHq = pi(params, P_BHQ);
  const Hq = pi(params, P_HQ);
  const group = pi(params, P_GROUP);
  const L = pi(params, P_L);
  const S = pi(params, P_S);
  const dp = pi(params, P_DP);
  const sp = pi(params, P_SP);
  const scale = load<f32>(params + (<usize>P_SCALE << 2));
  const blockmap = pu(params, P_BLOCKMAP);
  const br = pi(params, P_BR);
  const bc = pi(params, P_BC);
  const nqb = (L + br - 1) / br;
  const nkb = (S + bc - 1) / bc;
  const Hkv = Hq / group;
  const pbuf = pu(params, P_SCRATCH) + ((<usize>part * <usize>(2 * br * bc + 48)) << 2);
  const dpbuf = pbuf + (<usize>(br * bc) << 2);
  const expk = dpbuf + (<usize>(br * bc) << 2); // 192 bytes of exp constants
  writeExpConstants(expk);
  const rowBytes = <usize>dp << 2;
  const tasks = BHq * nqb;
  for (let t = part; t < tasks; t += parts) {
    // Last query blocks first: under causal masks they see the most keys (longest tasks first balances parts).
    const bh = (tasks - 1 - t) / nqb;
    const qb = (tasks - 1 - t) % nqb;
    const b = bh / Hq;
    const h = bh % Hq;
    const kvh = b * Hkv + h / group;
    const i0 = qb * br;
    const rows = min(br, L - i0);
    const rowOff = <usize>(bh * L + i0) * rowBytes;
    const qp = q + rowOff;
    const dop = dout + rowOff;
    const dqp = dq + rowOff;
    const headOff = <usize>kvh * <usize>dp * <usize>sp;
    const kbLo = keyBlockLo(params, i0, bc);
    const kbHi = keyBlockHi(params, i0, rows, bc);
    for (let kb = kbLo; kb <= kbHi; kb++) {
      if (blockmap && load<u8>(blockmap + <usize>((bh * nqb + qb) * nkb + kb)) == 0) continue;
      const j0 = kb * bc;
      const cols = min(bc, S - j0);
      const colsPad = (cols + 7) & ~7;
      blockScores(qp, rows, dp, kt + ((headOff + <usize>j0 * <usize>dp) << 2), pbuf, bc, colsPad, scale);
      maskBlock(params, pbuf, bc, rows, cols, colsPad, b, h, i0, j0);
      probabilities(pbuf, bc, rows, colsPad, lse + (<usize>(bh * L + i0) << 2), expk);
      blockScores(dop, rows, dp, vt + ((headOff + <usize>j0 * <usize>dp) << 2), dpbuf, bc, colsPad, 1);
      scoreGradients(pbuf, dpbuf, bc, rows, colsPad, dvec + (<usize>(bh * L + i0) << 2));
      accumulatePX(dpbuf, bc, rows, cols, k + ((<usize>kvh * <usize>S + <usize>j0) * rowBytes), dqp, dp);
    }
    const vs = f32x4.splat(scale);
    const n = rows * dp;
    for (let i = 0; i < n; i += 4) {
      const ptr = dqp + (<usize>i << 2);
      v128.store(ptr, f32x4.mul(v128.load(ptr), vs));
    }
  }
}
