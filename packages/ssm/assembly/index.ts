// WebAssembly SIMD kernels of @lab/ssm (see packages/tensor/assembly/index.ts for the conventions):
// byte offsets and sizes in, no allocation, (part, parts) last for kernels the worker pool splits.
//
// The selective scan (Gu & Dao 2023, Algorithm 2; mamba selective_scan_ref) runs sequentially in time and
// vectorised over channels: one f32x4 holds the same state index n of four consecutive channels, so a step
// of a block of 4 channels is N vector updates h = exp(Δ a_n) h + Δ u b_n, y += c_n h, with no horizontal
// sums. Everything is time-major, so that a step reads contiguous memory (the op's [Bt, D, L] layout would
// put the rows of a step 4·L bytes apart, all in one L1 cache set). Layouts (prepared by
// src/kernels/scan.ts; channels padded to Dp, a multiple of 4):
//   u, delta, z, out, du, ddelta, dz: [Bt, L, Dp]      At (Aᵀ): [N, Dp]
//   B, C input-dependent: [Bt, L, N]; fixed: transposed [N, Dp]      Dv, bias: [Dp]
//   states: blocked [Bt, Dp/4, N, 4] (lane = channel within the block)
// flags: 1 = softplus on delta + bias, 2 = B input-dependent, 4 = C input-dependent, 8 = z gate present.

// Constants live in globals loaded from a table (src/kernels/constants.ts) at the start of each kernel:
// V8 rebuilds every v128.const inside a loop from immediates, which costs more than the arithmetic.
let LOG2E: v128 = i32x4.splat(0);
let LN2_HI: v128 = i32x4.splat(0);
let LN2_LO: v128 = i32x4.splat(0);
let ONE: v128 = i32x4.splat(0);
let ZERO: v128 = i32x4.splat(0);
let X2_LO: v128 = i32x4.splat(0);
let X2_HI: v128 = i32x4.splat(0);
let X2_MAGIC: v128 = i32x4.splat(0);
let Q1: v128 = i32x4.splat(0);
let Q2: v128 = i32x4.splat(0);
let Q3: v128 = i32x4.splat(0);
let Q4: v128 = i32x4.splat(0);
let Q5: v128 = i32x4.splat(0);
let EXPV_LO: v128 = i32x4.splat(0);
let E1: v128 = i32x4.splat(0);
let E2: v128 = i32x4.splat(0);
let E3: v128 = i32x4.splat(0);
let E4: v128 = i32x4.splat(0);
let E5: v128 = i32x4.splat(0);
let K1: v128 = i32x4.splat(0);
let K2: v128 = i32x4.splat(0);
let K3: v128 = i32x4.splat(0);
let K4: v128 = i32x4.splat(0);
let TWO: v128 = i32x4.splat(0);
let SIGN: v128 = i32x4.splat(0);

/** Loads the constant table written by the host (see src/kernels/constants.ts). */
function loadConstants(table: usize): void {
  LOG2E = v128.load(table);
  LN2_HI = v128.load(table, 16);
  LN2_LO = v128.load(table, 32);
  ONE = v128.load(table, 48);
  ZERO = v128.load(table, 64);
  X2_LO = v128.load(table, 80);
  X2_HI = v128.load(table, 96);
  X2_MAGIC = v128.load(table, 112);
  Q1 = v128.load(table, 128);
  Q2 = v128.load(table, 144);
  Q3 = v128.load(table, 160);
  Q4 = v128.load(table, 176);
  Q5 = v128.load(table, 192);
  EXPV_LO = v128.load(table, 208);
  E1 = v128.load(table, 224);
  E2 = v128.load(table, 240);
  E3 = v128.load(table, 256);
  E4 = v128.load(table, 272);
  E5 = v128.load(table, 288);
  K1 = v128.load(table, 304);
  K2 = v128.load(table, 320);
  K3 = v128.load(table, 336);
  K4 = v128.load(table, 352);
  TWO = v128.load(table, 368);
  SIGN = v128.load(table, 384);
}

/**
 * e^x for x ≤ 0 on four lanes, for the elementwise maps (softplus, sigmoid): Cody–Waite reduction
 * x = k ln2 + r (ln2 in two parts), |r| ≤ ln2/2, the decays' degree-5 polynomial rescaled to e^r, and 2^k from
 * the magic-number trick as in exp2d. x is clamped below at −86.6 (2^k stays normal); both callers pass −|x|,
 * so there is no upper clamp.
 */
@inline
function expNonPositive(x: v128): v128 {
  x = f32x4.pmax(x, EXPV_LO);
  const km = f32x4.add(f32x4.mul(x, LOG2E), X2_MAGIC);
  const k = f32x4.sub(km, X2_MAGIC);
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(k, LN2_HI)), f32x4.mul(k, LN2_LO));
  const r2 = f32x4.mul(r, r);
  const p01 = f32x4.add(f32x4.mul(E1, r), ONE);
  const p23 = f32x4.add(f32x4.mul(E3, r), E2);
  const p45 = f32x4.add(f32x4.mul(E5, r), E4);
  const p = f32x4.add(p01, f32x4.mul(r2, f32x4.add(p23, f32x4.mul(r2, p45))));
  return f32x4.mul(p, i32x4.shl(km, 23));
}

/** −|x|: the sign bit set with one OR (f32x4.neg and f32x4.abs each rebuild a mask in V8's code). */
@inline
function negAbs(x: v128): v128 {
  return v128.or(x, SIGN);
}

/**
 * softplus(x) = max(x, 0) + log1p(e^−|x|), with log1p(e) = 2 atanh(s), s = e / (2 + e) ∈ [0, ⅓], as
 * 2s·(1 + t(K1 + t(K2 + t(K3 + t K4)))), t = s², a minimax fit made here (no cancellation for small e, one
 * division). Above x = 20 the second term is below half an ulp of x, so the result is x exactly, as torch's
 * threshold gives.
 */
@inline
function softplusv(x: v128): v128 {
  const e = expNonPositive(negAbs(x));
  const s = f32x4.div(e, f32x4.add(TWO, e));
  const t = f32x4.mul(s, s);
  const t2 = f32x4.mul(t, t);
  const p = f32x4.add(f32x4.add(f32x4.mul(K1, t), ONE), f32x4.mul(t2, f32x4.add(f32x4.add(f32x4.mul(K3, t), K2), f32x4.mul(t2, K4))));
  return f32x4.add(f32x4.pmax(x, ZERO), f32x4.mul(f32x4.add(s, s), p));
}

/** 1 / (1 + e^−x), as e^−|x| / (1 + e^−|x|) for x < 0 (no overflow, no cancellation). */
@inline
function sigmoidv(x: v128): v128 {
  const e = expNonPositive(negAbs(x));
  return f32x4.div(v128.bitselect(ONE, e, f32x4.ge(x, ZERO)), f32x4.add(ONE, e));
}

/** Bytes of scratch each part of scan_fwd needs: Δ and y rows of L floats for two rows, in whole vectors. */
export function scan_fwd_scratch_bytes(L: i32): i32 {
  return ((L + 3) >> 2) << 6;
}

/**
 * Markers for the decays' range handling: `Clamped` clamps x to [−125, 127.49] first; `Unclamped` skips the two
 * clamps (a fifth of the exponential's cost) for rows that rowInRange has checked to need none. Both give the
 * same bits wherever the clamps do nothing.
 */
type Clamped = i32;
type Unclamped = u32;

/**
 * 2^x on four lanes for the decays: x = k + r with k = round(x) (the 1.5·2²³ + 127 trick leaves k + 127 in the
 * low mantissa bits, so one shift makes 2^k), |r| ≤ ½, and a degree-5 minimax polynomial for 2^r fitted here
 * (relative error 2.3e-7 in float32 over the whole range). With `Clamped`, x is clamped to [−125, 127.49] so
 * that 2^k stays a normal float: results below 2^−125 come out as 2^−125, which multiplies a state by nothing
 * visible.
 */
@inline
function exp2d<R>(x: v128, lo: v128, hi: v128, mag: v128, q1: v128, q2: v128, q3: v128, q4: v128, q5: v128, one: v128): v128 {
  if (isSigned<R>()) x = f32x4.pmin(f32x4.pmax(x, lo), hi);
  const km = f32x4.add(x, mag);
  const r = f32x4.sub(x, f32x4.sub(km, mag));
  let p = f32x4.add(f32x4.mul(q5, r), q4);
  p = f32x4.add(f32x4.mul(p, r), q3);
  p = f32x4.add(f32x4.mul(p, r), q2);
  p = f32x4.add(f32x4.mul(p, r), q1);
  p = f32x4.add(f32x4.mul(p, r), one);
  return f32x4.mul(p, i32x4.shl(km, 23));
}

/** Range of the Δ row last written by prepareDelta (f32 min and max propagate NaN). */
let deltaMin: f32 = 0;
let deltaMax: f32 = 0;

/**
 * Whether every Δ_t a'_n of a row lies in [−125, 126], so that its decays need no clamping: checked on the four
 * products of the extremes of Δ (from prepareDelta) and of the row's a' (Np values at a). NaN or infinite
 * values fail the test and keep the clamped path.
 */
function rowInRange(a: usize, Np: i32): bool {
  let lo = v128.load(a);
  let hi = lo;
  for (let g = 4; g < Np; g += 4) {
    const v = v128.load(a + (<usize>g << 2));
    lo = f32x4.min(lo, v);
    hi = f32x4.max(hi, v);
  }
  const aMin = min(min(f32x4.extract_lane(lo, 0), f32x4.extract_lane(lo, 1)), min(f32x4.extract_lane(lo, 2), f32x4.extract_lane(lo, 3)));
  const aMax = max(max(f32x4.extract_lane(hi, 0), f32x4.extract_lane(hi, 1)), max(f32x4.extract_lane(hi, 2), f32x4.extract_lane(hi, 3)));
  const p0 = deltaMin * aMin;
  const p1 = deltaMin * aMax;
  const p2 = deltaMax * aMin;
  const p3 = deltaMax * aMax;
  return min(min(p0, p1), min(p2, p3)) >= -125 && max(max(p0, p1), max(p2, p3)) <= 126;
}

/** One state vector's update: h ← 2^(Δ·a') h + Δu·b (a' = a·log₂e, prepared by the host). */
@inline
function stateStep<R>(dv: v128, du: v128, a: v128, h: v128, b: v128, lo: v128, hi: v128, mag: v128, q1: v128, q2: v128, q3: v128, q4: v128, q5: v128, one: v128): v128 {
  return f32x4.add(f32x4.mul(exp2d<R>(f32x4.mul(dv, a), lo, hi, mag, q1, q2, q3, q4, q5, one), h), f32x4.mul(du, b));
}

/** The first n (1..3) floats at p as a vector, zeros after. */
@inline
function loadPartial(p: usize, n: i32): v128 {
  let v = f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Stores the first n (1..3) lanes of v at p. */
@inline
function storePartial(p: usize, v: v128, n: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/**
 * Δ_t = softplus(delta_t + bias) (softplus optional) of one row into dvRow (L rounded up to whole vectors), and
 * its range into deltaMin, deltaMax (the padding lanes of a partial last vector count too, which only widens it).
 * The range uses pmin/pmax, one instruction each (wasm's NaN-propagating min/max take eight, in a chain that
 * tripled this loop's time); NaN lanes are skipped, which is harmless: a NaN Δ gives NaN decays on both paths.
 * Whole vectors first and the partial one after, so that the main loop has no per-vector test.
 */
function prepareDelta(dRow: usize, biasValue: f32, softplus: bool, dvRow: usize, L: i32): void {
  const end = dRow + (<usize>(L & ~3) << 2);
  const biasv = f32x4.splat(biasValue);
  let lo = f32x4.splat(Infinity);
  let hi = f32x4.splat(-Infinity);
  let src = dRow;
  let dst = dvRow;
  if (softplus) {
    for (; src < end; src += 16, dst += 16) {
      const v = softplusv(f32x4.add(v128.load(src), biasv));
      v128.store(dst, v);
      lo = f32x4.pmin(lo, v);
      hi = f32x4.pmax(hi, v);
    }
  } else {
    for (; src < end; src += 16, dst += 16) {
      const v = f32x4.add(v128.load(src), biasv);
      v128.store(dst, v);
      lo = f32x4.pmin(lo, v);
      hi = f32x4.pmax(hi, v);
    }
  }
  const tail = L & 3;
  if (tail) {
    let v = f32x4.add(loadPartial(src, tail), biasv);
    if (softplus) v = softplusv(v);
    v128.store(dst, v);
    lo = f32x4.pmin(lo, v);
    hi = f32x4.pmax(hi, v);
  }
  deltaMin = min(min(f32x4.extract_lane(lo, 0), f32x4.extract_lane(lo, 1)), min(f32x4.extract_lane(lo, 2), f32x4.extract_lane(lo, 3)));
  deltaMax = max(max(f32x4.extract_lane(hi, 0), f32x4.extract_lane(hi, 1)), max(f32x4.extract_lane(hi, 2), f32x4.extract_lane(hi, 3)));
}

/** out_t = (y_t + D u_t) · silu(z_t) for one row: whole vectors, then the partial one. */
function finishRow(yRow: usize, uRow: usize, zRow: usize, oRow: usize, skipValue: f32, hasZ: bool, L: i32): void {
  const L4 = L & ~3;
  const tail = L - L4;
  const skip = f32x4.splat(skipValue);
  const end = <usize>L4 << 2;
  if (hasZ) {
    for (let tb: usize = 0; tb < end; tb += 16) {
      const zv = v128.load(zRow + tb);
      const y = f32x4.add(v128.load(yRow + tb), f32x4.mul(skip, v128.load(uRow + tb)));
      v128.store(oRow + tb, f32x4.mul(y, f32x4.mul(zv, sigmoidv(zv))));
    }
  } else {
    for (let tb: usize = 0; tb < end; tb += 16) {
      v128.store(oRow + tb, f32x4.add(v128.load(yRow + tb), f32x4.mul(skip, v128.load(uRow + tb))));
    }
  }
  if (tail) {
    let y = f32x4.add(v128.load(yRow + end), f32x4.mul(skip, loadPartial(uRow + end, tail)));
    if (hasZ) {
      const zv = loadPartial(zRow + end, tail);
      y = f32x4.mul(y, f32x4.mul(zv, sigmoidv(zv)));
    }
    storePartial(oRow + end, y, tail);
  }
}

/** Σ over the four lanes of v. */
@inline
function lanesSum(v: v128): f32 {
  const s2 = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.add(s2, i32x4.shuffle(s2, s2, 1, 0, 3, 2)), 0);
}

/**
 * 16 states (at a, h, b, c) of one row over the whole row, adding their Σ c·h to y (zeroed by the caller); h
 * holds the initial state on entry and the last on return. With `trace` ≠ 0 (the backward's recomputation) h_t
 * is also stored at trace + t·npBytes and the decays at decays + t·npBytes.
 */
function scanGroup<R>(dvRow: usize, uRow: usize, a: usize, hp: usize, bp: usize, bStep: usize, cp: usize, cStep: usize, yRow: usize, L: i32, trace: usize, decays: usize, npBytes: usize): void {
  const lo = X2_LO;
  const hi = X2_HI;
  const mag = X2_MAGIC;
  const q1 = Q1;
  const q2 = Q2;
  const q3 = Q3;
  const q4 = Q4;
  const q5 = Q5;
  const one = ONE;
  let h0 = v128.load(hp);
  let h1 = v128.load(hp, 16);
  let h2 = v128.load(hp, 32);
  let h3 = v128.load(hp, 48);
  const a0 = v128.load(a);
  const a1 = v128.load(a, 16);
  const a2 = v128.load(a, 32);
  const a3 = v128.load(a, 48);
  for (let t = 0; t < L; t++) {
    const tb = <usize>t << 2;
    const dt = load<f32>(dvRow + tb);
    const dv = f32x4.splat(dt);
    const du = f32x4.splat(dt * load<f32>(uRow + tb));
    const e0 = exp2d<R>(f32x4.mul(dv, a0), lo, hi, mag, q1, q2, q3, q4, q5, one);
    const e1 = exp2d<R>(f32x4.mul(dv, a1), lo, hi, mag, q1, q2, q3, q4, q5, one);
    const e2 = exp2d<R>(f32x4.mul(dv, a2), lo, hi, mag, q1, q2, q3, q4, q5, one);
    const e3 = exp2d<R>(f32x4.mul(dv, a3), lo, hi, mag, q1, q2, q3, q4, q5, one);
    h0 = f32x4.add(f32x4.mul(e0, h0), f32x4.mul(du, v128.load(bp)));
    h1 = f32x4.add(f32x4.mul(e1, h1), f32x4.mul(du, v128.load(bp, 16)));
    h2 = f32x4.add(f32x4.mul(e2, h2), f32x4.mul(du, v128.load(bp, 32)));
    h3 = f32x4.add(f32x4.mul(e3, h3), f32x4.mul(du, v128.load(bp, 48)));
    if (trace) {
      const tp = trace + <usize>t * npBytes;
      const ep = decays + <usize>t * npBytes;
      v128.store(ep, e0);
      v128.store(ep, e1, 16);
      v128.store(ep, e2, 32);
      v128.store(ep, e3, 48);
      v128.store(tp, h0);
      v128.store(tp, h1, 16);
      v128.store(tp, h2, 32);
      v128.store(tp, h3, 48);
    }
    const acc = f32x4.add(
      f32x4.add(f32x4.mul(h0, v128.load(cp)), f32x4.mul(h1, v128.load(cp, 16))),
      f32x4.add(f32x4.mul(h2, v128.load(cp, 32)), f32x4.mul(h3, v128.load(cp, 48))),
    );
    store<f32>(yRow + tb, load<f32>(yRow + tb) + lanesSum(acc));
    bp += bStep;
    cp += cStep;
  }
  v128.store(hp, h0);
  v128.store(hp, h1, 16);
  v128.store(hp, h2, 32);
  v128.store(hp, h3, 48);
}

/**
 * scanGroup for two rows of the same batch with input-dependent b and c (shared by the rows): eight independent
 * decay chains per step instead of four, and b, c loaded once. The second row's Δ, u, a, h and y follow the
 * first's at the given strides. Accumulates into y (zeroed by the caller).
 */
function scanGroupPair<R>(dvRow: usize, uRow: usize, a: usize, hp: usize, bp: usize, cp: usize, yRow: usize, vecStride: usize, rowStride: usize, npStride: usize, L: i32): void {
  const lo = X2_LO;
  const hi = X2_HI;
  const mag = X2_MAGIC;
  const q1 = Q1;
  const q2 = Q2;
  const q3 = Q3;
  const q4 = Q4;
  const q5 = Q5;
  const one = ONE;
  const hq = hp + npStride;
  const aq = a + npStride;
  let h0 = v128.load(hp);
  let h1 = v128.load(hp, 16);
  let h2 = v128.load(hp, 32);
  let h3 = v128.load(hp, 48);
  let g0 = v128.load(hq);
  let g1 = v128.load(hq, 16);
  let g2 = v128.load(hq, 32);
  let g3 = v128.load(hq, 48);
  const a0 = v128.load(a);
  const a1 = v128.load(a, 16);
  const a2 = v128.load(a, 32);
  const a3 = v128.load(a, 48);
  const e0 = v128.load(aq);
  const e1 = v128.load(aq, 16);
  const e2 = v128.load(aq, 32);
  const e3 = v128.load(aq, 48);
  const dvEnd = dvRow + (<usize>L << 2);
  let dp = dvRow;
  let up = uRow;
  let yp = yRow;
  while (dp < dvEnd) {
    const dt = load<f32>(dp);
    const et = load<f32>(dp + vecStride);
    const dv = f32x4.splat(dt);
    const du = f32x4.splat(dt * load<f32>(up));
    const ev = f32x4.splat(et);
    const eu = f32x4.splat(et * load<f32>(up + rowStride));
    const bv0 = v128.load(bp);
    const bv1 = v128.load(bp, 16);
    const bv2 = v128.load(bp, 32);
    const bv3 = v128.load(bp, 48);
    h0 = stateStep<R>(dv, du, a0, h0, bv0, lo, hi, mag, q1, q2, q3, q4, q5, one);
    g0 = stateStep<R>(ev, eu, e0, g0, bv0, lo, hi, mag, q1, q2, q3, q4, q5, one);
    h1 = stateStep<R>(dv, du, a1, h1, bv1, lo, hi, mag, q1, q2, q3, q4, q5, one);
    g1 = stateStep<R>(ev, eu, e1, g1, bv1, lo, hi, mag, q1, q2, q3, q4, q5, one);
    h2 = stateStep<R>(dv, du, a2, h2, bv2, lo, hi, mag, q1, q2, q3, q4, q5, one);
    g2 = stateStep<R>(ev, eu, e2, g2, bv2, lo, hi, mag, q1, q2, q3, q4, q5, one);
    h3 = stateStep<R>(dv, du, a3, h3, bv3, lo, hi, mag, q1, q2, q3, q4, q5, one);
    g3 = stateStep<R>(ev, eu, e3, g3, bv3, lo, hi, mag, q1, q2, q3, q4, q5, one);
    const cv0 = v128.load(cp);
    const cv1 = v128.load(cp, 16);
    const cv2 = v128.load(cp, 32);
    const cv3 = v128.load(cp, 48);
    const acc = f32x4.add(f32x4.add(f32x4.mul(h0, cv0), f32x4.mul(h1, cv1)), f32x4.add(f32x4.mul(h2, cv2), f32x4.mul(h3, cv3)));
    const accNext = f32x4.add(f32x4.add(f32x4.mul(g0, cv0), f32x4.mul(g1, cv1)), f32x4.add(f32x4.mul(g2, cv2), f32x4.mul(g3, cv3)));
    // [Σ½ acc, Σ½ acc, Σ½ accNext, Σ½ accNext] → lane 0 = Σ acc, lane 2 = Σ accNext.
    const x = f32x4.add(i32x4.shuffle(acc, accNext, 0, 1, 4, 5), i32x4.shuffle(acc, accNext, 2, 3, 6, 7));
    const s = f32x4.add(x, i32x4.shuffle(x, x, 1, 0, 3, 2));
    store<f32>(yp, load<f32>(yp) + f32x4.extract_lane(s, 0));
    store<f32>(yp + vecStride, load<f32>(yp + vecStride) + f32x4.extract_lane(s, 2));
    dp += 4;
    up += 4;
    yp += 4;
    bp += 64;
    cp += 64;
  }
  v128.store(hp, h0);
  v128.store(hp, h1, 16);
  v128.store(hp, h2, 32);
  v128.store(hp, h3, 48);
  v128.store(hq, g0);
  v128.store(hq, g1, 16);
  v128.store(hq, g2, 32);
  v128.store(hq, g3, 48);
}

/** scanGroup for one state vector (4 states): the states left after the groups of 16. */
function scanVector<R>(dvRow: usize, uRow: usize, a: usize, hp: usize, bp: usize, bStep: usize, cp: usize, cStep: usize, yRow: usize, L: i32, trace: usize, decays: usize, npBytes: usize): void {
  const lo = X2_LO;
  const hi = X2_HI;
  const mag = X2_MAGIC;
  const q1 = Q1;
  const q2 = Q2;
  const q3 = Q3;
  const q4 = Q4;
  const q5 = Q5;
  const one = ONE;
  const av = v128.load(a);
  let h = v128.load(hp);
  for (let t = 0; t < L; t++) {
    const tb = <usize>t << 2;
    const dt = load<f32>(dvRow + tb);
    const e = exp2d<R>(f32x4.mul(f32x4.splat(dt), av), lo, hi, mag, q1, q2, q3, q4, q5, one);
    h = f32x4.add(f32x4.mul(e, h), f32x4.mul(f32x4.splat(dt * load<f32>(uRow + tb)), v128.load(bp)));
    if (trace) {
      v128.store(decays + <usize>t * npBytes, e);
      v128.store(trace + <usize>t * npBytes, h);
    }
    store<f32>(yRow + tb, load<f32>(yRow + tb) + lanesSum(f32x4.mul(h, v128.load(cp))));
    bp += bStep;
    cp += cStep;
  }
  v128.store(hp, h);
}

/**
 * Forward scan, one (batch, channel) row at a time (two at once where the batch has another row) and
 * vectorised over the state: the 16 states of a group live in four registers for the whole row, so a step is
 * four decays, four state updates and one horizontal sum, with no state traffic through memory. Δ (plus bias,
 * softplus) is prepared for the row first and the skip and gate are applied after, both vectorised over time.
 * Layouts (src/kernels/scan.ts):
 *   u, delta, z, out: [Bt, D, L] (the op's own layout)      A2 = A·log₂e: [D, Np] (Np = N rounded up to 4)
 *   B, C input-dependent: [Bt, L, Np]; fixed: [D, Np]        Dv, bias: [D]      state: [Bt, D, Np] (in and out)
 * Padded states have a = b = c = 0, so they stay at their (zero) initial value and add nothing. Split over pairs
 * of rows; each part uses scan_fwd_scratch_bytes(L) of scratch at scratch + part · scratchBytes.
 */
export function scan_fwd(
  table: usize,
  u: usize,
  delta: usize,
  z: usize,
  A2: usize,
  B: usize,
  C: usize,
  Dv: usize,
  bias: usize,
  state: usize,
  out: usize,
  scratch: usize,
  scratchBytes: i32,
  batch: i32,
  dim: i32,
  L: i32,
  Np: i32,
  flags: i32,
  part: i32,
  parts: i32,
): void {
  loadConstants(table);
  const softplus = (flags & 1) != 0;
  const varB = (flags & 2) != 0;
  const varC = (flags & 4) != 0;
  const hasZ = (flags & 8) != 0;
  const pairs = (dim + 1) >> 1;
  const items = batch * pairs;
  const start = (items * part) / parts;
  const end = (items * (part + 1)) / parts;
  const rowVec = <usize>((L + 3) >> 2) << 4;
  const base = scratch + <usize>part * <usize>scratchBytes;
  const rowBytes = <usize>L << 2;
  const npBytes = <usize>Np << 2;
  const bStep: usize = varB ? npBytes : 0;
  const cStep: usize = varC ? npBytes : 0;
  for (let item = start; item < end; item++) {
    const b = item / pairs;
    const d = (item % pairs) << 1;
    const two = d + 1 < dim;
    const row = b * dim + d;
    const off = <usize>row * rowBytes;
    const dv0 = base;
    const dv1 = base + rowVec;
    const y0 = base + 2 * rowVec;
    const y1 = base + 3 * rowVec;
    const a0 = A2 + <usize>d * npBytes;
    prepareDelta(delta + off, load<f32>(bias + (<usize>d << 2)), softplus, dv0, L);
    const free0 = rowInRange(a0, Np);
    let free1 = true;
    if (two) {
      prepareDelta(delta + off + rowBytes, load<f32>(bias + (<usize>d << 2), 4), softplus, dv1, L);
      free1 = rowInRange(a0 + npBytes, Np);
    }
    const u0 = u + off;
    const u1 = u0 + rowBytes;
    const h0 = state + <usize>row * npBytes;
    const bVar = B + <usize>b * <usize>L * npBytes;
    const cVar = C + <usize>b * <usize>L * npBytes;
    const b0 = varB ? bVar : B + <usize>d * npBytes;
    const c0 = varC ? cVar : C + <usize>d * npBytes;
    const b1 = varB ? bVar : b0 + npBytes;
    const c1 = varC ? cVar : c0 + npBytes;
    for (let i: usize = 0; i < (rowVec << 1); i += 16) v128.store(y0 + i, f32x4.splat(0));
    let g = 0;
    if (two && varB && varC && Np == 16) {
      // The common Mamba shape (N = 16, input-dependent B and C): both rows' 16 states at once.
      if (free0 && free1) scanGroupPair<Unclamped>(dv0, u0, a0, h0, bVar, cVar, y0, rowVec, rowBytes, npBytes, L);
      else scanGroupPair<Clamped>(dv0, u0, a0, h0, bVar, cVar, y0, rowVec, rowBytes, npBytes, L);
      g = 16;
    }
    for (; g + 16 <= Np; g += 16) {
      const go = <usize>g << 2;
      if (free0) scanGroup<Unclamped>(dv0, u0, a0 + go, h0 + go, b0 + go, bStep, c0 + go, cStep, y0, L, 0, 0, npBytes);
      else scanGroup<Clamped>(dv0, u0, a0 + go, h0 + go, b0 + go, bStep, c0 + go, cStep, y0, L, 0, 0, npBytes);
      if (two) {
        if (free1) scanGroup<Unclamped>(dv1, u1, a0 + npBytes + go, h0 + npBytes + go, b1 + go, bStep, c1 + go, cStep, y1, L, 0, 0, npBytes);
        else scanGroup<Clamped>(dv1, u1, a0 + npBytes + go, h0 + npBytes + go, b1 + go, bStep, c1 + go, cStep, y1, L, 0, 0, npBytes);
      }
    }
    for (; g < Np; g += 4) {
      const go = <usize>g << 2;
      if (free0) scanVector<Unclamped>(dv0, u0, a0 + go, h0 + go, b0 + go, bStep, c0 + go, cStep, y0, L, 0, 0, npBytes);
      else scanVector<Clamped>(dv0, u0, a0 + go, h0 + go, b0 + go, bStep, c0 + go, cStep, y0, L, 0, 0, npBytes);
      if (two) {
        if (free1) scanVector<Unclamped>(dv1, u1, a0 + npBytes + go, h0 + npBytes + go, b1 + go, bStep, c1 + go, cStep, y1, L, 0, 0, npBytes);
        else scanVector<Clamped>(dv1, u1, a0 + npBytes + go, h0 + npBytes + go, b1 + go, bStep, c1 + go, cStep, y1, L, 0, 0, npBytes);
      }
    }
    finishRow(y0, u0, z + off, out + off, load<f32>(Dv + (<usize>d << 2)), hasZ, L);
    if (two) finishRow(y1, u1, z + off + rowBytes, out + off + rowBytes, load<f32>(Dv + (<usize>d << 2), 4), hasZ, L);
  }
}

/**
 * Bytes of scratch each part of scan_bwd needs: the recomputed states h_{t−1} [(L+1), Np] and decays [L, Np]
 * of one row, and its Δ, y and dy rows.
 */
export function scan_bwd_scratch_bytes(L: i32, Np: i32): i32 {
  return ((2 * L + 1) * Np + 3 * (((L + 3) >> 2) << 2)) << 2;
}

/**
 * The reverse sweep of 16 states of one row: the adjoint g_t = c_t dy_t + decay_{t+1} g_{t+1} in registers, with
 * q_t = g_t · decay_t · h_{t−1} giving dA += Σ_t q_t Δ_t and dΔ_t = Σ_n (q_t a + g_t u_t b_t); dB_t += g_t Δ_t u_t and
 * dC_t += dy_t h_t read-modify-write their rows (steps 0 when B, C are fixed: one accumulator row). Adds
 * Σ_n q a to ddtRow and Σ_n g b to gbRow; writes dA (the group's slice) and the initial-state gradient.
 */
function reverseGroup(
  dvRow: usize,
  uRow: usize,
  dyRow: usize,
  a: usize,
  hs: usize,
  dec: usize,
  npBytes: usize,
  bp: usize,
  bStep: usize,
  cp: usize,
  cStep: usize,
  dBp: usize,
  dCp: usize,
  ddtRow: usize,
  gbRow: usize,
  dA: usize,
  dstate: usize,
  L: i32,
): void {
  const a0 = v128.load(a);
  const a1 = v128.load(a, 16);
  const a2 = v128.load(a, 32);
  const a3 = v128.load(a, 48);
  const zero = f32x4.splat(0);
  let k0 = zero; // carries decay_{t+1} g_{t+1}
  let k1 = zero;
  let k2 = zero;
  let k3 = zero;
  let s0 = zero; // Σ_t q Δ
  let s1 = zero;
  let s2 = zero;
  let s3 = zero;
  const last = <usize>(L - 1);
  let hp = hs + last * npBytes; // h_{t−1}
  let ep = dec + last * npBytes;
  bp += last * bStep;
  cp += last * cStep;
  dBp += last * bStep;
  dCp += last * cStep;
  for (let t = L - 1; t >= 0; t--) {
    const tb = <usize>t << 2;
    const dt = load<f32>(dvRow + tb);
    const dy = f32x4.splat(load<f32>(dyRow + tb));
    const dv = f32x4.splat(dt);
    const dtu = f32x4.splat(dt * load<f32>(uRow + tb));
    const g0 = f32x4.add(f32x4.mul(v128.load(cp), dy), k0);
    const g1 = f32x4.add(f32x4.mul(v128.load(cp, 16), dy), k1);
    const g2 = f32x4.add(f32x4.mul(v128.load(cp, 32), dy), k2);
    const g3 = f32x4.add(f32x4.mul(v128.load(cp, 48), dy), k3);
    const e0 = v128.load(ep);
    const e1 = v128.load(ep, 16);
    const e2 = v128.load(ep, 32);
    const e3 = v128.load(ep, 48);
    const q0 = f32x4.mul(f32x4.mul(g0, e0), v128.load(hp));
    const q1 = f32x4.mul(f32x4.mul(g1, e1), v128.load(hp, 16));
    const q2 = f32x4.mul(f32x4.mul(g2, e2), v128.load(hp, 32));
    const q3 = f32x4.mul(f32x4.mul(g3, e3), v128.load(hp, 48));
    s0 = f32x4.add(s0, f32x4.mul(q0, dv));
    s1 = f32x4.add(s1, f32x4.mul(q1, dv));
    s2 = f32x4.add(s2, f32x4.mul(q2, dv));
    s3 = f32x4.add(s3, f32x4.mul(q3, dv));
    const qa = f32x4.add(f32x4.add(f32x4.mul(q0, a0), f32x4.mul(q1, a1)), f32x4.add(f32x4.mul(q2, a2), f32x4.mul(q3, a3)));
    const gb = f32x4.add(
      f32x4.add(f32x4.mul(g0, v128.load(bp)), f32x4.mul(g1, v128.load(bp, 16))),
      f32x4.add(f32x4.mul(g2, v128.load(bp, 32)), f32x4.mul(g3, v128.load(bp, 48))),
    );
    // h_t = hs[t + 1] for dC.
    const hn = hp + npBytes;
    v128.store(dCp, f32x4.add(v128.load(dCp), f32x4.mul(dy, v128.load(hn))));
    v128.store(dCp, f32x4.add(v128.load(dCp, 16), f32x4.mul(dy, v128.load(hn, 16))), 16);
    v128.store(dCp, f32x4.add(v128.load(dCp, 32), f32x4.mul(dy, v128.load(hn, 32))), 32);
    v128.store(dCp, f32x4.add(v128.load(dCp, 48), f32x4.mul(dy, v128.load(hn, 48))), 48);
    v128.store(dBp, f32x4.add(v128.load(dBp), f32x4.mul(g0, dtu)));
    v128.store(dBp, f32x4.add(v128.load(dBp, 16), f32x4.mul(g1, dtu)), 16);
    v128.store(dBp, f32x4.add(v128.load(dBp, 32), f32x4.mul(g2, dtu)), 32);
    v128.store(dBp, f32x4.add(v128.load(dBp, 48), f32x4.mul(g3, dtu)), 48);
    // lane 0: Σ qa, lane 2: Σ gb.
    const x = f32x4.add(i32x4.shuffle(qa, gb, 0, 1, 4, 5), i32x4.shuffle(qa, gb, 2, 3, 6, 7));
    const s = f32x4.add(x, i32x4.shuffle(x, x, 1, 0, 3, 2));
    store<f32>(ddtRow + tb, load<f32>(ddtRow + tb) + f32x4.extract_lane(s, 0));
    store<f32>(gbRow + tb, load<f32>(gbRow + tb) + f32x4.extract_lane(s, 2));
    k0 = f32x4.mul(e0, g0);
    k1 = f32x4.mul(e1, g1);
    k2 = f32x4.mul(e2, g2);
    k3 = f32x4.mul(e3, g3);
    hp -= npBytes;
    ep -= npBytes;
    bp -= bStep;
    cp -= cStep;
    dBp -= bStep;
    dCp -= cStep;
  }
  v128.store(dA, s0);
  v128.store(dA, s1, 16);
  v128.store(dA, s2, 32);
  v128.store(dA, s3, 48);
  v128.store(dstate, k0);
  v128.store(dstate, k1, 16);
  v128.store(dstate, k2, 32);
  v128.store(dstate, k3, 48);
}

/** reverseGroup for one state vector (4 states). */
function reverseVector(
  dvRow: usize,
  uRow: usize,
  dyRow: usize,
  a: usize,
  hs: usize,
  dec: usize,
  npBytes: usize,
  bp: usize,
  bStep: usize,
  cp: usize,
  cStep: usize,
  dBp: usize,
  dCp: usize,
  ddtRow: usize,
  gbRow: usize,
  dA: usize,
  dstate: usize,
  L: i32,
): void {
  const av = v128.load(a);
  let k = f32x4.splat(0);
  let sA = f32x4.splat(0);
  const last = <usize>(L - 1);
  let hp = hs + last * npBytes;
  let ep = dec + last * npBytes;
  bp += last * bStep;
  cp += last * cStep;
  dBp += last * bStep;
  dCp += last * cStep;
  for (let t = L - 1; t >= 0; t--) {
    const tb = <usize>t << 2;
    const dt = load<f32>(dvRow + tb);
    const dy = f32x4.splat(load<f32>(dyRow + tb));
    const g = f32x4.add(f32x4.mul(v128.load(cp), dy), k);
    const e = v128.load(ep);
    const q = f32x4.mul(f32x4.mul(g, e), v128.load(hp));
    sA = f32x4.add(sA, f32x4.mul(q, f32x4.splat(dt)));
    v128.store(dCp, f32x4.add(v128.load(dCp), f32x4.mul(dy, v128.load(hp + npBytes))));
    v128.store(dBp, f32x4.add(v128.load(dBp), f32x4.mul(g, f32x4.splat(dt * load<f32>(uRow + tb)))));
    store<f32>(ddtRow + tb, load<f32>(ddtRow + tb) + lanesSum(f32x4.mul(q, av)));
    store<f32>(gbRow + tb, load<f32>(gbRow + tb) + lanesSum(f32x4.mul(g, v128.load(bp))));
    k = f32x4.mul(e, g);
    hp -= npBytes;
    ep -= npBytes;
    bp -= bStep;
    cp -= cStep;
    dBp -= bStep;
    dCp -= cStep;
  }
  v128.store(dA, sA);
  v128.store(dstate, k);
}

/**
 * Backward scan, one (batch, channel) row at a time, in the forward kernel's layouts (see scan_fwd; A is passed
 * both natural and as A·log₂e): the row's states and decays are recomputed forward into scratch, then the
 * adjoint runs in reverse with 16 states in registers. Outputs:
 *   du, ddelta, dz: [Bt, D, L]      dA, dstate0: [Bt, D, Np] (dA summed over batch by the host)
 *   dDv, dBias: [Bt, D] (summed over batch by the host)
 *   dB, dC input-dependent: per part [parts, Bt, L, Np] (summed over parts by the host); fixed: [Bt, D, Np]
 * Split over rows; each part uses scan_bwd_scratch_bytes(L, Np) of scratch at scratch + part · scratchBytes.
 */
export function scan_bwd(
  table: usize,
  u: usize,
  delta: usize,
  z: usize,
  A: usize,
  A2: usize,
  B: usize,
  C: usize,
  Dv: usize,
  bias: usize,
  state0: usize,
  dout: usize,
  du: usize,
  ddelta: usize,
  dz: usize,
  dA: usize,
  dB: usize,
  dC: usize,
  dDv: usize,
  dBias: usize,
  dstate0: usize,
  scratch: usize,
  scratchBytes: i32,
  batch: i32,
  dim: i32,
  L: i32,
  Np: i32,
  flags: i32,
  part: i32,
  parts: i32,
): void {
  loadConstants(table);
  const softplus = (flags & 1) != 0;
  const varB = (flags & 2) != 0;
  const varC = (flags & 4) != 0;
  const hasZ = (flags & 8) != 0;
  const rows = batch * dim;
  const start = (rows * part) / parts;
  const end = (rows * (part + 1)) / parts;
  const npBytes = <usize>Np << 2;
  const rowBytes = <usize>L << 2;
  const rowVec = <usize>((L + 3) >> 2) << 4;
  const L4 = L & ~3;
  const tail = L - L4;
  const base = scratch + <usize>part * <usize>scratchBytes;
  const hs = base;
  const dec = hs + <usize>(L + 1) * npBytes;
  const dvRow = dec + <usize>L * npBytes;
  const yRow = dvRow + rowVec;
  const dyRow = yRow + rowVec;
  const bStep: usize = varB ? npBytes : 0;
  const cStep: usize = varC ? npBytes : 0;
  // This part's dB / dC partial sums over its rows (input-dependent B, C).
  const partBytes = <usize>batch * <usize>L * npBytes;
  const dBmine = dB + <usize>part * partBytes;
  const dCmine = dC + <usize>part * partBytes;
  const zero = f32x4.splat(0);
  if (varB) for (let i: usize = 0; i < partBytes; i += 16) v128.store(dBmine + i, zero);
  if (varC) for (let i: usize = 0; i < partBytes; i += 16) v128.store(dCmine + i, zero);

  for (let row = start; row < end; row++) {
    const b = row / dim;
    const d = row % dim;
    const off = <usize>row * rowBytes;
    const uRow = u + off;
    const biasValue = load<f32>(bias + (<usize>d << 2));
    prepareDelta(delta + off, biasValue, softplus, dvRow, L);
    const aRow = A + <usize>d * npBytes;
    const a2Row = A2 + <usize>d * npBytes;
    const free = rowInRange(a2Row, Np);
    const bRow = varB ? B + <usize>b * <usize>L * npBytes : B + <usize>d * npBytes;
    const cRow = varC ? C + <usize>b * <usize>L * npBytes : C + <usize>d * npBytes;
    const dBrow = varB ? dBmine + <usize>b * <usize>L * npBytes : dB + <usize>row * npBytes;
    const dCrow = varC ? dCmine + <usize>b * <usize>L * npBytes : dC + <usize>row * npBytes;
    if (!varB) for (let i: usize = 0; i < npBytes; i += 16) v128.store(dBrow + i, zero);
    if (!varC) for (let i: usize = 0; i < npBytes; i += 16) v128.store(dCrow + i, zero);

    // Forward: h_t of every state into hs + (t+1)·Np (hs[0] = the initial state), the decays, and y = Σ c·h.
    // The running state lives in this row's dstate0 slot, which the reverse sweep overwrites.
    const stateRow = state0 + <usize>row * npBytes;
    const work = dstate0 + <usize>row * npBytes;
    memory.copy(hs, stateRow, npBytes);
    memory.copy(work, stateRow, npBytes);
    for (let i: usize = 0; i < rowVec; i += 16) v128.store(yRow + i, zero);
    let g = 0;
    for (; g + 16 <= Np; g += 16) {
      const go = <usize>g << 2;
      if (free) scanGroup<Unclamped>(dvRow, uRow, a2Row + go, work + go, bRow + go, bStep, cRow + go, cStep, yRow, L, hs + npBytes + go, dec + go, npBytes);
      else scanGroup<Clamped>(dvRow, uRow, a2Row + go, work + go, bRow + go, bStep, cRow + go, cStep, yRow, L, hs + npBytes + go, dec + go, npBytes);
    }
    for (; g < Np; g += 4) {
      const go = <usize>g << 2;
      if (free) scanVector<Unclamped>(dvRow, uRow, a2Row + go, work + go, bRow + go, bStep, cRow + go, cStep, yRow, L, hs + npBytes + go, dec + go, npBytes);
      else scanVector<Clamped>(dvRow, uRow, a2Row + go, work + go, bRow + go, bStep, cRow + go, cStep, yRow, L, hs + npBytes + go, dec + go, npBytes);
    }

    // dy = dout · silu(z), dz = dout · (y + D u) · silu'(z), dD = Σ dy u. ddelta and du rows start at 0 and
    // collect Σ q a and Σ g b from the reverse sweeps.
    const skip = f32x4.splat(load<f32>(Dv + (<usize>d << 2)));
    let accD = zero;
    const one = ONE;
    const ddRow = ddelta + off;
    const duRow = du + off;
    for (let t = 0; t < L; t += 4) {
      const tb = <usize>t << 2;
      const full = t < L4;
      const uv = full ? v128.load(uRow + tb) : loadPartial(uRow + tb, tail);
      let dy = full ? v128.load(dout + off + tb) : loadPartial(dout + off + tb, tail);
      if (hasZ) {
        const zv = full ? v128.load(z + off + tb) : loadPartial(z + off + tb, tail);
        const s = sigmoidv(zv);
        const pre = f32x4.add(v128.load(yRow + tb), f32x4.mul(skip, uv));
        const dsilu = f32x4.mul(s, f32x4.add(one, f32x4.mul(zv, f32x4.sub(one, s))));
        const dzv = f32x4.mul(f32x4.mul(dy, pre), dsilu);
        if (full) v128.store(dz + off + tb, dzv);
        else storePartial(dz + off + tb, dzv, tail);
        dy = f32x4.mul(dy, f32x4.mul(zv, s));
      }
      v128.store(dyRow + tb, dy);
      accD = f32x4.add(accD, f32x4.mul(dy, uv));
      if (full) {
        v128.store(ddRow + tb, zero);
        v128.store(duRow + tb, zero);
      } else {
        storePartial(ddRow + tb, zero, tail);
        storePartial(duRow + tb, zero, tail);
      }
    }
    store<f32>(dDv + (<usize>row << 2), lanesSum(accD));

    // Reverse sweeps: Σ q a into ddelta's row, Σ g b into du's row (finished below).
    g = 0;
    for (; g + 16 <= Np; g += 16) {
      const go = <usize>g << 2;
      reverseGroup(dvRow, uRow, dyRow, aRow + go, hs + go, dec + go, npBytes, bRow + go, bStep, cRow + go, cStep, dBrow + go, dCrow + go, ddRow, duRow, dA + <usize>row * npBytes + go, dstate0 + <usize>row * npBytes + go, L);
    }
    for (; g < Np; g += 4) {
      const go = <usize>g << 2;
      reverseVector(dvRow, uRow, dyRow, aRow + go, hs + go, dec + go, npBytes, bRow + go, bStep, cRow + go, cStep, dBrow + go, dCrow + go, ddRow, duRow, dA + <usize>row * npBytes + go, dstate0 + <usize>row * npBytes + go, L);
    }

    // dΔ = Σ q a + u Σ g b, through softplus: · sigmoid(delta + bias); du = dy D + Δ Σ g b.
    const biasv = f32x4.splat(biasValue);
    let accBias = zero;
    for (let t = 0; t < L; t += 4) {
      const tb = <usize>t << 2;
      const full = t < L4;
      const uv = full ? v128.load(uRow + tb) : loadPartial(uRow + tb, tail);
      const qa = full ? v128.load(ddRow + tb) : loadPartial(ddRow + tb, tail);
      const gb = full ? v128.load(duRow + tb) : loadPartial(duRow + tb, tail);
      let ddt = f32x4.add(qa, f32x4.mul(uv, gb));
      if (softplus) {
        const pre = f32x4.add(full ? v128.load(delta + off + tb) : loadPartial(delta + off + tb, tail), biasv);
        ddt = f32x4.mul(ddt, sigmoidv(pre));
      }
      const duv = f32x4.add(f32x4.mul(v128.load(dyRow + tb), skip), f32x4.mul(v128.load(dvRow + tb), gb));
      accBias = f32x4.add(accBias, ddt); // padded lanes have u = qa = gb = 0, so ddt = 0 there
      if (full) {
        v128.store(ddRow + tb, ddt);
        v128.store(duRow + tb, duv);
      } else {
        storePartial(ddRow + tb, ddt, tail);
        storePartial(duRow + tb, duv, tail);
      }
    }
    store<f32>(dBias + (<usize>row << 2), lanesSum(accBias));
  }
}

/** exp, sigmoid and softplus of n floats (n a multiple of 4), for tests of the polynomial approximations. */
export function math_probe(table: usize, x: usize, outExp: usize, outSigmoid: usize, outSoftplus: usize, n: i32, part: i32, parts: i32): void {
  loadConstants(table);
  for (let i = part * 4; i < n; i += 4 * parts) {
    const off = <usize>i << 2;
    const v = v128.load(x + off);
    v128.store(outExp + off, expNonPositive(negAbs(v)));
    v128.store(outSigmoid + off, sigmoidv(v));
    v128.store(outSoftplus + off, softplusv(v));
  }
}

/**
 * dst[b, c, r] = src[b, r, c] for r < rows, c < cols, with row strides srcStride / dstStride and batch strides
 * (all in floats), in 8 × 8 tiles. Split over batch × row-tiles.
 */
export function transpose(
  src: usize,
  dst: usize,
  batch: i32,
  rows: i32,
  cols: i32,
  srcStride: i32,
  dstStride: i32,
  srcBatch: i32,
  dstBatch: i32,
  part: i32,
  parts: i32,
): void {
  const rowTiles = (rows + 7) >> 3;
  const total = batch * rowTiles;
  const start = (total * part) / parts;
  const end = (total * (part + 1)) / parts;
  for (let item = start; item < end; item++) {
    const b = item / rowTiles;
    const r0 = (item % rowTiles) << 3;
    const r1 = min(rows, r0 + 8);
    const s = src + ((<usize>b * <usize>srcBatch) << 2);
    const d = dst + ((<usize>b * <usize>dstBatch) << 2);
    for (let c0 = 0; c0 < cols; c0 += 8) {
      const c1 = min(cols, c0 + 8);
      for (let r = r0; r < r1; r++) {
        const srow = s + ((<usize>r * <usize>srcStride) << 2);
        for (let c = c0; c < c1; c++) {
          store<f32>(d + ((<usize>c * <usize>dstStride + <usize>r) << 2), load<f32>(srow + (<usize>c << 2)));
        }
      }
    }
  }
}
