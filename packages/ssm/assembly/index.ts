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
let EXP_LO: v128 = i32x4.splat(0);
let EXP_HI: v128 = i32x4.splat(0);
let LOG2E: v128 = i32x4.splat(0);
let MAGIC: v128 = i32x4.splat(0);
let LN2_HI: v128 = i32x4.splat(0);
let LN2_LO: v128 = i32x4.splat(0);
let EP0: v128 = i32x4.splat(0);
let EP1: v128 = i32x4.splat(0);
let EP2: v128 = i32x4.splat(0);
let EP3: v128 = i32x4.splat(0);
let EP4: v128 = i32x4.splat(0);
let EP5: v128 = i32x4.splat(0);
let ONE: v128 = i32x4.splat(0);
let I127: v128 = i32x4.splat(0);
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
let EXPV_HI: v128 = i32x4.splat(0);
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

/** Loads the constant table written by the host (see src/kernels/constants.ts). */
function loadConstants(table: usize): void {
  EXP_LO = v128.load(table, 0);
  EXP_HI = v128.load(table, 16);
  LOG2E = v128.load(table, 32);
  MAGIC = v128.load(table, 48);
  LN2_HI = v128.load(table, 64);
  LN2_LO = v128.load(table, 80);
  EP0 = v128.load(table, 96);
  EP1 = v128.load(table, 112);
  EP2 = v128.load(table, 128);
  EP3 = v128.load(table, 144);
  EP4 = v128.load(table, 160);
  EP5 = v128.load(table, 176);
  ONE = v128.load(table, 192);
  I127 = v128.load(table, 208);
  ZERO = v128.load(table, 224);
  X2_LO = v128.load(table, 240);
  X2_HI = v128.load(table, 256);
  X2_MAGIC = v128.load(table, 272);
  Q1 = v128.load(table, 288);
  Q2 = v128.load(table, 304);
  Q3 = v128.load(table, 320);
  Q4 = v128.load(table, 336);
  Q5 = v128.load(table, 352);
  EXPV_LO = v128.load(table, 368);
  EXPV_HI = v128.load(table, 384);
  E1 = v128.load(table, 400);
  E2 = v128.load(table, 416);
  E3 = v128.load(table, 432);
  E4 = v128.load(table, 448);
  E5 = v128.load(table, 464);
  K1 = v128.load(table, 480);
  K2 = v128.load(table, 496);
  K3 = v128.load(table, 512);
  K4 = v128.load(table, 528);
  TWO = v128.load(table, 544);
}

/**
 * expv with its constants passed in (hot loops keep them in locals loaded from the table, which V8 holds in
 * registers or stack slots instead of rebuilding them each iteration). c0..c13 are table rows 0..13.
 */
@inline
function expl(
  x: v128,
  lo: v128,
  hi: v128,
  log2e: v128,
  magic: v128,
  ln2hi: v128,
  ln2lo: v128,
  p0: v128,
  p1: v128,
  p2: v128,
  p3: v128,
  p4: v128,
  p5: v128,
  one: v128,
  i127: v128,
): v128 {
  x = f32x4.pmin(f32x4.pmax(x, lo), hi);
  const km = f32x4.add(f32x4.mul(x, log2e), magic);
  const k = f32x4.sub(km, magic);
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(k, ln2hi)), f32x4.mul(k, ln2lo));
  let p = f32x4.add(f32x4.mul(p0, r), p1);
  p = f32x4.add(f32x4.mul(p, r), p2);
  p = f32x4.add(f32x4.mul(p, r), p3);
  p = f32x4.add(f32x4.mul(p, r), p4);
  p = f32x4.add(f32x4.mul(p, r), p5);
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), one);
  const ki = i32x4.sub(km, magic);
  const half = i32x4.shr_s(ki, 1);
  const s1 = i32x4.shl(i32x4.add(half, i127), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ki, half), i127), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

/**
 * e^x on four lanes for the elementwise maps (softplus, sigmoid): Cody–Waite reduction x = k ln2 + r (ln2 in two
 * parts), |r| ≤ ln2/2, the decays' degree-5 polynomial rescaled to e^r, and 2^k from the magic-number trick as in
 * exp2d. x is clamped to [−86.6, 88.3] (2^k normal); both callers pass x ≤ 0.
 */
@inline
function expv(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, EXPV_LO), EXPV_HI);
  const km = f32x4.add(f32x4.mul(x, LOG2E), X2_MAGIC);
  const k = f32x4.sub(km, X2_MAGIC);
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(k, LN2_HI)), f32x4.mul(k, LN2_LO));
  let p = f32x4.add(f32x4.mul(E5, r), E4);
  p = f32x4.add(f32x4.mul(p, r), E3);
  p = f32x4.add(f32x4.mul(p, r), E2);
  p = f32x4.add(f32x4.mul(p, r), E1);
  p = f32x4.add(f32x4.mul(p, r), ONE);
  return f32x4.mul(p, i32x4.shl(km, 23));
}

/**
 * softplus(x) = max(x, 0) + log1p(e^−|x|), with log1p(e) = 2 atanh(s), s = e / (2 + e) ∈ [0, ⅓], as
 * 2s·(1 + t(K1 + t(K2 + t(K3 + t K4)))), t = s², a minimax fit made here (no cancellation for small e, one
 * division). Above x = 20 the second term is below half an ulp of x, so the result is x exactly, as torch's
 * threshold gives.
 */
@inline
function softplusv(x: v128): v128 {
  const e = expv(f32x4.neg(f32x4.abs(x)));
  const s = f32x4.div(e, f32x4.add(TWO, e));
  const t = f32x4.mul(s, s);
  let p = f32x4.add(f32x4.mul(K4, t), K3);
  p = f32x4.add(f32x4.mul(p, t), K2);
  p = f32x4.add(f32x4.mul(p, t), K1);
  p = f32x4.add(f32x4.mul(p, t), ONE);
  return f32x4.add(f32x4.pmax(x, ZERO), f32x4.mul(f32x4.add(s, s), p));
}

/** 1 / (1 + e^−x), as e^−|x| / (1 + e^−|x|) for x < 0 (no overflow, no cancellation). */
@inline
function sigmoidv(x: v128): v128 {
  const e = expv(f32x4.neg(f32x4.abs(x)));
  return f32x4.div(v128.bitselect(ONE, e, f32x4.ge(x, ZERO)), f32x4.add(ONE, e));
}

@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** Bytes of scratch each part of scan_fwd needs: Δ and y rows of L floats for two rows, in whole vectors. */
export function scan_fwd_scratch_bytes(L: i32): i32 {
  return ((L + 3) >> 2) << 6;
}

/**
 * 2^x on four lanes for the decays: x = k + r with k = round(x) (the 1.5·2²³ + 127 trick leaves k + 127 in the
 * low mantissa bits, so one shift makes 2^k), |r| ≤ ½, and a degree-5 minimax polynomial for 2^r fitted here
 * (relative error 2.3e-7 in float32 over the whole range). x is clamped to [−125, 127.49] so that 2^k stays a
 * normal float: results below 2^−125 come out as 2^−125, which multiplies a state by nothing visible.
 */
@inline
function exp2d(x: v128, lo: v128, hi: v128, mag: v128, q1: v128, q2: v128, q3: v128, q4: v128, q5: v128, one: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, lo), hi);
  const km = f32x4.add(x, mag);
  const r = f32x4.sub(x, f32x4.sub(km, mag));
  let p = f32x4.add(f32x4.mul(q5, r), q4);
  p = f32x4.add(f32x4.mul(p, r), q3);
  p = f32x4.add(f32x4.mul(p, r), q2);
  p = f32x4.add(f32x4.mul(p, r), q1);
  p = f32x4.add(f32x4.mul(p, r), one);
  return f32x4.mul(p, i32x4.shl(km, 23));
}

/** One state vector's update: h ← 2^(Δ·a') h + Δu·b (a' = a·log₂e, prepared by the host). */
@inline
function stateStep(dv: v128, du: v128, a: v128, h: v128, b: v128, lo: v128, hi: v128, mag: v128, q1: v128, q2: v128, q3: v128, q4: v128, q5: v128, one: v128): v128 {
  return f32x4.add(f32x4.mul(exp2d(f32x4.mul(dv, a), lo, hi, mag, q1, q2, q3, q4, q5, one), h), f32x4.mul(du, b));
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

/** Δ_t = softplus(delta_t + bias) (softplus optional) of one row into dvRow (L rounded up to whole vectors). */
function prepareDelta(dRow: usize, biasValue: f32, softplus: bool, dvRow: usize, L: i32): void {
  const L4 = L & ~3;
  const biasv = f32x4.splat(biasValue);
  for (let t = 0; t < L; t += 4) {
    const tb = <usize>t << 2;
    let v = f32x4.add(t < L4 ? v128.load(dRow + tb) : loadPartial(dRow + tb, L - L4), biasv);
    if (softplus) v = softplusv(v);
    v128.store(dvRow + tb, v);
  }
}

/** out_t = (y_t + D u_t) · silu(z_t) for one row. */
function finishRow(yRow: usize, uRow: usize, zRow: usize, oRow: usize, skipValue: f32, hasZ: bool, L: i32): void {
  const L4 = L & ~3;
  const tail = L - L4;
  const skip = f32x4.splat(skipValue);
  for (let t = 0; t < L; t += 4) {
    const tb = <usize>t << 2;
    const full = t < L4;
    const uv = full ? v128.load(uRow + tb) : loadPartial(uRow + tb, tail);
    let y = f32x4.add(v128.load(yRow + tb), f32x4.mul(skip, uv));
    if (hasZ) {
      const zv = full ? v128.load(zRow + tb) : loadPartial(zRow + tb, tail);
      y = f32x4.mul(y, f32x4.mul(zv, sigmoidv(zv)));
    }
    if (full) v128.store(oRow + tb, y);
    else storePartial(oRow + tb, y, tail);
  }
}

/** Σ over the four lanes of v. */
@inline
function lanesSum(v: v128): f32 {
  const s2 = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.add(s2, i32x4.shuffle(s2, s2, 1, 0, 3, 2)), 0);
}

/** 16 states (at a, h, b, c) of one row over the whole row; y_t = or += their Σ c·h. */
function scanGroup(dvRow: usize, uRow: usize, a: usize, hp: usize, bp: usize, bStep: usize, cp: usize, cStep: usize, yRow: usize, L: i32, first: bool): void {
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
    h0 = stateStep(dv, du, a0, h0, v128.load(bp), lo, hi, mag, q1, q2, q3, q4, q5, one);
    h1 = stateStep(dv, du, a1, h1, v128.load(bp, 16), lo, hi, mag, q1, q2, q3, q4, q5, one);
    h2 = stateStep(dv, du, a2, h2, v128.load(bp, 32), lo, hi, mag, q1, q2, q3, q4, q5, one);
    h3 = stateStep(dv, du, a3, h3, v128.load(bp, 48), lo, hi, mag, q1, q2, q3, q4, q5, one);
    const acc = f32x4.add(
      f32x4.add(f32x4.mul(h0, v128.load(cp)), f32x4.mul(h1, v128.load(cp, 16))),
      f32x4.add(f32x4.mul(h2, v128.load(cp, 32)), f32x4.mul(h3, v128.load(cp, 48))),
    );
    const y = lanesSum(acc);
    store<f32>(yRow + tb, first ? y : load<f32>(yRow + tb) + y);
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
function scanGroupPair(dvRow: usize, uRow: usize, a: usize, hp: usize, bp: usize, cp: usize, yRow: usize, vecStride: usize, rowStride: usize, npStride: usize, L: i32): void {
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
    h0 = stateStep(dv, du, a0, h0, bv0, lo, hi, mag, q1, q2, q3, q4, q5, one);
    g0 = stateStep(ev, eu, e0, g0, bv0, lo, hi, mag, q1, q2, q3, q4, q5, one);
    h1 = stateStep(dv, du, a1, h1, bv1, lo, hi, mag, q1, q2, q3, q4, q5, one);
    g1 = stateStep(ev, eu, e1, g1, bv1, lo, hi, mag, q1, q2, q3, q4, q5, one);
    h2 = stateStep(dv, du, a2, h2, bv2, lo, hi, mag, q1, q2, q3, q4, q5, one);
    g2 = stateStep(ev, eu, e2, g2, bv2, lo, hi, mag, q1, q2, q3, q4, q5, one);
    h3 = stateStep(dv, du, a3, h3, bv3, lo, hi, mag, q1, q2, q3, q4, q5, one);
    g3 = stateStep(ev, eu, e3, g3, bv3, lo, hi, mag, q1, q2, q3, q4, q5, one);
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

/** One state vector (4 states) of one row over the whole row (the states left after the groups of 16). */
function scanVector(dvRow: usize, uRow: usize, a: usize, hp: usize, bp: usize, bStep: usize, cp: usize, cStep: usize, yRow: usize, L: i32, first: bool): void {
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
    h = stateStep(f32x4.splat(dt), f32x4.splat(dt * load<f32>(uRow + tb)), av, h, v128.load(bp), lo, hi, mag, q1, q2, q3, q4, q5, one);
    const y = lanesSum(f32x4.mul(h, v128.load(cp)));
    store<f32>(yRow + tb, first ? y : load<f32>(yRow + tb) + y);
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
    prepareDelta(delta + off, load<f32>(bias + (<usize>d << 2)), softplus, dv0, L);
    if (two) prepareDelta(delta + off + rowBytes, load<f32>(bias + (<usize>d << 2), 4), softplus, dv1, L);
    const u0 = u + off;
    const u1 = u0 + rowBytes;
    const a0 = A2 + <usize>d * npBytes;
    const h0 = state + <usize>row * npBytes;
    const bVar = B + <usize>b * <usize>L * npBytes;
    const cVar = C + <usize>b * <usize>L * npBytes;
    const b0 = varB ? bVar : B + <usize>d * npBytes;
    const c0 = varC ? cVar : C + <usize>d * npBytes;
    const b1 = varB ? bVar : b0 + npBytes;
    const c1 = varC ? cVar : c0 + npBytes;
    let g = 0;
    let first = true;
    if (two && varB && varC && Np == 16) {
      // The common Mamba shape (N = 16, input-dependent B and C): both rows' 16 states at once.
      for (let i: usize = 0; i < (rowVec << 1); i += 16) v128.store(y0 + i, f32x4.splat(0));
      scanGroupPair(dv0, u0, a0, h0, bVar, cVar, y0, rowVec, rowBytes, npBytes, L);
      g = 16;
      first = false;
    }
    for (; g + 16 <= Np; g += 16) {
      const go = <usize>g << 2;
      scanGroup(dv0, u0, a0 + go, h0 + go, b0 + go, bStep, c0 + go, cStep, y0, L, first);
      if (two) scanGroup(dv1, u1, a0 + npBytes + go, h0 + npBytes + go, b1 + go, bStep, c1 + go, cStep, y1, L, first);
      first = false;
    }
    for (; g < Np; g += 4) {
      const go = <usize>g << 2;
      scanVector(dv0, u0, a0 + go, h0 + go, b0 + go, bStep, c0 + go, cStep, y0, L, first);
      if (two) scanVector(dv1, u1, a0 + npBytes + go, h0 + npBytes + go, b1 + go, bStep, c1 + go, cStep, y1, L, first);
      first = false;
    }
    finishRow(y0, u0, z + off, out + off, load<f32>(Dv + (<usize>d << 2)), hasZ, L);
    if (two) finishRow(y1, u1, z + off + rowBytes, out + off + rowBytes, load<f32>(Dv + (<usize>d << 2), 4), hasZ, L);
  }
}

/** Bytes of scratch each part of scan_bwd needs (see scan_bwd). */
export function scan_bwd_scratch_bytes(L: i32, N: i32, flags: i32): i32 {
  let vectors = (L + 1) * N + L * N + L + 4 * N;
  if ((flags & 2) != 0) vectors += L * N;
  if ((flags & 4) != 0) vectors += L * N;
  return vectors << 4;
}

/**
 * Backward scan: the adjoint recurrence g_t = c_t dy_t + exp(Δ_{t+1} a) g_{t+1}, run in reverse after the
 * states are recomputed forward into scratch. Split over (batch, group of channel blocks): part p is batch
 * p / groups, group p % groups. Outputs per element (du, ddelta, dz), per batch partial sums
 * (dApart [Bt, N, Dp], dDpart and dBiasPart [Bt, Dp], fixed dB/dC [Bt, N, Dp]), per group partial sums of
 * input-dependent dB/dC ([groups, Bt, L, N]), and dstate0 (blocked). Each part uses `scratchBytes` of scratch
 * at scratch + part · scratchBytes.
 */
export function scan_bwd(
  table: usize,
  u: usize,
  delta: usize,
  z: usize,
  At: usize,
  B: usize,
  C: usize,
  Dv: usize,
  bias: usize,
  state0: usize,
  dout: usize,
  du: usize,
  ddelta: usize,
  dz: usize,
  dApart: usize,
  dBpart: usize,
  dCpart: usize,
  dDpart: usize,
  dBiasPart: usize,
  dstate0: usize,
  scratch: usize,
  scratchBytes: i32,
  batch: i32,
  Dp: i32,
  L: i32,
  N: i32,
  flags: i32,
  groups: i32,
  part: i32,
  parts: i32,
): void {
  loadConstants(table);
  const cLo = v128.load(table, 0);
  const cHi = v128.load(table, 16);
  const cLog2e = v128.load(table, 32);
  const cMagic = v128.load(table, 48);
  const cLn2hi = v128.load(table, 64);
  const cLn2lo = v128.load(table, 80);
  const cP0 = v128.load(table, 96);
  const cP1 = v128.load(table, 112);
  const cP2 = v128.load(table, 128);
  const cP3 = v128.load(table, 144);
  const cP4 = v128.load(table, 160);
  const cP5 = v128.load(table, 176);
  const cOne = v128.load(table, 192);
  const cI127 = v128.load(table, 208);
  const blocks = Dp >> 2;
  const b = part / groups;
  const g = part % groups;
  const blkStart = (blocks * g) / groups;
  const blkEnd = (blocks * (g + 1)) / groups;
  const softplus = (flags & 1) != 0;
  const varB = (flags & 2) != 0;
  const varC = (flags & 4) != 0;
  const hasZ = (flags & 8) != 0;
  const dpBytes = <usize>Dp << 2;
  const nBytes = <usize>N << 2;
  const LN = <usize>L * <usize>N;
  // Scratch layout (v128 units): xs [(L+1), N], decays [L, N], dvs [L], carry/accA/accB/accC [N] each,
  // then dBvec [L, N] and dCvec [L, N] when B / C are input-dependent.
  const base = scratch + <usize>part * <usize>scratchBytes;
  const xs = base;
  const decays = xs + ((LN + <usize>N) << 4);
  const dvs = decays + (LN << 4);
  const carry = dvs + (<usize>L << 4);
  const accA = carry + (<usize>N << 4);
  const accB = accA + (<usize>N << 4);
  const accC = accB + (<usize>N << 4);
  let tail = accC + (<usize>N << 4);
  const dBvec = tail;
  if (varB) tail += LN << 4;
  const dCvec = tail;
  const zero = ZERO;
  if (varB) for (let i: usize = 0; i < LN; i++) v128.store(dBvec + (i << 4), zero);
  if (varC) for (let i: usize = 0; i < LN; i++) v128.store(dCvec + (i << 4), zero);
  const bVarBase = B + ((<usize>b * LN) << 2);
  const cVarBase = C + ((<usize>b * LN) << 2);
  const rowBase = ((<usize>b * <usize>L * <usize>Dp) << 2);

  for (let blk = blkStart; blk < blkEnd; blk++) {
    const d0 = blk << 2;
    const stateBlock = (<usize>(b * blocks + blk) * <usize>N) << 4;
    const biasv = v128.load(bias + (<usize>d0 << 2));
    const skip = v128.load(Dv + (<usize>d0 << 2));
    const aBase = At + (<usize>d0 << 2);
    const bFixed = B + (<usize>d0 << 2);
    const cFixed = C + (<usize>d0 << 2);
    const bStep: usize = varB ? 4 : dpBytes;
    const cStep: usize = varC ? 4 : dpBytes;
    const chanOff = <usize>d0 << 2;

    // Forward: xs[t + 1] = h_t (xs[0] = h_{-1}), decays[t] = exp(Δ_t a), dvs[t] = Δ_t.
    for (let n = 0; n < N; n++) v128.store(xs + (<usize>n << 4), v128.load(state0 + stateBlock + (<usize>n << 4)));
    for (let t = 0; t < L; t++) {
      const off = rowBase + <usize>t * dpBytes + chanOff;
      const uv = v128.load(u + off);
      let dv = f32x4.add(v128.load(delta + off), biasv);
      if (softplus) dv = softplusv(dv);
      v128.store(dvs + (<usize>t << 4), dv);
      const duv = f32x4.mul(dv, uv);
      let bp = varB ? bVarBase + <usize>t * nBytes : bFixed;
      let ap = aBase;
      const prev = xs + ((<usize>t * <usize>N) << 4);
      const next = prev + (<usize>N << 4);
      const dec = decays + ((<usize>t * <usize>N) << 4);
      for (let n = 0; n < N; n++) {
        const nb = <usize>n << 4;
        const decay = expl(f32x4.mul(dv, v128.load(ap)), cLo, cHi, cLog2e, cMagic, cLn2hi, cLn2lo, cP0, cP1, cP2, cP3, cP4, cP5, cOne, cI127);
        const bn = varB ? f32x4.splat(load<f32>(bp)) : v128.load(bp);
        v128.store(dec + nb, decay);
        v128.store(next + nb, f32x4.add(f32x4.mul(decay, v128.load(prev + nb)), f32x4.mul(duv, bn)));
        ap += dpBytes;
        bp += bStep;
      }
    }

    // Reverse.
    for (let n = 0; n < N; n++) {
      const nb = <usize>n << 4;
      v128.store(carry + nb, zero);
      v128.store(accA + nb, zero);
      v128.store(accB + nb, zero);
      v128.store(accC + nb, zero);
    }
    let accD = zero;
    let accBias = zero;
    for (let t = L - 1; t >= 0; t--) {
      const off = rowBase + <usize>t * dpBytes + chanOff;
      const uv = v128.load(u + off);
      const dv = v128.load(dvs + (<usize>t << 4));
      const prev = xs + ((<usize>t * <usize>N) << 4);
      const next = prev + (<usize>N << 4);
      const dec = decays + ((<usize>t * <usize>N) << 4);
      let dy = v128.load(dout + off);
      if (hasZ) {
        let pre = f32x4.mul(skip, uv);
        let cp = varC ? cVarBase + <usize>t * nBytes : cFixed;
        for (let n = 0; n < N; n++) {
          const cn = varC ? f32x4.splat(load<f32>(cp)) : v128.load(cp);
          pre = f32x4.add(pre, f32x4.mul(cn, v128.load(next + (<usize>n << 4))));
          cp += cStep;
        }
        const zv = v128.load(z + off);
        const s = sigmoidv(zv);
        const one = ONE;
        const dsilu = f32x4.mul(s, f32x4.add(one, f32x4.mul(zv, f32x4.sub(one, s))));
        v128.store(dz + off, f32x4.mul(f32x4.mul(dy, pre), dsilu));
        dy = f32x4.mul(dy, f32x4.mul(zv, s));
      }
      accD = f32x4.add(accD, f32x4.mul(dy, uv));
      let duv = f32x4.mul(dy, skip);
      let ddt = zero;
      const dtu = f32x4.mul(dv, uv);
      let ap = aBase;
      let bp = varB ? bVarBase + <usize>t * nBytes : bFixed;
      let cp = varC ? cVarBase + <usize>t * nBytes : cFixed;
      const dBrow = dBvec + ((<usize>t * <usize>N) << 4);
      const dCrow = dCvec + ((<usize>t * <usize>N) << 4);
      for (let n = 0; n < N; n++) {
        const nb = <usize>n << 4;
        const an = v128.load(ap);
        const bn = varB ? f32x4.splat(load<f32>(bp)) : v128.load(bp);
        const cn = varC ? f32x4.splat(load<f32>(cp)) : v128.load(cp);
        const decay = v128.load(dec + nb);
        const adj = f32x4.add(v128.load(carry + nb), f32x4.mul(cn, dy));
        const dCterm = f32x4.mul(dy, v128.load(next + nb));
        if (varC) v128.store(dCrow + nb, f32x4.add(v128.load(dCrow + nb), dCterm));
        else v128.store(accC + nb, f32x4.add(v128.load(accC + nb), dCterm));
        const dDecay = f32x4.mul(f32x4.mul(adj, v128.load(prev + nb)), decay);
        v128.store(accA + nb, f32x4.add(v128.load(accA + nb), f32x4.mul(dDecay, dv)));
        const adjB = f32x4.mul(adj, bn);
        ddt = f32x4.add(ddt, f32x4.add(f32x4.mul(dDecay, an), f32x4.mul(adjB, uv)));
        duv = f32x4.add(duv, f32x4.mul(adjB, dv));
        const dBterm = f32x4.mul(adj, dtu);
        if (varB) v128.store(dBrow + nb, f32x4.add(v128.load(dBrow + nb), dBterm));
        else v128.store(accB + nb, f32x4.add(v128.load(accB + nb), dBterm));
        v128.store(carry + nb, f32x4.mul(decay, adj));
        ap += dpBytes;
        bp += bStep;
        cp += cStep;
      }
      if (softplus) ddt = f32x4.mul(ddt, sigmoidv(f32x4.add(v128.load(delta + off), biasv)));
      accBias = f32x4.add(accBias, ddt);
      v128.store(ddelta + off, ddt);
      v128.store(du + off, duv);
    }
    const chan = (<usize>(b * Dp + d0)) << 2;
    v128.store(dDpart + chan, accD);
    v128.store(dBiasPart + chan, accBias);
    for (let n = 0; n < N; n++) {
      const nb = <usize>n << 4;
      const row = (<usize>(b * N + n) * <usize>Dp + <usize>d0) << 2;
      v128.store(dApart + row, v128.load(accA + nb));
      if (!varB) v128.store(dBpart + row, v128.load(accB + nb));
      if (!varC) v128.store(dCpart + row, v128.load(accC + nb));
      v128.store(dstate0 + stateBlock + nb, v128.load(carry + nb));
    }
  }
  // Reduce the input-dependent dB/dC over the four lanes (channels) into this group's partial sums.
  const groupBase = (<usize>(g * batch + b) * LN) << 2;
  if (varB) for (let i: usize = 0; i < LN; i++) store<f32>(dBpart + groupBase + (i << 2), hsum(v128.load(dBvec + (i << 4))));
  if (varC) for (let i: usize = 0; i < LN; i++) store<f32>(dCpart + groupBase + (i << 2), hsum(v128.load(dCvec + (i << 4))));
}

/** exp, sigmoid and softplus of n floats (n a multiple of 4), for tests of the polynomial approximations. */
export function math_probe(table: usize, x: usize, outExp: usize, outSigmoid: usize, outSoftplus: usize, n: i32, part: i32, parts: i32): void {
  loadConstants(table);
  for (let i = part * 4; i < n; i += 4 * parts) {
    const off = <usize>i << 2;
    const v = v128.load(x + off);
    v128.store(outExp + off, expv(v));
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
