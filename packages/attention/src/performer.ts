/**
 * Performer FAVOR+ (Choromanski et al. 2021, "Rethinking Attention with Performers"): positive orthogonal
 * random features whose inner products estimate the softmax kernel, exp(q·k / √D) ≈ φ(q)·φ(k), turning
 * softmax attention into linear attention.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, assertKnownOptions, assertNumber, type Rng, ValueError } from '@lab/tensor';
import type { FeatureMap } from './linear.js';

export interface PerformerOptions {
  /** Head dimension D of the queries and keys. */
  headDim: number;
  /** Number of random features m (more features, smaller error; Performer uses m ≈ D log D). */
  numFeatures: number;
  /** Generator for the projections (and every redraw). */
  rng: Rng;
  /** Orthogonal blocks of D rows (FAVOR+, default) or independent Gaussian rows. */
  orthogonal?: boolean;
  /** Added to every feature after the exponential (Performer's numerical stabiliser, default 1e-6). */
  eps?: number;
}

/** A FAVOR+ feature map: use as `linearAttention(q, k, v, { featureMap })`. */
export interface PerformerFeatureMap extends FeatureMap {
  /** The projection W: [numFeatures, headDim]. Replaced (and the old one disposed) by redraw. */
  readonly projection: tf.Tensor2D;
  readonly numFeatures: number;
  /** Draws a new projection from the generator (Performer redraws during training). */
  redraw(): void;
  /** Frees the projection. */
  dispose(): void;
}

/** Rows of W: orthogonal D × D blocks (Gram–Schmidt on Gaussians) scaled by Gaussian norms, or iid rows. */
function drawProjection(m: number, D: number, rng: Rng, orthogonal: boolean): Float32Array {
  const out = new Float32Array(m * D);
  if (!orthogonal) {
    out.set(rng.normalData(m * D));
    return out;
  }
  for (let start = 0; start < m; start += D) {
    const rows = Math.min(D, m - start);
    const g = Float64Array.from(rng.normalData(D * D));
    // Gram–Schmidt (twice, for orthogonality in floating point) on the D rows of g.
    for (let i = 0; i < D; i++) {
      for (let pass = 0; pass < 2; pass++) {
        for (let j = 0; j < i; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += g[i * D + d]! * g[j * D + d]!;
          for (let d = 0; d < D; d++) g[i * D + d] = g[i * D + d]! - dot * g[j * D + d]!;
        }
      }
      let norm = 0;
      for (let d = 0; d < D; d++) norm += g[i * D + d]! ** 2;
      norm = Math.sqrt(norm);
      for (let d = 0; d < D; d++) g[i * D + d] = g[i * D + d]! / norm;
    }
    // Each row gets the length of an independent Gaussian vector, so rows are marginally Gaussian.
    const lengths = rng.normalData(rows * D);
    for (let r = 0; r < rows; r++) {
      let len = 0;
      for (let d = 0; d < D; d++) len += lengths[r * D + d]! ** 2;
      len = Math.sqrt(len);
      for (let d = 0; d < D; d++) out[(start + r) * D + d] = g[r * D + d]! * len;
    }
  }
  return out;
}

/**
 * The FAVOR+ positive random feature map (Choromanski et al. 2021, Lemma 1 with orthogonal features):
 * φ(x) = exp(W x̃ − |x̃|²/2 − c) / √m + eps with x̃ = x / D^{1/4}, so E[φ(q)·φ(k)] ∝ exp(q·k / √D).
 * The stabiliser c (the max over a query's features, or over all keys and features of a head) cancels in
 * linear attention's normalisation.
 *
 * Applies to x: [batch, heads, L, headDim] → [batch, heads, L, numFeatures].
 */
export function performerFeatureMap(options: PerformerOptions): PerformerFeatureMap {
  const fn = 'attention.performerFeatureMap';
  assertKnownOptions(fn, options, ['headDim', 'numFeatures', 'rng', 'orthogonal', 'eps']);
  const { headDim: D, numFeatures: m, rng, orthogonal = true, eps = 1e-6 } = options;
  assertInteger(fn, 'headDim', D, 1);
  assertInteger(fn, 'numFeatures', m, 1);
  assertNumber(fn, 'eps', eps, { min: 0 });
  if (!rng || typeof (rng as Rng).normalData !== 'function') {
    throw new ValueError(`${fn}: rng must be a generator from createRng(seed), got ${String(rng)}`);
  }
  let projection = tf.tensor2d(drawProjection(m, D, rng, orthogonal), [m, D]);
  const dataScale = D ** -0.25;
  const map = ((x: tf.Tensor, role: 'query' | 'key') =>
    tf.tidy(() => {
      if (x.shape[x.rank - 1] !== D) {
        throw new ValueError(`${fn}: inputs must have headDim ${D} on the last axis, got shape [${x.shape}]`);
      }
      const xs = tf.mul(x, dataScale);
      const shape = x.shape;
      const flat = tf.reshape(xs, [-1, D]);
      const proj = tf.reshape(tf.matMul(flat, projection, false, true), [...shape.slice(0, -1), m]); // W x̃
      const half = tf.mul(tf.sum(tf.square(xs), -1, true), 0.5); // |x̃|²/2
      const logits = tf.sub(proj, half);
      const stabiliser =
        role === 'query' ? tf.max(logits, -1, true) : tf.max(logits, [x.rank - 2, x.rank - 1], true);
      return tf.add(tf.mul(tf.exp(tf.sub(logits, stabiliser)), 1 / Math.sqrt(m)), eps);
    })) as PerformerFeatureMap;
  Object.defineProperty(map, 'projection', { get: () => projection });
  Object.defineProperty(map, 'numFeatures', { value: m });
  map.redraw = () => {
    const next = tf.tensor2d(drawProjection(m, D, rng, orthogonal), [m, D]);
    projection.dispose();
    projection = next;
  };
  map.dispose = () => projection.dispose();
  return map;
}
