/**
 * Host-side (float64) error measures of the EDM Figure 2 bench: per-trajectory distances, the mode each sample
 * ends in, and a per-component Fréchet distance (the data-space stand-in for FID, Heusel et al. 2017).
 */

import type { GaussianMixtureSpec } from '../src/index.js';

/** The mixture of the reference fixture (test/fixtures/diffusion.json `gmm`: 3 isotropic components in 2-D). */
export const FIXTURE_MIXTURE: GaussianMixtureSpec = {
  weights: [0.5, 0.3, 0.2],
  means: [
    [-2, 0],
    [2, 1],
    [0, -2.5],
  ],
  stds: [0.3, 0.5, 0.2],
};

/** Per-sample Euclidean distances ‖a_i − b_i‖ of two `[n, dim]` row-major arrays: `[n]`. */
export function perSampleDistance(a: ArrayLike<number>, b: ArrayLike<number>, dim: number): Float64Array {
  const n = Math.floor(a.length / dim);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += (a[i * dim + j]! - b[i * dim + j]!) ** 2;
    out[i] = Math.sqrt(s);
  }
  return out;
}

/** Root mean square √(mean eᵢ²) and median of per-sample distances. */
export function rmsAndMedian(e: Float64Array): { rms: number; median: number } {
  const n = e.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += e[i]! * e[i]!;
  const sorted = Float64Array.from(e).sort();
  const median = n % 2 === 1 ? sorted[n >> 1]! : 0.5 * (sorted[n / 2 - 1]! + sorted[n / 2]!);
  return { rms: Math.sqrt(s / n), median };
}

/**
 * The component each row most probably came from (argmax of the exact posterior at σ = 0,
 * log wₖ − (dim/2)·log sₖ² − ‖x − μₖ‖²/(2sₖ²)): `[n]`. x: `[n, dim]` row-major.
 */
export function classify(spec: GaussianMixtureSpec, x: ArrayLike<number>): Int32Array {
  const dim = spec.means[0]!.length;
  const n = Math.floor(x.length / dim);
  const total = spec.weights.reduce((a, b) => a + b, 0);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = -Infinity;
    for (let k = 0; k < spec.weights.length; k++) {
      const v = spec.stds[k]! ** 2;
      let d2 = 0;
      for (let j = 0; j < dim; j++) d2 += (x[i * dim + j]! - spec.means[k]![j]!) ** 2;
      const logit = Math.log(spec.weights[k]! / total) - (dim / 2) * Math.log(v) - d2 / (2 * v);
      if (logit > best) {
        best = logit;
        out[i] = k;
      }
    }
  }
  return out;
}

/** Eigenvalues and eigenvectors (columns of `vectors`, row-major `[d, d]`) of a symmetric matrix (cyclic Jacobi). */
export function symmetricEigen(
  a: ArrayLike<number>,
  d: number,
): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  let scale = 0;
  for (let i = 0; i < d * d; i++) scale += m[i]! * m[i]!;
  for (let sweep = 0; sweep < 64; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += m[p * d + q]! ** 2;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = m[p * d + q]!;
        if (apq === 0) continue;
        const theta = (m[q * d + q]! - m[p * d + p]!) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const kp = m[k * d + p]!;
          const kq = m[k * d + q]!;
          m[k * d + p] = c * kp - s * kq;
          m[k * d + q] = s * kp + c * kq;
        }
        for (let k = 0; k < d; k++) {
          const pk = m[p * d + k]!;
          const qk = m[q * d + k]!;
          m[p * d + k] = c * pk - s * qk;
          m[q * d + k] = s * pk + c * qk;
        }
        for (let k = 0; k < d; k++) {
          const kp = v[k * d + p]!;
          const kq = v[k * d + q]!;
          v[k * d + p] = c * kp - s * kq;
          v[k * d + q] = s * kp + c * kq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: d }, (_, i) => m[i * d + i]!), vectors: v };
}

/**
 * Fréchet (2-Wasserstein) distance² between N(m₁, C₁) and N(m₂, C₂) (Dowson & Landau 1982; the formula of FID):
 * ‖m₁ − m₂‖² + tr(C₁ + C₂ − 2(C₁^½ C₂ C₁^½)^½). m: `[d]`, C: `[d, d]` row-major.
 */
export function frechetDistance(
  m1: ArrayLike<number>,
  c1: ArrayLike<number>,
  m2: ArrayLike<number>,
  c2: ArrayLike<number>,
  d: number,
): number {
  const e = symmetricEigen(c1, d);
  const root = new Float64Array(d * d); // C₁^½
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < d; b++) {
      let s = 0;
      for (let k = 0; k < d; k++)
        s += e.vectors[a * d + k]! * Math.sqrt(Math.max(e.values[k]!, 0)) * e.vectors[b * d + k]!;
      root[a * d + b] = s;
    }
  }
  const t = new Float64Array(d * d);
  const inner = new Float64Array(d * d); // C₁^½ C₂ C₁^½
  for (let a = 0; a < d; a++)
    for (let b = 0; b < d; b++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += root[a * d + k]! * c2[k * d + b]!;
      t[a * d + b] = s;
    }
  for (let a = 0; a < d; a++)
    for (let b = 0; b < d; b++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += t[a * d + k]! * root[k * d + b]!;
      inner[a * d + b] = s;
    }
  for (let a = 0; a < d; a++)
    for (let b = a + 1; b < d; b++) {
      const s = 0.5 * (inner[a * d + b]! + inner[b * d + a]!);
      inner[a * d + b] = s;
      inner[b * d + a] = s;
    }
  let trace = 0;
  for (let a = 0; a < d; a++) trace += c1[a * d + a]! + c2[a * d + a]!;
  for (const ev of symmetricEigen(inner, d).values) trace -= 2 * Math.sqrt(Math.max(ev, 0));
  let dm = 0;
  for (let j = 0; j < d; j++) dm += (m1[j]! - m2[j]!) ** 2;
  return dm + Math.max(trace, 0);
}

function rowMoments(x: ArrayLike<number>, rows: ArrayLike<number>, d: number) {
  const n = rows.length;
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) mean[j]! += x[rows[r]! * d + j]! / n;
  const cov = new Float64Array(d * d);
  for (let r = 0; r < n; r++) {
    const o = rows[r]! * d;
    for (let a = 0; a < d; a++) {
      const da = x[o + a]! - mean[a]!;
      for (let b = a; b < d; b++) cov[a * d + b]! += (da * (x[o + b]! - mean[b]!)) / (n - 1);
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) cov[a * d + b] = cov[b * d + a]!;
  return { mean, cov };
}

/**
 * The FID stand-in of the bench: Σₖ πₖ·FD(sampler rows in component k, reference rows in component k), with
 * components assigned by {@link classify}, πₖ the reference's fraction in k, and FD the Fréchet distance² of the
 * Gaussian fits (components with < 2 reference rows are skipped; < 2 sampler rows give Infinity). Also the number
 * of rows whose component differs from the reference's ("mode switches"). `rows` (optional, with repeats) selects
 * the paired rows to use, for the bootstrap.
 */
export function componentFrechet(
  spec: GaussianMixtureSpec,
  x: ArrayLike<number>,
  ref: ArrayLike<number>,
  rows?: ArrayLike<number>,
): { fd: number; switched: number } {
  const dim = spec.means[0]!.length;
  const n = Math.floor(x.length / dim);
  const use = rows ?? Int32Array.from({ length: n }, (_, i) => i);
  const cx = classify(spec, x);
  const cr = classify(spec, ref);
  let switched = 0;
  for (let r = 0; r < use.length; r++) if (cx[use[r]!] !== cr[use[r]!]) switched++;
  let fd = 0;
  for (let k = 0; k < spec.weights.length; k++) {
    const inX: number[] = [];
    const inRef: number[] = [];
    for (let r = 0; r < use.length; r++) {
      if (cx[use[r]!] === k) inX.push(use[r]!);
      if (cr[use[r]!] === k) inRef.push(use[r]!);
    }
    if (inRef.length < 2) continue;
    if (inX.length < 2) return { fd: Infinity, switched };
    const a = rowMoments(x, inX, dim);
    const b = rowMoments(ref, inRef, dim);
    fd += (inRef.length / use.length) * frechetDistance(a.mean, a.cov, b.mean, b.cov, dim);
  }
  return { fd, switched };
}

/**
 * Bootstrap standard error of {@link componentFrechet}'s fd: `reps` resamplings of the paired rows with
 * replacement, drawn from `uniform` (a function returning `count` uniforms in [0, 1)).
 */
export function componentFrechetStdErr(
  spec: GaussianMixtureSpec,
  x: ArrayLike<number>,
  ref: ArrayLike<number>,
  reps: number,
  uniform: (count: number) => ArrayLike<number>,
): number {
  const n = Math.floor(x.length / spec.means[0]!.length);
  const values: number[] = [];
  for (let r = 0; r < reps; r++) {
    const u = uniform(n);
    const rows = Int32Array.from(u, (v) => Math.min(n - 1, Math.floor(v * n)));
    values.push(componentFrechet(spec, x, ref, rows).fd);
  }
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2) return Infinity;
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  return Math.sqrt(finite.reduce((a, b) => a + (b - mean) ** 2, 0) / (finite.length - 1));
}

/**
 * The smallest NFE at which a decreasing error curve reaches `target`: the first point at or below it, log-log
 * interpolated with the point before. `points` sorted by NFE. Returns -1 if no point reaches the target.
 */
export function nfeToReach(points: readonly { nfe: number; value: number }[], target: number): number {
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (!(p.value <= target)) continue;
    if (i === 0) return p.nfe;
    const q = points[i - 1]!;
    if (!(q.value > 0 && p.value > 0 && target > 0 && Number.isFinite(q.value))) return p.nfe;
    const f = Math.log(q.value / target) / Math.log(q.value / p.value);
    return Math.exp(Math.log(q.nfe) + f * Math.log(p.nfe / q.nfe));
  }
  return -1;
}

/** The exact mean `[d]` and covariance `[d, d]` (row-major) of an isotropic Gaussian mixture (weights normalised). */
export function mixtureMoments(spec: GaussianMixtureSpec): { mean: Float64Array; cov: Float64Array } {
  const d = spec.means[0]!.length;
  const total = spec.weights.reduce((a, b) => a + b, 0);
  const mean = new Float64Array(d);
  const cov = new Float64Array(d * d);
  spec.weights.forEach((w, k) => {
    const p = w / total;
    const mu = spec.means[k]!;
    for (let a = 0; a < d; a++) {
      mean[a]! += p * mu[a]!;
      cov[a * d + a]! += p * spec.stds[k]! ** 2;
      for (let b = 0; b < d; b++) cov[a * d + b]! += p * mu[a]! * mu[b]!;
    }
  });
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b]! -= mean[a]! * mean[b]!;
  return { mean, cov };
}

/** The distribution measures of {@link componentFrechetExact}. */
export interface ExactDistributionMeasures {
  /** Σₖ πₖ·FD²(Gaussian fit of the rows classified into k, N(μₖ, sₖ²I)), πₖ the exact weights. */
  fd: number;
  /** FD² between one Gaussian fit of all rows and the mixture's exact mean and covariance (FID's own form). */
  fdGlobal: number;
  /** Total variation ½Σₖ|nₖ/n − πₖ| between the rows' mode fractions and the exact weights. */
  modeTV: number;
}

/**
 * The FID stand-in against the TRUE data distribution (no sample on the reference side, so no reference noise):
 * rows are assigned to components by {@link classify}; `fd` compares each component's Gaussian fit with that
 * component's exact N(μₖ, sₖ²I), weighted by the exact weights πₖ (a component with πₖ > 0 and < 2 rows gives
 * Infinity); `fdGlobal` is the Fréchet distance² of a single Gaussian fit to the mixture's exact moments (what
 * FID computes, blind to the modes but sensitive to their weights); `modeTV` the mode-weight error.
 * x: `[n, dim]` row-major; `rows` (optional, with repeats) selects the rows, for the bootstrap.
 */
export function componentFrechetExact(
  spec: GaussianMixtureSpec,
  x: ArrayLike<number>,
  rows?: ArrayLike<number>,
): ExactDistributionMeasures {
  const dim = spec.means[0]!.length;
  const n = Math.floor(x.length / dim);
  const use = rows ?? Int32Array.from({ length: n }, (_, i) => i);
  const labels = classify(spec, x);
  const total = spec.weights.reduce((a, b) => a + b, 0);
  const K = spec.weights.length;
  const members: number[][] = Array.from({ length: K }, () => []);
  for (let r = 0; r < use.length; r++) members[labels[use[r]!]!]!.push(use[r]!);
  let fd = 0;
  let modeTV = 0;
  for (let k = 0; k < K; k++) {
    const p = spec.weights[k]! / total;
    modeTV += 0.5 * Math.abs(members[k]!.length / use.length - p);
    if (p === 0) continue;
    if (members[k]!.length < 2) {
      fd = Infinity;
      continue;
    }
    const fit = rowMoments(x, members[k]!, dim);
    const c = new Float64Array(dim * dim);
    for (let j = 0; j < dim; j++) c[j * dim + j] = spec.stds[k]! ** 2;
    fd += p * frechetDistance(fit.mean, fit.cov, spec.means[k]!, c, dim);
  }
  const all = rowMoments(x, use, dim);
  const exact = mixtureMoments(spec);
  return { fd, fdGlobal: frechetDistance(all.mean, all.cov, exact.mean, exact.cov, dim), modeTV };
}

/**
 * Bootstrap standard error (Efron 1979) of a statistic of `n` rows: the standard deviation of `stat(rows)` over
 * `reps` resamplings of the row indices with replacement, drawn from `uniform` (returns `count` uniforms in
 * [0, 1)). Give `stat` a difference of two samplers' measures on the same rows for a paired error. Non-finite
 * replicates are dropped (Infinity if fewer than 2 remain).
 */
export function bootstrapStdErr(
  n: number,
  reps: number,
  uniform: (count: number) => ArrayLike<number>,
  stat: (rows: Int32Array) => number,
): number {
  const values: number[] = [];
  for (let r = 0; r < reps; r++) {
    const u = uniform(n);
    const v = stat(Int32Array.from(u, (x) => Math.min(n - 1, Math.floor(x * n))));
    if (Number.isFinite(v)) values.push(v);
  }
  if (values.length < 2) return Infinity;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
}

/**
 * The first NFE of a curve from which every later point is within noise of the curve's plateau:
 * `value − plateau ≤ k·se` (se the paired bootstrap error of that difference). `points` sorted by NFE; returns
 * -1 if even the last point is not within noise.
 */
export function plateauNfe(
  points: readonly { nfe: number; value: number; se: number }[],
  plateau: number,
  k = 2,
): number {
  let first = -1;
  for (let i = points.length - 1; i >= 0; i--) {
    const p = points[i]!;
    if (p.value - plateau <= k * p.se) first = p.nfe;
    else break;
  }
  return first;
}
