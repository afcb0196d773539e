/**
 * The exact denoiser of an isotropic Gaussian mixture (Karras et al. 2022, eq. 3: D(x; σ) = E[x₀ | x₀ + σn = x]),
 * its score and log-density, so that every sampler can be tested and compared without a trained network.
 */

import {
  argumentMessage,
  assertNumber,
  assertTensor,
  formatShape,
  type Rng,
  ShapeError,
  ValueError,
} from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser } from './types.js';
import { rowShape } from './util.js';

/** p(x₀) = Σₖ wₖ·N(x₀; μₖ, sₖ²·I). */
export interface GaussianMixtureSpec {
  /** Mixture weights `[K]`, positive (normalised internally). */
  weights: number[];
  /** Component means `[K][dim]`. */
  means: number[][];
  /** Component standard deviations `[K]` (isotropic), ≥ 0. */
  stds: number[];
}

/** A validated mixture with its exact denoiser, score, density and sampler. */
export interface GaussianMixture {
  readonly weights: Float64Array;
  readonly means: Float64Array[];
  readonly stds: Float64Array;
  readonly dim: number;
  /** D(x; σ) = Σₖ rₖ(x)·(μₖ + sₖ²/(sₖ² + σ²)·(x − μₖ)), rₖ the posterior responsibilities. x: `[batch, dim]`. */
  denoiser: Denoiser;
  /**
   * ∇ₓ log p(x) for x = s·(x₀ + σn): (D(x/s; σ) − x/s)/(s·σ²). x: `[batch, dim]`; sigma and scale: `[batch]` or
   * numbers (scale defaults to 1).
   */
  score(x: tf.Tensor, sigma: tf.Tensor | number, scale?: tf.Tensor | number): tf.Tensor;
  /** log p(x) in nats (float64, on the host) of x = s·(x₀ + σn) per row. x: `[batch, dim]` or a flat array. */
  logDensity(x: tf.Tensor | ArrayLike<number>, sigma?: number, scale?: number): Float64Array;
  /** Exact samples x₀ `[n, dim]` and their component indices. */
  sample(n: number, rng: Rng): { x: tf.Tensor; components: Int32Array };
  /** The mixture's mean `[dim]` and covariance `[dim·dim]` (row-major). */
  moments(): { mean: Float64Array; covariance: Float64Array };
}

const FN = 'diffusion.gaussianMixtureDenoiser';

function validate(fn: string, spec: GaussianMixtureSpec): void {
  if (typeof spec !== 'object' || spec === null)
    throw new ValueError(argumentMessage(fn, 'spec', 'an object { weights, means, stds }', String(spec)));
  const { weights, means, stds } = spec;
  if (!Array.isArray(weights) || weights.length === 0) {
    throw new ValueError(argumentMessage(fn, 'weights', 'a non-empty number[]', String(weights)));
  }
  const k = weights.length;
  if (!Array.isArray(means) || means.length !== k) {
    throw new ShapeError(
      argumentMessage(
        fn,
        'means',
        `an array of ${k} mean vectors (one per weight)`,
        Array.isArray(means) ? `length ${means.length}` : String(means),
      ),
    );
  }
  if (!Array.isArray(stds) || stds.length !== k) {
    throw new ShapeError(
      argumentMessage(
        fn,
        'stds',
        `an array of ${k} standard deviations`,
        Array.isArray(stds) ? `length ${stds.length}` : String(stds),
      ),
    );
  }
  const dim = Array.isArray(means[0]) ? means[0].length : 0;
  if (dim === 0)
    throw new ShapeError(argumentMessage(fn, 'means[0]', 'a non-empty number[]', String(means[0])));
  means.forEach((m, i) => {
    if (!Array.isArray(m) || m.length !== dim) {
      throw new ShapeError(
        argumentMessage(
          fn,
          `means[${i}]`,
          `a number[] of length ${dim}`,
          Array.isArray(m) ? `length ${m.length}` : String(m),
        ),
      );
    }
    m.forEach((v, j) => {
      assertNumber(fn, `means[${i}][${j}]`, v);
    });
  });
  weights.forEach((w, i) => {
    assertNumber(fn, `weights[${i}]`, w, { exclusiveMin: 0 });
  });
  stds.forEach((s, i) => {
    assertNumber(fn, `stds[${i}]`, s, { min: 0 });
  });
}

/**
 * Karras et al. 2022, eq. 3: the exact denoiser of an isotropic Gaussian mixture (the posterior mean of x₀).
 *
 * - x: `[batch, dim]`; sigma: `[batch]`; returns `[batch, dim]`.
 * - D(x; σ) = Σₖ rₖ(x)·(σ²μₖ + sₖ²x)/(sₖ² + σ²), rₖ ∝ wₖ·N(x; μₖ, (sₖ² + σ²)I).
 *
 * Built from tfjs ops, so it is differentiable (`tf.grad` through it gives the Jacobian of D).
 */
export function gaussianMixtureDenoiser(spec: GaussianMixtureSpec): Denoiser {
  return gaussianMixture(spec).denoiser;
}

/** The mixture object: exact denoiser, score, log-density, samples and moments (see {@link GaussianMixture}). */
export function gaussianMixture(spec: GaussianMixtureSpec): GaussianMixture {
  validate(FN, spec);
  const k = spec.weights.length;
  const dim = spec.means[0]!.length;
  const total = spec.weights.reduce((a, b) => a + b, 0);
  const weights = Float64Array.from(spec.weights, (w) => w / total);
  const means = spec.means.map((m) => Float64Array.from(m));
  const stds = Float64Array.from(spec.stds);
  const meanFlat = new Float32Array(k * dim);
  means.forEach((m, i) => {
    meanFlat.set(m, i * dim);
  });
  const logW = Float32Array.from(weights, Math.log);
  const var0 = Float32Array.from(stds, (s) => s * s);

  const denoiser: Denoiser = (x, sigma) => {
    assertTensor(FN, 'x', x);
    assertTensor(FN, 'sigma', sigma);
    if (x.rank !== 2 || x.shape[1] !== dim) {
      throw new ShapeError(
        argumentMessage(FN, 'x', `of shape [batch, ${dim}]`, `shape ${formatShape(x.shape)}`),
      );
    }
    const n = x.shape[0]!;
    if (sigma.rank !== 1 || sigma.shape[0] !== n) {
      throw new ShapeError(
        argumentMessage(FN, 'sigma', `of shape [${n}] [batch]`, `shape ${formatShape(sigma.shape)}`),
      );
    }
    return tf.tidy(() => {
      const mu = tf.tensor2d(meanFlat, [k, dim]); // [K, dim]
      const s2 = tf.reshape(tf.square(sigma), [n, 1]); // [N, 1]
      const v = tf.add(tf.tensor2d(var0, [1, k]), s2); // [N, K] total variance per component
      const diff = tf.sub(tf.reshape(x, [n, 1, dim]), tf.reshape(mu, [1, k, dim])); // [N, K, dim]
      const d2 = tf.sum(tf.square(diff), 2); // [N, K]
      const logits = tf.sub(
        tf.sub(tf.tensor2d(logW, [1, k]), tf.mul(dim / 2, tf.log(v))),
        tf.div(d2, tf.mul(2, v)),
      ); // [N, K]
      const r = tf.softmax(logits, 1); // [N, K]
      const a = tf.div(tf.mul(r, s2), v); // [N, K] weight of μₖ
      const b = tf.sum(tf.div(tf.mul(r, tf.tensor2d(var0, [1, k])), v), 1, true); // [N, 1] weight of x
      return tf.add(tf.matMul(a, mu), tf.mul(b, x)); // [N, dim]
    });
  };

  const score = (x: tf.Tensor, sigma: tf.Tensor | number, scale: tf.Tensor | number = 1): tf.Tensor =>
    tf.tidy(() => {
      const fn = 'diffusion.gaussianMixture.score';
      assertTensor(fn, 'x', x);
      const n = x.shape[0]!;
      const sig = typeof sigma === 'number' ? tf.fill([n], sigma) : sigma;
      const sc = typeof scale === 'number' ? tf.fill([n], scale) : scale;
      const xs = tf.div(x, tf.reshape(sc, rowShape(x)));
      const d = denoiser(xs, sig);
      return tf.div(tf.sub(d, xs), tf.reshape(tf.mul(sc, tf.square(sig)), rowShape(x)));
    });

  const logDensity = (x: tf.Tensor | ArrayLike<number>, sigma = 0, scale = 1): Float64Array => {
    const data = x instanceof tf.Tensor ? x.dataSync() : x;
    const n = Math.floor(data.length / dim);
    const out = new Float64Array(n);
    const terms = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let c = 0; c < k; c++) {
        const v = scale * scale * (stds[c]! ** 2 + sigma * sigma);
        let d2 = 0;
        for (let j = 0; j < dim; j++) d2 += (data[i * dim + j]! - scale * means[c]![j]!) ** 2;
        terms[c] = Math.log(weights[c]!) - (dim / 2) * Math.log(2 * Math.PI * v) - d2 / (2 * v);
        max = Math.max(max, terms[c]!);
      }
      let sum = 0;
      for (let c = 0; c < k; c++) sum += Math.exp(terms[c]! - max);
      out[i] = max + Math.log(sum);
    }
    return out;
  };

  const sample = (n: number, rng: Rng) => {
    const u = rng.uniformData(n);
    const z = rng.normalData(n * dim);
    const comps = new Int32Array(n);
    const out = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      let c = 0;
      let acc = weights[0]!;
      while (c < k - 1 && u[i]! >= acc) acc += weights[++c]!;
      comps[i] = c;
      for (let j = 0; j < dim; j++) out[i * dim + j] = means[c]![j]! + stds[c]! * z[i * dim + j]!;
    }
    return { x: tf.tensor2d(out, [n, dim]), components: comps };
  };

  const moments = () => {
    const mean = new Float64Array(dim);
    for (let c = 0; c < k; c++) for (let j = 0; j < dim; j++) mean[j]! += weights[c]! * means[c]![j]!;
    const cov = new Float64Array(dim * dim);
    for (let c = 0; c < k; c++) {
      for (let a = 0; a < dim; a++) {
        for (let b = 0; b < dim; b++) {
          const da = means[c]![a]! - mean[a]!;
          const db = means[c]![b]! - mean[b]!;
          cov[a * dim + b]! += weights[c]! * (da * db + (a === b ? stds[c]! ** 2 : 0));
        }
      }
    }
    return { mean, covariance: cov };
  };

  return { weights, means, stds, dim, denoiser, score, logDensity, sample, moments };
}
