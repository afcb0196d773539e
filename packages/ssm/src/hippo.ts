/**
 * HiPPO transition matrices (Gu et al. 2020, "HiPPO: Recurrent Memory with Optimal Polynomial Projections",
 * as defined by state-spaces/s4 `src/models/hippo/hippo.py` `transition()`, scaling included) and their
 * discretizations (zero-order hold, bilinear, forward and backward Euler, as scipy's `cont2discrete`).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertKnownOptions,
  assertNumber,
  assertOneOf,
  assertPositiveInteger,
  assertRank,
  assertSameSize,
  ShapeError,
} from '@lab/tensor';
import { expm64, eye64, solve64 } from './linalg.js';

/** The HiPPO measures: scaled Legendre, translated Legendre, translated Laguerre, translated Fourier. */
export type HippoMeasure = 'legs' | 'legt' | 'lagt' | 'fout';
export const HIPPO_MEASURES: readonly HippoMeasure[] = ['legs', 'legt', 'lagt', 'fout'];

/** The discretization rules of {@link discretize}. */
export type DiscretizationMethod = 'zoh' | 'bilinear' | 'euler' | 'backward-euler';
export const DISCRETIZATION_METHODS: readonly DiscretizationMethod[] = ['zoh', 'bilinear', 'euler', 'backward-euler'];

/**
 * The continuous HiPPO operator (A [N, N], B [N]) in float64, row-major, for measure and N:
 *   legs: A_nk = −√(2n+1)√(2k+1) for n > k, −(n+1) for n = k, 0 above;  B_n = √(2n+1)
 *   legt: A_nk = −½ √(2n+1)√(2k+1) · (1 if n ≥ k else (−1)^(n−k));     B_n = ½ √(2n+1)
 *   lagt: A = I/2 − tril(1);                                            B_n = 1
 *   fout: A = π(−diag(d, 1) + diag(d, −1)) − B Bᵀ, d = (0,1,1,2,2,…)[1:]; B = (1, 0, √2, 0, √2, 0, …)
 */
export function hippoHost(measure: HippoMeasure, N: number): { A: Float64Array; B: Float64Array } {
  const A = new Float64Array(N * N);
  const B = new Float64Array(N);
  if (measure === 'legs') {
    for (let n = 0; n < N; n++) {
      B[n] = Math.sqrt(2 * n + 1);
      for (let k = 0; k <= n; k++) {
        A[n * N + k] = n === k ? -(n + 1) : -Math.sqrt(2 * n + 1) * Math.sqrt(2 * k + 1);
      }
    }
  } else if (measure === 'legt') {
    for (let n = 0; n < N; n++) {
      const rn = Math.sqrt(2 * n + 1);
      B[n] = 0.5 * rn;
      for (let k = 0; k < N; k++) {
        const sign = n < k ? ((n - k) % 2 === 0 ? 1 : -1) : 1;
        A[n * N + k] = -0.5 * rn * sign * Math.sqrt(2 * k + 1);
      }
    }
  } else if (measure === 'lagt') {
    for (let n = 0; n < N; n++) {
      B[n] = 1;
      for (let k = 0; k <= n; k++) A[n * N + k] = n === k ? -0.5 : -1;
    }
  } else {
    // Frequencies interleaved as (cos, sin) pairs: d = [0, 0, 1, 1, 2, 2, ...][1:] on the first off-diagonal.
    for (let n = 0; n < N; n++) B[n] = n === 0 ? 1 : n % 2 === 0 ? Math.SQRT2 : 0;
    for (let i = 0; i + 1 < N; i++) {
      // d = [0, 0, 0, 1, 0, 2, ...][1:]: frequency i/2 at even i, 0 at odd i.
      const freq = i % 2 === 0 ? i / 2 : 0;
      A[i * N + i + 1] = -Math.PI * freq;
      A[(i + 1) * N + i] = Math.PI * freq;
    }
    for (let n = 0; n < N; n++) for (let k = 0; k < N; k++) A[n * N + k]! -= B[n]! * B[k]!;
  }
  return { A, B };
}

/**
 * The HiPPO operator for a measure, as state-spaces/s4 `transition(measure, N)` (Gu et al. 2020, 2022),
 * float32. Returns A [N, N] and B [N] (s4 returns B as [N, 1]).
 */
export function hippo(measure: HippoMeasure, N: number): { A: tf.Tensor2D; B: tf.Tensor1D } {
  assertOneOf('ssm.hippo', 'measure', measure, HIPPO_MEASURES);
  assertPositiveInteger('ssm.hippo', 'N', N);
  if (measure === 'fout' && N % 2 !== 0) {
    throw new ShapeError(`ssm.hippo: N must be even for measure 'fout' (cos/sin pairs), got ${N}`);
  }
  const { A, B } = hippoHost(measure, N);
  return { A: tf.tensor2d(Float32Array.from(A), [N, N]), B: tf.tensor1d(Float32Array.from(B)) };
}

/**
 * Discretizes ẋ = A x + B u with step dt (float64 on the host), as scipy.signal.cont2discrete:
 *   zoh:            Ā = exp(dt A),             B̄ = ∫₀^dt exp(sA) ds B  (from exp of [[A, B], [0, 0]] dt)
 *   bilinear:       Ā = (I − dt/2 A)⁻¹ (I + dt/2 A),  B̄ = (I − dt/2 A)⁻¹ dt B
 *   euler:          Ā = I + dt A,              B̄ = dt B
 *   backward-euler: Ā = (I − dt A)⁻¹,          B̄ = (I − dt A)⁻¹ dt B
 * A: [N, N] and B: [N] as Float64Array.
 */
export function discretizeHost(
  A: Float64Array,
  B: Float64Array,
  N: number,
  dt: number,
  method: DiscretizationMethod,
): { A: Float64Array; B: Float64Array } {
  const I = eye64(N);
  if (method === 'euler') {
    return { A: A.map((a, i) => I[i]! + dt * a), B: B.map((b) => dt * b) };
  }
  if (method === 'zoh') {
    // exp([[A, B], [0, 0]] dt) = [[Ā, B̄], [0, 1]] handles singular A (fout) too.
    const M = N + 1;
    const aug = new Float64Array(M * M);
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) aug[i * M + j] = dt * A[i * N + j]!;
      aug[i * M + N] = dt * B[i]!;
    }
    const E = expm64(aug, M);
    const Ad = new Float64Array(N * N);
    const Bd = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) Ad[i * N + j] = E[i * M + j]!;
      Bd[i] = E[i * M + N]!;
    }
    return { A: Ad, B: Bd };
  }
  const alpha = method === 'bilinear' ? 0.5 : 1;
  const left = A.map((a, i) => I[i]! - alpha * dt * a);
  const right = method === 'bilinear' ? A.map((a, i) => I[i]! + (1 - alpha) * dt * a) : I;
  return {
    A: solve64(left, right, N, N, 'ssm.discretize'),
    B: solve64(left, B.map((b) => dt * b), N, 1, 'ssm.discretize'),
  };
}

/**
 * Discretizes a continuous state space model (A [N, N], B [N]) with step dt by zero-order hold, bilinear
 * (Tustin), forward Euler or backward Euler, as scipy.signal.cont2discrete (Gu et al. 2020, Section 3.4).
 * Computed in float64; returns float32 Ā [N, N], B̄ [N].
 */
export function discretize(
  A: tf.Tensor,
  B: tf.Tensor,
  dt: number,
  method: DiscretizationMethod = 'bilinear',
): { A: tf.Tensor2D; B: tf.Tensor1D } {
  const fn = 'ssm.discretize';
  assertRank(fn, 'A', A, 2, '[N, N]');
  assertRank(fn, 'B', B, [1, 2], '[N] or [N, 1]');
  const N = A.shape[0]!;
  assertSameSize(fn, 'A.shape[1]', A.shape[1]!, 'A.shape[0]', N, 'A must be square');
  assertSameSize(fn, 'B.shape[0]', B.shape[0]!, 'A.shape[0]', N);
  if (B.rank === 2) assertSameSize(fn, 'B.shape[1]', B.shape[1]!, '1', 1);
  assertNumber(fn, 'dt', dt, { exclusiveMin: 0 });
  assertOneOf(fn, 'method', method, DISCRETIZATION_METHODS);
  const out = discretizeHost(Float64Array.from(A.dataSync()), Float64Array.from(B.dataSync()), N, dt, method);
  return { A: tf.tensor2d(Float32Array.from(out.A), [N, N]), B: tf.tensor1d(Float32Array.from(out.B)) };
}


/** Measures with an online projection and a reconstruction ({@link hippoProject}, {@link hippoReconstruct}). */
export type HippoOnlineMeasure = 'legs' | 'legt' | 'lagt' | 'fout';

export interface HippoOnlineOptions {
  /** Number of coefficients (default 32). */
  N?: number;
  /** Time step between samples (default 1 / signal length; LegS ignores it: it is scale invariant). */
  dt?: number;
  /** LegT and FouT: length of the sliding window, in time units (default 0.1). */
  theta?: number;
  /** LagT: time scale of the exponentially decaying measure (default 20: memory e^{−20 s}). */
  timescale?: number;
}

/** The per-step transition of an online projection: c_k = Ā_k c_{k−1} + B̄_k f_k. */
function onlineStep(measure: HippoOnlineMeasure, N: number, options: HippoOnlineOptions, length: number) {
  const { A, B } = hippoHost(measure, N);
  const dt = options.dt ?? 1 / length;
  if (measure === 'legs') {
    // Scaled Legendre: dc/dt = (A c + B f)/t, bilinear at step k with A/k, B/k (state-spaces/s4 HiPPOScale).
    return (k: number) => discretizeHost(A.map((a) => a / k), B.map((b) => b / k), N, 1, 'bilinear');
  }
  // s4's LegT and FouT matrices are those of a window of length 2: scale time by 2/θ. LagT by its time scale.
  const scale = measure === 'lagt' ? (options.timescale ?? 20) : 2 / (options.theta ?? 0.1);
  const fixed = discretizeHost(A.map((a) => a * scale), B.map((b) => b * scale), N, dt, 'zoh');
  return () => fixed;
}

/**
 * HiPPO online function approximation (Gu et al. 2020, Section 2 and Figure 1): feeds the signal f_1..f_L
 * through the discretized HiPPO operator and returns the coefficients after every step, [L, N] row-major:
 * legs (scaled Legendre, the whole history [0, t]), legt (translated Legendre, a sliding window θ), lagt
 * (translated Laguerre, exponentially decaying memory), fout (translated Fourier, a sliding window θ).
 * Float64 on the host.
 */
export function hippoProject(signal: ArrayLike<number>, measure: HippoOnlineMeasure, options: HippoOnlineOptions = {}): Float64Array {
  const fn = 'ssm.hippoProject';
  assertOneOf(fn, 'measure', measure, ['legs', 'legt', 'lagt', 'fout']);
  assertKnownOptions(fn, options as Record<string, unknown>, ['N', 'dt', 'theta', 'timescale']);
  const N = options.N ?? 32;
  assertPositiveInteger(fn, 'options.N', N);
  if (measure === 'fout' && N % 2 !== 0) throw new ShapeError(`${fn}: options.N must be even for 'fout', got ${N}`);
  const L = signal.length;
  if (L === 0) throw new ShapeError(`${fn}: signal must not be empty, got length 0`);
  const step = onlineStep(measure, N, options, L);
  const out = new Float64Array(L * N);
  let c = new Float64Array(N);
  for (let k = 0; k < L; k++) {
    const { A, B } = step(k + 1);
    const next = new Float64Array(N);
    const f = signal[k]!;
    for (let i = 0; i < N; i++) {
      let s = B[i]! * f;
      for (let j = 0; j < N; j++) s += A[i * N + j]! * c[j]!;
      next[i] = s;
    }
    c = next;
    out.set(c, k * N);
  }
  return out;
}

/** P_0..P_{N−1} (Legendre) or L_0..L_{N−1} (Laguerre) at x, by their three-term recurrences. */
function polynomials(kind: 'legendre' | 'laguerre', N: number, x: number): Float64Array {
  const p = new Float64Array(N);
  p[0] = 1;
  if (N > 1) p[1] = kind === 'legendre' ? x : 1 - x;
  for (let n = 1; n + 1 < N; n++) {
    p[n + 1] =
      kind === 'legendre'
        ? ((2 * n + 1) * x * p[n]! - n * p[n - 1]!) / (n + 1)
        : ((2 * n + 1 - x) * p[n]! - n * p[n - 1]!) / (n + 1);
  }
  return p;
}

/**
 * Reconstructs the memorized signal from HiPPO coefficients c [N] (Gu et al. 2020, Section 2): `points` samples,
 * oldest first, over the measure's support — legs: the whole history [0, t], f(x t) ≈ Σ c_n √(2n+1) P_n(2x − 1);
 * legt: the last θ, f(t − s) ≈ Σ c_n √(2n+1) P_n(1 − 2s/θ); lagt: the last `span` (default 0.2) time units,
 * f(t − s) ≈ Σ c_n L_n(s/τ) e^{−s/(2τ)} with τ = 1/timescale; fout: the last θ,
 * f(t − s) ≈ c_0 + Σ_k √2 (c_2k cos(2πk s/θ) + c_2k+1 sin(2πk s/θ)).
 */
export function hippoReconstruct(
  c: ArrayLike<number>,
  measure: HippoOnlineMeasure,
  points: number,
  options: HippoOnlineOptions & { span?: number } = {},
): Float64Array {
  const fn = 'ssm.hippoReconstruct';
  assertOneOf(fn, 'measure', measure, ['legs', 'legt', 'lagt', 'fout']);
  assertPositiveInteger(fn, 'points', points);
  const N = c.length;
  const out = new Float64Array(points);
  for (let i = 0; i < points; i++) {
    const frac = points === 1 ? 1 : i / (points - 1); // 0 = oldest, 1 = newest
    let value = 0;
    if (measure === 'fout') {
      // s/θ = 1 − frac; c_0 + Σ_k √2 (c_2k cos(2πk s/θ) + c_2k+1 sin(2πk s/θ))
      const x = 1 - frac;
      value = c[0]!;
      for (let n = 2; n < N; n++) {
        const k = n >> 1;
        value += Math.SQRT2 * c[n]! * (n % 2 === 0 ? Math.cos(2 * Math.PI * k * x) : Math.sin(2 * Math.PI * k * x));
      }
    } else if (measure === 'lagt') {
      const x = (1 - frac) * (options.span ?? 0.2) * (options.timescale ?? 20);
      const p = polynomials('laguerre', N, x);
      const w = Math.exp(-x / 2);
      for (let n = 0; n < N; n++) value += c[n]! * p[n]! * w;
    } else {
      const x = 2 * frac - 1; // legs: 2x − 1 over [0, t]; legt: 1 − 2s/θ with s = (1 − frac) θ
      const p = polynomials('legendre', N, x);
      for (let n = 0; n < N; n++) value += c[n]! * Math.sqrt(2 * n + 1) * p[n]!;
    }
    out[i] = value;
  }
  return out;
}
