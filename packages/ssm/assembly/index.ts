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
let SQRTHF: v128 = i32x4.splat(0);
let MANT_MASK: v128 = i32x4.splat(0);
let HALF_BITS: v128 = i32x4.splat(0);
let I126: v128 = i32x4.splat(0);
let LP0: v128 = i32x4.splat(0);
let LP1: v128 = i32x4.splat(0);
let LP2: v128 = i32x4.splat(0);
let LP3: v128 = i32x4.splat(0);
let LP4: v128 = i32x4.splat(0);
let LP5: v128 = i32x4.splat(0);
let LP6: v128 = i32x4.splat(0);
let LP7: v128 = i32x4.splat(0);
let LP8: v128 = i32x4.splat(0);
let HALF: v128 = i32x4.splat(0);
let TWENTY: v128 = i32x4.splat(0);
let ZERO: v128 = i32x4.splat(0);

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
  SQRTHF = v128.load(table, 224);
  MANT_MASK = v128.load(table, 240);
  HALF_BITS = v128.load(table, 256);
  I126 = v128.load(table, 272);
  LP0 = v128.load(table, 288);
  LP1 = v128.load(table, 304);
  LP2 = v128.load(table, 320);
  LP3 = v128.load(table, 336);
  LP4 = v128.load(table, 352);
  LP5 = v128.load(table, 368);
  LP6 = v128.load(table, 384);
  LP7 = v128.load(table, 400);
  LP8 = v128.load(table, 416);
  HALF = v128.load(table, 432);
  TWENTY = v128.load(table, 448);
  ZERO = v128.load(table, 464);
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
 * exp(x) on four lanes: x = k ln2 + r, |r| ≤ ln2/2, degree-7 polynomial (cephes expf), times 2^k. k is
 * rounded by the 1.5·2²³ trick (its integer sits in the low mantissa bits), which avoids the slow
 * float→int conversions; pmin/pmax clamp without the NaN fix-ups of min/max (NaN still propagates).
 */
@inline
function expv(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, EXP_LO), EXP_HI);
    const km = f32x4.add(f32x4.mul(x, LOG2E), MAGIC);
  const k = f32x4.sub(km, MAGIC);
  let r = f32x4.sub(x, f32x4.mul(k, LN2_HI));
  r = f32x4.sub(r, f32x4.mul(k, LN2_LO));
  let p = EP0;
  p = f32x4.add(f32x4.mul(p, r), EP1);
  p = f32x4.add(f32x4.mul(p, r), EP2);
  p = f32x4.add(f32x4.mul(p, r), EP3);
  p = f32x4.add(f32x4.mul(p, r), EP4);
  p = f32x4.add(f32x4.mul(p, r), EP5);
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), ONE);
  // 2^k as two factors 2^(k>>1) · 2^(k − k>>1): k ∈ [−126, 128] after the clamp, and 2^128 overflows.
  const ki = i32x4.sub(km, MAGIC); // integer k (bit difference of two floats with the same exponent)
  const half = i32x4.shr_s(ki, 1);
  const s1 = i32x4.shl(i32x4.add(half, I127), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ki, half), I127), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

/** log(x) for x > 0 on four lanes (cephes logf: mantissa in [√½, √2), degree-9 polynomial). */
@inline
function logv(x: v128): v128 {
  let e = i32x4.sub(i32x4.shr_u(x, 23), I126);
  let m = v128.or(v128.and(x, MANT_MASK), HALF_BITS); // [0.5, 1)
  const small = f32x4.lt(m, SQRTHF);
  e = i32x4.add(e, small); // small is −1 where true
  m = f32x4.sub(f32x4.add(m, v128.and(m, small)), ONE);
  const ef = f32x4.convert_i32x4_s(e);
  const z = f32x4.mul(m, m);
  let y = LP0;
  y = f32x4.add(f32x4.mul(y, m), LP1);
  y = f32x4.add(f32x4.mul(y, m), LP2);
  y = f32x4.add(f32x4.mul(y, m), LP3);
  y = f32x4.add(f32x4.mul(y, m), LP4);
  y = f32x4.add(f32x4.mul(y, m), LP5);
  y = f32x4.add(f32x4.mul(y, m), LP6);
  y = f32x4.add(f32x4.mul(y, m), LP7);
  y = f32x4.add(f32x4.mul(y, m), LP8);
  y = f32x4.mul(f32x4.mul(y, m), z);
  y = f32x4.add(y, f32x4.mul(ef, LN2_LO));
  y = f32x4.sub(y, f32x4.mul(z, HALF));
  return f32x4.add(f32x4.add(m, y), f32x4.mul(ef, LN2_HI));
}

/** softplus(x) as torch (x above 20), with log1p by Kahan's correction log(1+e)·e/((1+e)−1). */
@inline
function softplusv(x: v128): v128 {
  const e = expv(x);
  const one = ONE;
  const w = f32x4.add(one, e);
  const wm1 = f32x4.sub(w, one);
  const exact = f32x4.eq(wm1, ZERO);
  const corrected = f32x4.mul(logv(w), f32x4.div(e, v128.bitselect(one, wm1, exact)));
  const lp = v128.bitselect(e, corrected, exact);
  return v128.bitselect(x, lp, f32x4.gt(x, TWENTY));
}

/** 1 / (1 + exp(−x)). */
@inline
function sigmoidv(x: v128): v128 {
  const one = ONE;
  return f32x4.div(one, f32x4.add(one, expv(f32x4.neg(x))));
}

@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * Forward scan. `state` holds the initial state on entry and the last state on return (blocked layout).
 * Split over (batch, block of 4 channels) pairs.
 */
export function scan_fwd(
  table: usize,
  u: usize,
  delta: usize,
  z: usize,
  At: usize,
  B: usize,
  C: usize,
  Dv: usize,
  bias: usize,
  state: usize,
  out: usize,
  batch: i32,
  Dp: i32,
  L: i32,
  N: i32,
  flags: i32,
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
  // Items are pairs of 4-channel blocks (two independent exp chains per iteration for instruction-level
  // parallelism, and shared loads of b_n, c_n); the last pair may hold one block.
  const pairs = (blocks + 1) >> 1;
  const total = batch * pairs;
  const start = (total * part) / parts;
  const end = (total * (part + 1)) / parts;
  const softplus = (flags & 1) != 0;
  const varB = (flags & 2) != 0;
  const varC = (flags & 4) != 0;
  const hasZ = (flags & 8) != 0;
  const dpBytes = <usize>Dp << 2;
  const nBytes = <usize>N << 2;
  const hNext = <usize>N << 4;
  for (let item = start; item < end; item++) {
    const b = item / pairs;
    const blk = (item % pairs) << 1;
    const two = blk + 1 < blocks;
    const d0 = blk << 2;
    const hBase = state + ((<usize>(b * blocks + blk) * <usize>N) << 4);
    const chan = <usize>d0 << 2;
    const bias0 = v128.load(bias + chan);
    const skip0 = v128.load(Dv + chan);
    const bias1 = two ? v128.load(bias + chan, 16) : bias0;
    const skip1 = two ? v128.load(Dv + chan, 16) : skip0;
    const aBase = At + chan;
    const bFixed = B + chan;
    const cFixed = C + chan;
    const bcBase = (<usize>b * <usize>L * <usize>N) << 2;
    let off = ((<usize>b * <usize>L * <usize>Dp) << 2) + chan;
    const bStep: usize = varB ? 4 : dpBytes;
    const cStep: usize = varC ? 4 : dpBytes;
    for (let t = 0; t < L; t++) {
      const u0 = v128.load(u + off);
      let dv0 = f32x4.add(v128.load(delta + off), bias0);
      const u1 = two ? v128.load(u + off, 16) : u0;
      let dv1 = two ? f32x4.add(v128.load(delta + off, 16), bias1) : dv0;
      if (softplus) {
        dv0 = softplusv(dv0);
        dv1 = two ? softplusv(dv1) : dv0;
      }
      const du0 = f32x4.mul(dv0, u0);
      const du1 = f32x4.mul(dv1, u1);
      let y0 = f32x4.mul(skip0, u0);
      let y1 = f32x4.mul(skip1, u1);
      const step = bcBase + <usize>t * nBytes;
      let bp = varB ? B + step : bFixed;
      let cp = varC ? C + step : cFixed;
      let ap = aBase;
      let hp = hBase;
      if (two) {
        for (let n = 0; n < N; n++) {
          const e0 = expl(f32x4.mul(dv0, v128.load(ap)), cLo, cHi, cLog2e, cMagic, cLn2hi, cLn2lo, cP0, cP1, cP2, cP3, cP4, cP5, cOne, cI127);
          const e1 = expl(f32x4.mul(dv1, v128.load(ap, 16)), cLo, cHi, cLog2e, cMagic, cLn2hi, cLn2lo, cP0, cP1, cP2, cP3, cP4, cP5, cOne, cI127);
          let b0: v128;
          let b1: v128;
          if (varB) {
            b0 = f32x4.splat(load<f32>(bp));
            b1 = b0;
          } else {
            b0 = v128.load(bp);
            b1 = v128.load(bp, 16);
          }
          let c0: v128;
          let c1: v128;
          if (varC) {
            c0 = f32x4.splat(load<f32>(cp));
            c1 = c0;
          } else {
            c0 = v128.load(cp);
            c1 = v128.load(cp, 16);
          }
          const h0 = f32x4.add(f32x4.mul(e0, v128.load(hp)), f32x4.mul(du0, b0));
          const h1 = f32x4.add(f32x4.mul(e1, v128.load(hp + hNext)), f32x4.mul(du1, b1));
          v128.store(hp, h0);
          v128.store(hp + hNext, h1);
          y0 = f32x4.add(y0, f32x4.mul(c0, h0));
          y1 = f32x4.add(y1, f32x4.mul(c1, h1));
          ap += dpBytes;
          bp += bStep;
          cp += cStep;
          hp += 16;
        }
      } else {
        for (let n = 0; n < N; n++) {
          const e0 = expl(f32x4.mul(dv0, v128.load(ap)), cLo, cHi, cLog2e, cMagic, cLn2hi, cLn2lo, cP0, cP1, cP2, cP3, cP4, cP5, cOne, cI127);
          const b0 = varB ? f32x4.splat(load<f32>(bp)) : v128.load(bp);
          const c0 = varC ? f32x4.splat(load<f32>(cp)) : v128.load(cp);
          const h0 = f32x4.add(f32x4.mul(e0, v128.load(hp)), f32x4.mul(du0, b0));
          v128.store(hp, h0);
          y0 = f32x4.add(y0, f32x4.mul(c0, h0));
          ap += dpBytes;
          bp += bStep;
          cp += cStep;
          hp += 16;
        }
      }
      if (hasZ) {
        const z0 = v128.load(z + off);
        y0 = f32x4.mul(y0, f32x4.mul(z0, sigmoidv(z0)));
        if (two) {
          const z1 = v128.load(z + off, 16);
          y1 = f32x4.mul(y1, f32x4.mul(z1, sigmoidv(z1)));
        }
      }
      v128.store(out + off, y0);
      if (two) v128.store(out + off, y1, 16);
      off += dpBytes;
    }
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

/** exp, log and softplus of n floats (n a multiple of 4), for tests of the polynomial approximations. */
export function math_probe(table: usize, x: usize, outExp: usize, outLog: usize, outSoftplus: usize, n: i32, part: i32, parts: i32): void {
  loadConstants(table);
  for (let i = part * 4; i < n; i += 4 * parts) {
    const off = <usize>i << 2;
    const v = v128.load(x + off);
    v128.store(outExp + off, expv(v));
    v128.store(outLog + off, logv(v));
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
