/**
 * The normal plus low-rank (NPLR) form of HiPPO-LegS and the S4 convolution kernel computed from it
 * (Gu et al. 2022, "Efficiently Modeling Long Sequences with Structured State Spaces", Theorem 1 and
 * Algorithm 1): A = V Λ V* − P Pᵀ, and K̂(ω) = c(ω) [C̃ R B − C̃ R P (1 + P* R P)⁻¹ P* R B] with the Cauchy
 * kernel R = (g(ω) − Λ)⁻¹ at the roots of unity, then K = iFFT(K̂). Float64 on the host (a reference
 * implementation; the trainable path is the S4D kernel).
 */
import { assertNumber, assertPositiveInteger, ShapeError, ValueError } from '@lab/tensor';
import { fftInPlace } from './fft.js';
import { discretizeHost, hippoHost } from './hippo.js';
import { eighSymmetric64, eye64, matmul64, solve64 } from './linalg.js';

/** Complex vectors and matrices as separate real and imaginary Float64Arrays. */
export interface ComplexArray {
  re: Float64Array;
  im: Float64Array;
}

/** The NPLR form of LegS: A = V diag(Λ) V* − P Pᵀ with V unitary (columns = eigenvectors of A + P Pᵀ). */
export interface NplrForm {
  N: number;
  /** Λ [N]: eigenvalues of A + P Pᵀ, −½ + iω, sorted by ω; conjugate pairs ±ω. */
  Lambda: ComplexArray;
  /** V [N, N] row-major, unitary. */
  V: ComplexArray;
  /** The rank-1 term P [N] = √(n + ½) (real, original basis). */
  P: Float64Array;
  /** B [N] (original basis) = s4 transition('legs') B. */
  B: Float64Array;
}

/**
 * The NPLR decomposition of HiPPO-LegS (Gu et al. 2022, S4, Theorem 1; state-spaces/s4 `nplr('legs', N)`):
 * A + P Pᵀ = −½ I + S with S skew-symmetric, diagonalized through the Hermitian −iS (Jacobi on its real
 * 2N × 2N embedding). Full N eigenpairs (both members of each conjugate pair).
 */
export function nplrLegS(N: number): NplrForm {
  assertPositiveInteger('ssm.nplrLegS', 'N', N);
  if (N % 2 !== 0) throw new ShapeError(`ssm.nplrLegS: N must be even (conjugate pairs), got ${N}`);
  const { A, B } = hippoHost('legs', N);
  const P = Float64Array.from({ length: N }, (_, n) => Math.sqrt(n + 0.5));
  const AP = A.map((a, i) => a + P[Math.floor(i / N)]! * P[i % N]!);
  let diag = 0;
  for (let i = 0; i < N; i++) diag += AP[i * N + i]!;
  diag /= N; // −½
  // S = AP − diag·I is skew; −iS = X + iY with X = 0, Y = −S; embedding [[X, −Y], [Y, X]] = [[0, S], [−S, 0]].
  const M = 2 * N;
  const emb = new Float64Array(M * M);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      const s = i === j ? 0 : AP[i * N + j]!;
      emb[i * M + (N + j)] = s;
      emb[(N + i) * M + j] = -s;
    }
  }
  const { values, vectors } = eighSymmetric64(emb, M);
  // Each eigenvalue of −iS appears twice (v and i·v): take every other one.
  const Lambda: ComplexArray = { re: new Float64Array(N), im: new Float64Array(N) };
  const V: ComplexArray = { re: new Float64Array(N * N), im: new Float64Array(N * N) };
  for (let k = 0; k < N; k++) {
    const col = 2 * k;
    Lambda.re[k] = diag;
    Lambda.im[k] = values[col]!;
    for (let i = 0; i < N; i++) {
      V.re[i * N + k] = vectors[i * M + col]!;
      V.im[i * N + k] = vectors[(N + i) * M + col]!;
    }
  }
  return { N, Lambda, V, P, B };
}

/** y = V* x for real x (V* the conjugate transpose). */
function adjointTimes(V: ComplexArray, x: Float64Array, N: number): ComplexArray {
  const re = new Float64Array(N);
  const im = new Float64Array(N);
  for (let k = 0; k < N; k++) {
    for (let i = 0; i < N; i++) {
      re[k]! += V.re[i * N + k]! * x[i]!;
      im[k]! -= V.im[i * N + k]! * x[i]!;
    }
  }
  return { re, im };
}

/**
 * The S4 convolution kernel of the LegS SSM (A, B) with output row C [N] (original basis), bilinear step dt,
 * length L (Gu et al. 2022, S4, Algorithm 1): C̃ = C (I − Ā^L), the Cauchy sums at the L roots of unity with
 * the Woodbury correction for the rank-1 term, and an inverse FFT. Returns K [L] (K_l = C Ā^l B̄).
 */
export function s4NplrKernel(C: Float64Array, dt: number, L: number, nplr: NplrForm): Float64Array {
  const fn = 'ssm.s4NplrKernel';
  const { N, Lambda, V, P, B } = nplr;
  if (C.length !== N) throw new ShapeError(`${fn}: C must have length N = ${N}, got ${C.length}`);
  assertNumber(fn, 'dt', dt, { exclusiveMin: 0 });
  assertPositiveInteger(fn, 'L', L);
  // C̃ = C (I − Ā^L) in the original basis (Ā^L by repeated squaring), then C̃_V = C̃ V.
  const { A } = hippoHost('legs', N);
  const Ad = discretizeHost(A, B, N, dt, 'bilinear').A;
  let power: Float64Array = new Float64Array(N * N);
  for (let i = 0; i < N; i++) power[i * N + i] = 1;
  let base: Float64Array = Ad;
  for (let e = L; e > 0; e >>= 1) {
    if (e & 1) power = matmul64(power, base, N);
    if (e > 1) base = matmul64(base, base, N);
  }
  const Ct = new Float64Array(N);
  for (let j = 0; j < N; j++) {
    let s = C[j]!;
    for (let i = 0; i < N; i++) s -= C[i]! * power[i * N + j]!;
    Ct[j] = s;
  }
  const cRe = new Float64Array(N);
  const cIm = new Float64Array(N);
  for (let k = 0; k < N; k++) {
    for (let i = 0; i < N; i++) {
      cRe[k]! += Ct[i]! * V.re[i * N + k]!;
      cIm[k]! += Ct[i]! * V.im[i * N + k]!;
    }
  }
  const bV = adjointTimes(V, B, N);
  const pV = adjointTimes(V, P, N);
  // K̂ at z_k = exp(−2πik/L): c(z) = 2/(1+z), g(z) = (2/dt)(1−z)/(1+z).
  const hatRe = new Float64Array(L);
  const hatIm = new Float64Array(L);
  const div = (ar: number, ai: number, br: number, bi: number): [number, number] => {
    const d = br * br + bi * bi;
    return [(ar * br + ai * bi) / d, (ai * br - ar * bi) / d];
  };
  for (let k = 0; k < L; k++) {
    const zr = Math.cos((-2 * Math.PI * k) / L);
    const zi = Math.sin((-2 * Math.PI * k) / L);
    const [qr, qi] = div(1 - zr, -zi, 1 + zr, zi);
    const gr = (2 / dt) * qr;
    const gi = (2 / dt) * qi;
    const [cr, ci] = div(2, 0, 1 + zr, zi);
    // Cauchy sums k_ab = Σ a_n b_n / (g − λ_n): CB, CP, P*B, P*P (P* conjugated).
    let k00r = 0;
    let k00i = 0;
    let k01r = 0;
    let k01i = 0;
    let k10r = 0;
    let k10i = 0;
    let k11r = 0;
    let k11i = 0;
    for (let n = 0; n < N; n++) {
      const [rr, ri] = div(1, 0, gr - Lambda.re[n]!, gi - Lambda.im[n]!);
      const term = (ar: number, ai: number, br: number, bi: number): [number, number] => {
        const xr = ar * br - ai * bi;
        const xi = ar * bi + ai * br;
        return [xr * rr - xi * ri, xr * ri + xi * rr];
      };
      let t = term(cRe[n]!, cIm[n]!, bV.re[n]!, bV.im[n]!);
      k00r += t[0];
      k00i += t[1];
      t = term(cRe[n]!, cIm[n]!, pV.re[n]!, pV.im[n]!);
      k01r += t[0];
      k01i += t[1];
      t = term(pV.re[n]!, -pV.im[n]!, bV.re[n]!, bV.im[n]!);
      k10r += t[0];
      k10i += t[1];
      t = term(pV.re[n]!, -pV.im[n]!, pV.re[n]!, pV.im[n]!);
      k11r += t[0];
      k11i += t[1];
    }
    // Woodbury: k00 − k01 k10 / (1 + k11)
    const [wr, wi] = div(k01r * k10r - k01i * k10i, k01r * k10i + k01i * k10r, 1 + k11r, k11i);
    const hr = k00r - wr;
    const hi = k00i - wi;
    hatRe[k] = cr * hr - ci * hi;
    hatIm[k] = cr * hi + ci * hr;
  }
  // K_l = (1/L) Σ_k K̂_k exp(2πi kl/L): an inverse DFT (FFT when L is a power of two).
  const K = new Float64Array(L);
  if ((L & (L - 1)) === 0) {
    fftInPlace(hatRe, hatIm, true);
    for (let l = 0; l < L; l++) K[l] = hatRe[l]! / L;
  } else {
    for (let l = 0; l < L; l++) {
      let s = 0;
      for (let k = 0; k < L; k++) {
        const a = (2 * Math.PI * k * l) / L;
        s += hatRe[k]! * Math.cos(a) - hatIm[k]! * Math.sin(a);
      }
      K[l] = s / L;
    }
  }
  return K;
}


/**
 * The diagonal-plus-low-rank (DPLR) parameters of one or more S4 SSMs in the eigenbasis of the normal part,
 * keeping one member of each conjugate pair (Gu et al. 2022, S4, Section 3.3; state-spaces/s4 `SSKernelNPLR`
 * storage): per channel h and mode n < M = N/2, Ã = Λ − p p* over the full conjugate-closed set of N modes.
 * Complex values are (re, im) pairs in the last axis. `C` holds C̃ = C (I − Ā^L) for the kernel length L.
 */
export interface S4NplrHostParams {
  H: number;
  /** N, the real state size (M = N/2 complex modes). */
  N: number;
  /** log Δ [H]. */
  logDt: Float32Array;
  /** log(−Re Λ) [H, M]. */
  logLambdaReal: Float32Array;
  /** Im Λ [H, M]. */
  LambdaImag: Float32Array;
  /** p = V* P [H, M, 2]. */
  P: Float32Array;
  /** b = V* B [H, M, 2]. */
  B: Float32Array;
  /** C̃ V [H, M, 2] (C̃ = C (I − Ā^L)). */
  C: Float32Array;
}

/** One channel's DPLR parameters in float64: λ, p, b, c over the M kept modes, and Δ. */
export interface DplrChannel {
  M: number;
  dt: number;
  lambda: ComplexArray;
  p: ComplexArray;
  b: ComplexArray;
  c: ComplexArray;
}

/**
 * The real form of a conjugate-closed DPLR SSM (state x over the N modes with x_{n'} = conj(x_n), kept as the
 * M = N/2 complex values, interleaved (re, im) into a real N-vector z): dz/dt = A z + B u, y = C z with
 *   A = blockdiag([[Re λ, −Im λ], [Im λ, Re λ]]) − u wᵀ,  u = (Re p, Im p),  w = 2 (Re p, Im p),
 *   B = (Re b, Im b),  C = 2 (Re c, −Im c)
 * (the rank-1 term p (p* x) summed over both members of each pair is p · 2 Re Σ conj(p_m) x_m).
 * Returns A [N, N] row-major, B [N] and the output row C [N] (from whatever c holds).
 */
export function dplrRealForm(ch: DplrChannel): { A: Float64Array; B: Float64Array; C: Float64Array } {
  const { M, lambda, p, b, c } = ch;
  const N = 2 * M;
  const A = new Float64Array(N * N);
  const B = new Float64Array(N);
  const C = new Float64Array(N);
  for (let n = 0; n < M; n++) {
    A[2 * n * N + 2 * n] = lambda.re[n]!;
    A[2 * n * N + 2 * n + 1] = -lambda.im[n]!;
    A[(2 * n + 1) * N + 2 * n] = lambda.im[n]!;
    A[(2 * n + 1) * N + 2 * n + 1] = lambda.re[n]!;
    B[2 * n] = b.re[n]!;
    B[2 * n + 1] = b.im[n]!;
    C[2 * n] = 2 * c.re[n]!;
    C[2 * n + 1] = -2 * c.im[n]!;
  }
  for (let i = 0; i < N; i++) {
    const ui = i % 2 === 0 ? p.re[i >> 1]! : p.im[i >> 1]!;
    for (let j = 0; j < N; j++) {
      const wj = 2 * (j % 2 === 0 ? p.re[j >> 1]! : p.im[j >> 1]!);
      A[i * N + j]! -= ui * wj;
    }
  }
  return { A, B, C };
}

/** Ā^e by repeated squaring ([n, n] row-major). */
export function matrixPower64(a: Float64Array, n: number, e: number): Float64Array {
  let power = eye64(n);
  let base = a;
  for (let k = e; k > 0; k >>= 1) {
    if (k & 1) power = matmul64(power, base, n);
    if (k > 1) base = matmul64(base, base, n);
  }
  return power;
}

/**
 * The dense bilinear discretization of one DPLR channel in real form (Gu et al. 2022, S4, eq. 3):
 * Ā = (I − Δ/2 A)⁻¹ (I + Δ/2 A), B̄ = Δ (I − Δ/2 A)⁻¹ B, and the output row. With `tildeL`, c holds
 * C̃ = C (I − Ā^L) and the true row C = C̃ (I − Ā^L)⁻¹ is returned (state-spaces/s4 `_setup_step`).
 * dA [N, N] row-major, dB [N], C [N], all float64.
 */
export function dplrDiscreteHost(ch: DplrChannel, tildeL?: number): { dA: Float64Array; dB: Float64Array; C: Float64Array } {
  const N = 2 * ch.M;
  const { A, B, C } = dplrRealForm(ch);
  const minus = eye64(N);
  const plus = eye64(N);
  for (let i = 0; i < N * N; i++) {
    minus[i]! -= 0.5 * ch.dt * A[i]!;
    plus[i]! += 0.5 * ch.dt * A[i]!;
  }
  const dA = solve64(minus, plus, N, N, 'ssm.dplrDiscreteHost');
  const dB = solve64(minus, B.map((v) => ch.dt * v), N, 1, 'ssm.dplrDiscreteHost');
  if (tildeL === undefined) return { dA, dB, C };
  // C (I − Ā^L) = C̃  ⇔  (I − Ā^L)ᵀ Cᵀ = C̃ᵀ
  const power = matrixPower64(dA, N, tildeL);
  const mT = new Float64Array(N * N);
  for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) mT[j * N + i] = (i === j ? 1 : 0) - power[i * N + j]!;
  return { dA, dB, C: solve64(mT, C, N, 1, 'ssm.dplrDiscreteHost') };
}

/** C̃ = C (I − Ā^L) for one channel, with c the true output row in complex form; returns C̃ in complex form. */
function tildeFromC(ch: DplrChannel, L: number): ComplexArray {
  const { dA, C } = dplrDiscreteHost(ch);
  const N = 2 * ch.M;
  const power = matrixPower64(dA, N, L);
  const out: ComplexArray = { re: new Float64Array(ch.M), im: new Float64Array(ch.M) };
  for (let j = 0; j < N; j++) {
    let s = C[j]!;
    for (let i = 0; i < N; i++) s -= C[i]! * power[i * N + j]!;
    // real row (2 Re c, −2 Im c) ↔ complex c
    if (j % 2 === 0) out.re[j >> 1] = s / 2;
    else out.im[j >> 1] = -s / 2;
  }
  return out;
}

/** Reads channel h of host parameters into float64 (C as stored: C̃). */
export function dplrChannel(params: S4NplrHostParams, h: number): DplrChannel {
  const M = params.N / 2;
  const ch: DplrChannel = {
    M,
    dt: Math.exp(params.logDt[h]!),
    lambda: { re: new Float64Array(M), im: new Float64Array(M) },
    p: { re: new Float64Array(M), im: new Float64Array(M) },
    b: { re: new Float64Array(M), im: new Float64Array(M) },
    c: { re: new Float64Array(M), im: new Float64Array(M) },
  };
  for (let n = 0; n < M; n++) {
    const i = h * M + n;
    ch.lambda.re[n] = -Math.exp(params.logLambdaReal[i]!);
    ch.lambda.im[n] = params.LambdaImag[i]!;
    ch.p.re[n] = params.P[2 * i]!;
    ch.p.im[n] = params.P[2 * i + 1]!;
    ch.b.re[n] = params.B[2 * i]!;
    ch.b.im[n] = params.B[2 * i + 1]!;
    ch.c.re[n] = params.C[2 * i]!;
    ch.c.im[n] = params.C[2 * i + 1]!;
  }
  return ch;
}

/** nplrLegS(N) is a Jacobi eigensolve of a 2N × 2N matrix (0.7 s at N = 64): computed once per N (read only). */
const legsCache = new Map<number, NplrForm>();

/** Options of {@link s4NplrLegSInit}. */
export interface S4NplrLegSInitOptions {
  /** H, the number of channels. */
  H: number;
  /** N, the (even) state size. */
  N: number;
  /** The kernel length L that C̃ = C (I − Ā^L) is set up for. */
  L: number;
  /** Δ per channel (length H). */
  dt: ArrayLike<number>;
  /**
   * The output rows: either `C` real in the original HiPPO basis [H, N] (so the kernel equals
   * {@link s4NplrKernel}), or `CV` complex in the diagonal basis [H, N/2, 2] (s4's random C).
   */
  C?: ArrayLike<number>;
  CV?: ArrayLike<number>;
}

/**
 * The S4 "legs" initialization (Gu et al. 2022, S4, Section 3.4; state-spaces/s4 `nplr('legs', N)` with one
 * member of each conjugate pair, the one with Im λ > 0): Λ = −½ + iω, p = V* P, b = V* B, c = C V, and C̃ =
 * C (I − Ā^L) from the dense bilinear Ā of the DPLR form (as s4 `_setup_C`), per channel with its own Δ.
 */
export function s4NplrLegSInit(options: S4NplrLegSInitOptions): S4NplrHostParams {
  const fn = 'ssm.s4NplrLegSInit';
  const { H, N, L, dt, C, CV } = options;
  assertPositiveInteger(fn, 'options.H', H);
  assertPositiveInteger(fn, 'options.N', N);
  assertPositiveInteger(fn, 'options.L', L);
  if (N % 2 !== 0) throw new ShapeError(`${fn}: options.N must be even (conjugate pairs), got ${N}`);
  if (dt.length !== H) throw new ShapeError(`${fn}: options.dt must have length H = ${H}, got ${dt.length}`);
  for (let h = 0; h < H; h++) assertNumber(fn, `options.dt[${h}]`, dt[h], { exclusiveMin: 0 });
  if ((C === undefined) === (CV === undefined)) throw new ValueError(`${fn}: give exactly one of options.C and options.CV`);
  const M = N / 2;
  if (C !== undefined && C.length !== H * N) throw new ShapeError(`${fn}: options.C must have H·N = ${H * N} values [H, N], got ${C.length}`);
  if (CV !== undefined && CV.length !== H * M * 2) {
    throw new ShapeError(`${fn}: options.CV must have H·N = ${H * M * 2} values [H, N/2, 2], got ${CV.length}`);
  }
  let nplr = legsCache.get(N);
  if (!nplr) {
    nplr = nplrLegS(N);
    legsCache.set(N, nplr);
  }
  // Λ is sorted by ω: the last M have ω > 0.
  const keep = Array.from({ length: M }, (_, n) => M + n);
  const bV = adjointTimes(nplr.V, nplr.B, N);
  const pV = adjointTimes(nplr.V, nplr.P, N);
  const out: S4NplrHostParams = {
    H,
    N,
    logDt: new Float32Array(H),
    logLambdaReal: new Float32Array(H * M),
    LambdaImag: new Float32Array(H * M),
    P: new Float32Array(H * M * 2),
    B: new Float32Array(H * M * 2),
    C: new Float32Array(H * M * 2),
  };
  for (let h = 0; h < H; h++) {
    const ch: DplrChannel = {
      M,
      dt: dt[h]!,
      lambda: { re: new Float64Array(M), im: new Float64Array(M) },
      p: { re: new Float64Array(M), im: new Float64Array(M) },
      b: { re: new Float64Array(M), im: new Float64Array(M) },
      c: { re: new Float64Array(M), im: new Float64Array(M) },
    };
    keep.forEach((k, n) => {
      ch.lambda.re[n] = nplr.Lambda.re[k]!;
      ch.lambda.im[n] = nplr.Lambda.im[k]!;
      ch.p.re[n] = pV.re[k]!;
      ch.p.im[n] = pV.im[k]!;
      ch.b.re[n] = bV.re[k]!;
      ch.b.im[n] = bV.im[k]!;
      if (C !== undefined) {
        // c_n = C v_n (C real)
        let re = 0;
        let im = 0;
        for (let i = 0; i < N; i++) {
          re += C[h * N + i]! * nplr.V.re[i * N + k]!;
          im += C[h * N + i]! * nplr.V.im[i * N + k]!;
        }
        ch.c.re[n] = re;
        ch.c.im[n] = im;
      } else {
        ch.c.re[n] = CV![2 * (h * M + n)]!;
        ch.c.im[n] = CV![2 * (h * M + n) + 1]!;
      }
    });
    const tilde = tildeFromC(ch, L);
    out.logDt[h] = Math.log(ch.dt);
    for (let n = 0; n < M; n++) {
      const i = h * M + n;
      out.logLambdaReal[i] = Math.log(-ch.lambda.re[n]!);
      out.LambdaImag[i] = ch.lambda.im[n]!;
      out.P[2 * i] = ch.p.re[n]!;
      out.P[2 * i + 1] = ch.p.im[n]!;
      out.B[2 * i] = ch.b.re[n]!;
      out.B[2 * i + 1] = ch.b.im[n]!;
      out.C[2 * i] = tilde.re[n]!;
      out.C[2 * i + 1] = tilde.im[n]!;
    }
  }
  return out;
}

/**
 * Moves C̃ from kernel length `fromL` to `toL` (state-spaces/s4 `_setup_C(double_length=True)`, any lengths):
 * C = C̃ (I − Ā^fromL)⁻¹, then C̃′ = C (I − Ā^toL), per channel in float64. Returns the new C̃ [H, N/2, 2].
 */
export function retargetCTilde(params: S4NplrHostParams, fromL: number, toL: number): Float32Array {
  const fn = 'ssm.retargetCTilde';
  assertPositiveInteger(fn, 'fromL', fromL);
  assertPositiveInteger(fn, 'toL', toL);
  const M = params.N / 2;
  const out = new Float32Array(params.H * M * 2);
  for (let h = 0; h < params.H; h++) {
    const ch = dplrChannel(params, h);
    const { C } = dplrDiscreteHost(ch, fromL);
    for (let n = 0; n < M; n++) {
      ch.c.re[n] = C[2 * n]! / 2;
      ch.c.im[n] = -C[2 * n + 1]! / 2;
    }
    const tilde = tildeFromC(ch, toL);
    for (let n = 0; n < M; n++) {
      out[2 * (h * M + n)] = tilde.re[n]!;
      out[2 * (h * M + n) + 1] = tilde.im[n]!;
    }
  }
  return out;
}
