// WebAssembly SIMD kernels of @lab/ssm (see packages/tensor/assembly/index.ts for the conventions):
// byte offsets and sizes in, no allocation, (part, parts) last for kernels the worker pool splits.
//
// The selective scan (Gu & Dao 2023, Algorithm 2; mamba selective_scan_ref) runs sequentially in time and
// vectorised over channels: one f32x4 holds the same state index n of four consecutive channels, so a step
// of a block of 4 channels is N vector updates h = exp(Δ a_n) h + Δ u b_n, y += c_n h, with no horizontal
// sums. Layouts (prepared by src/kernels/scan.ts; channels padded to Dp, a multiple of 4):
//   u, delta, z, out, du, ddelta, dz: [Bt, Dp, L]      At (Aᵀ): [N, Dp]
//   B, C input-dependent: [Bt, N, L]; fixed: transposed [N, Dp]      Dv, bias: [Dp]
//   states: blocked [Bt, Dp/4, N, 4] (lane = channel within the block)
// flags: 1 = softplus on delta + bias, 2 = B input-dependent, 4 = C input-dependent, 8 = z gate present.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;

/** exp(x) on four lanes: x = k ln2 + r, |r| ≤ ln2/2, degree-7 polynomial (cephes expf), times 2^k. */
@inline
function expv(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(-87.33654)), f32x4.splat(88.72283));
  const k = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(k, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(k, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1));
  // 2^k by building the exponent bits; k ∈ [−126, 128] after the clamp. 2^128 overflows: split it.
  const ki = i32x4.trunc_sat_f32x4_s(k);
  const half = i32x4.shr_s(ki, 1);
  const s1 = i32x4.shl(i32x4.add(half, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ki, half), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

/** log(x) for x > 0 on four lanes (cephes logf: mantissa in [√½, √2), degree-9 polynomial). */
@inline
function logv(x: v128): v128 {
  let e = i32x4.sub(i32x4.shr_u(x, 23), i32x4.splat(126));
  let m = v128.or(v128.and(x, i32x4.splat(0x807fffff)), i32x4.splat(0x3f000000)); // [0.5, 1)
  const small = f32x4.lt(m, f32x4.splat(0.707106781186547524));
  e = i32x4.add(e, small); // small is −1 where true
  m = f32x4.sub(f32x4.add(m, v128.and(m, small)), f32x4.splat(1));
  const ef = f32x4.convert_i32x4_s(e);
  const z = f32x4.mul(m, m);
  let y = f32x4.splat(7.0376836292e-2);
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-1.1514610310e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(1.1676998740e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-1.2420140846e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(1.4249322787e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-1.6668057665e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(2.0000714765e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-2.4999993993e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(3.3333331174e-1));
  y = f32x4.mul(f32x4.mul(y, m), z);
  y = f32x4.add(y, f32x4.mul(ef, f32x4.splat(LN2_LO)));
  y = f32x4.sub(y, f32x4.mul(z, f32x4.splat(0.5)));
  return f32x4.add(f32x4.add(m, y), f32x4.mul(ef, f32x4.splat(LN2_HI)));
}

/** softplus(x) as torch (x above 20), with log1p by Kahan's correction log(1+e)·e/((1+e)−1). */
@inline
function softplusv(x: v128): v128 {
  const e = expv(x);
  const one = f32x4.splat(1);
  const w = f32x4.add(one, e);
  const wm1 = f32x4.sub(w, one);
  const exact = f32x4.eq(wm1, f32x4.splat(0));
  const corrected = f32x4.mul(logv(w), f32x4.div(e, v128.bitselect(one, wm1, exact)));
  const lp = v128.bitselect(e, corrected, exact);
  return v128.bitselect(x, lp, f32x4.gt(x, f32x4.splat(20)));
}

/** 1 / (1 + exp(−x)). */
@inline
function sigmoidv(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, expv(f32x4.neg(x))));
}

/** Four floats at p, p + stride, p + 2 stride, p + 3 stride (bytes). */
@inline
function gather(p: usize, stride: usize): v128 {
  let v = f32x4.splat(load<f32>(p));
  v = f32x4.replace_lane(v, 1, load<f32>(p + stride));
  v = f32x4.replace_lane(v, 2, load<f32>(p + 2 * stride));
  return f32x4.replace_lane(v, 3, load<f32>(p + 3 * stride));
}

@inline
function scatter(p: usize, stride: usize, v: v128): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  store<f32>(p + stride, f32x4.extract_lane(v, 1));
  store<f32>(p + 2 * stride, f32x4.extract_lane(v, 2));
  store<f32>(p + 3 * stride, f32x4.extract_lane(v, 3));
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
  const blocks = Dp >> 2;
  const total = batch * blocks;
  const start = (total * part) / parts;
  const end = (total * (part + 1)) / parts;
  const stride = <usize>L << 2;
  const softplus = (flags & 1) != 0;
  const varB = (flags & 2) != 0;
  const varC = (flags & 4) != 0;
  const hasZ = (flags & 8) != 0;
  const dpBytes = <usize>Dp << 2;
  for (let item = start; item < end; item++) {
    const b = item / blocks;
    const blk = item % blocks;
    const d0 = blk << 2;
    const rowBase = (<usize>(b * Dp + d0) * <usize>L) << 2;
    const hBase = state + ((<usize>(b * blocks + blk) * <usize>N) << 4);
    const biasv = v128.load(bias + (<usize>d0 << 2));
    const skip = v128.load(Dv + (<usize>d0 << 2));
    const aBase = At + (<usize>d0 << 2);
    const bFixed = B + (<usize>d0 << 2);
    const cFixed = C + (<usize>d0 << 2);
    const bVarBase = B + ((<usize>b * <usize>N * <usize>L) << 2);
    const cVarBase = C + ((<usize>b * <usize>N * <usize>L) << 2);
    for (let t = 0; t < L; t++) {
      const off = rowBase + (<usize>t << 2);
      const uv = gather(u + off, stride);
      let dv = f32x4.add(gather(delta + off, stride), biasv);
      if (softplus) dv = softplusv(dv);
      const duv = f32x4.mul(dv, uv);
      let y = f32x4.mul(skip, uv);
      let bp = varB ? bVarBase + (<usize>t << 2) : bFixed;
      let cp = varC ? cVarBase + (<usize>t << 2) : cFixed;
      const bStep: usize = varB ? stride : dpBytes;
      const cStep: usize = varC ? stride : dpBytes;
      let ap = aBase;
      let hp = hBase;
      for (let n = 0; n < N; n++) {
        const decay = expv(f32x4.mul(dv, v128.load(ap)));
        const bn = varB ? f32x4.splat(load<f32>(bp)) : v128.load(bp);
        const cn = varC ? f32x4.splat(load<f32>(cp)) : v128.load(cp);
        const h = f32x4.add(f32x4.mul(decay, v128.load(hp)), f32x4.mul(duv, bn));
        v128.store(hp, h);
        y = f32x4.add(y, f32x4.mul(cn, h));
        ap += dpBytes;
        bp += bStep;
        cp += cStep;
        hp += 16;
      }
      if (hasZ) {
        const zv = gather(z + off, stride);
        y = f32x4.mul(y, f32x4.mul(zv, sigmoidv(zv)));
      }
      scatter(out + off, stride, y);
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
 * input-dependent dB/dC ([groups, Bt, N, L]), and dstate0 (blocked). Each part uses `scratchBytes` of scratch
 * at scratch + part · scratchBytes.
 */
export function scan_bwd(
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
  const blocks = Dp >> 2;
  const b = part / groups;
  const g = part % groups;
  const blkStart = (blocks * g) / groups;
  const blkEnd = (blocks * (g + 1)) / groups;
  const stride = <usize>L << 2;
  const softplus = (flags & 1) != 0;
  const varB = (flags & 2) != 0;
  const varC = (flags & 4) != 0;
  const hasZ = (flags & 8) != 0;
  const dpBytes = <usize>Dp << 2;
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
  const zero = f32x4.splat(0);
  if (varB) for (let i: usize = 0; i < LN; i++) v128.store(dBvec + (i << 4), zero);
  if (varC) for (let i: usize = 0; i < LN; i++) v128.store(dCvec + (i << 4), zero);
  const bVarBase = B + ((<usize>b * LN) << 2);
  const cVarBase = C + ((<usize>b * LN) << 2);

  for (let blk = blkStart; blk < blkEnd; blk++) {
    const d0 = blk << 2;
    const rowBase = (<usize>(b * Dp + d0) * <usize>L) << 2;
    const stateBlock = (<usize>(b * blocks + blk) * <usize>N) << 4;
    const biasv = v128.load(bias + (<usize>d0 << 2));
    const skip = v128.load(Dv + (<usize>d0 << 2));
    const aBase = At + (<usize>d0 << 2);
    const bFixed = B + (<usize>d0 << 2);
    const cFixed = C + (<usize>d0 << 2);
    const bStep: usize = varB ? stride : dpBytes;
    const cStep: usize = varC ? stride : dpBytes;

    // Forward: xs[t + 1] = h_t (xs[0] = h_{-1}), decays[t] = exp(Δ_t a), dvs[t] = Δ_t.
    for (let n = 0; n < N; n++) v128.store(xs + (<usize>n << 4), v128.load(state0 + stateBlock + (<usize>n << 4)));
    for (let t = 0; t < L; t++) {
      const off = rowBase + (<usize>t << 2);
      const uv = gather(u + off, stride);
      let dv = f32x4.add(gather(delta + off, stride), biasv);
      if (softplus) dv = softplusv(dv);
      v128.store(dvs + (<usize>t << 4), dv);
      const duv = f32x4.mul(dv, uv);
      let bp = varB ? bVarBase + (<usize>t << 2) : bFixed;
      let ap = aBase;
      const prev = xs + ((<usize>t * <usize>N) << 4);
      const next = prev + (<usize>N << 4);
      const dec = decays + ((<usize>t * <usize>N) << 4);
      for (let n = 0; n < N; n++) {
        const nb = <usize>n << 4;
        const decay = expv(f32x4.mul(dv, v128.load(ap)));
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
      const off = rowBase + (<usize>t << 2);
      const uv = gather(u + off, stride);
      const dv = v128.load(dvs + (<usize>t << 4));
      const prev = xs + ((<usize>t * <usize>N) << 4);
      const next = prev + (<usize>N << 4);
      const dec = decays + ((<usize>t * <usize>N) << 4);
      let dy = gather(dout + off, stride);
      if (hasZ) {
        let pre = f32x4.mul(skip, uv);
        let cp = varC ? cVarBase + (<usize>t << 2) : cFixed;
        for (let n = 0; n < N; n++) {
          const cn = varC ? f32x4.splat(load<f32>(cp)) : v128.load(cp);
          pre = f32x4.add(pre, f32x4.mul(cn, v128.load(next + (<usize>n << 4))));
          cp += cStep;
        }
        const zv = gather(z + off, stride);
        const s = sigmoidv(zv);
        const one = f32x4.splat(1);
        const dsilu = f32x4.mul(s, f32x4.add(one, f32x4.mul(zv, f32x4.sub(one, s))));
        scatter(dz + off, stride, f32x4.mul(f32x4.mul(dy, pre), dsilu));
        dy = f32x4.mul(dy, f32x4.mul(zv, s));
      }
      accD = f32x4.add(accD, f32x4.mul(dy, uv));
      let duv = f32x4.mul(dy, skip);
      let ddt = zero;
      const dtu = f32x4.mul(dv, uv);
      let ap = aBase;
      let bp = varB ? bVarBase + (<usize>t << 2) : bFixed;
      let cp = varC ? cVarBase + (<usize>t << 2) : cFixed;
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
      if (softplus) ddt = f32x4.mul(ddt, sigmoidv(f32x4.add(gather(delta + off, stride), biasv)));
      accBias = f32x4.add(accBias, ddt);
      scatter(ddelta + off, stride, ddt);
      scatter(du + off, stride, duv);
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
  if (varB) {
    for (let n = 0; n < N; n++) {
      for (let t = 0; t < L; t++) {
        store<f32>(dBpart + groupBase + ((<usize>n * <usize>L + <usize>t) << 2), hsum(v128.load(dBvec + ((<usize>t * <usize>N + <usize>n) << 4))));
      }
    }
  }
  if (varC) {
    for (let n = 0; n < N; n++) {
      for (let t = 0; t < L; t++) {
        store<f32>(dCpart + groupBase + ((<usize>n * <usize>L + <usize>t) << 2), hsum(v128.load(dCvec + ((<usize>t * <usize>N + <usize>n) << 4))));
      }
    }
  }
}

/** exp, log and softplus of n floats (n a multiple of 4), for tests of the polynomial approximations. */
export function math_probe(x: usize, outExp: usize, outLog: usize, outSoftplus: usize, n: i32, part: i32, parts: i32): void {
  for (let i = part * 4; i < n; i += 4 * parts) {
    const off = <usize>i << 2;
    const v = v128.load(x + off);
    v128.store(outExp + off, expv(v));
    v128.store(outLog + off, logv(v));
    v128.store(outSoftplus + off, softplusv(v));
  }
}
