/**
 * The normal plus low-rank (NPLR) form of HiPPO-LegS and the S4 convolution kernel computed from it
 * (Gu et al. 2022, "Efficiently Modeling Long Sequences with Structured State Spaces", Theorem 1 and
 * Algorithm 1): A = V Λ V* − P Pᵀ, and K̂(ω) = c(ω) [C̃ R B − C̃ R P (1 + P* R P)⁻¹ P* R B] with the Cauchy
 * kernel R = (g(ω) − Λ)⁻¹ at the roots of unity, then K = iFFT(K̂). Float64 on the host (a reference
 * implementation; the trainable path is the S4D kernel).
 */
import { assertNumber, assertPositiveInteger, ShapeError } from '@lab/tensor';
import { fftInPlace } from './fft.js';
import { discretizeHost, hippoHost } from './hippo.js';
import { eighSymmetric64, matmul64 } from './linalg.js';

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

