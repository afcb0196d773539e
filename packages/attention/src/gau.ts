/**
 * The gated attention unit and FLASH (Hua et al. 2022, "Transformer Quality in Linear Time"): one shared
 * projection Z gives queries and keys through per-dimension scales and offsets, attention is squared ReLU,
 * and the result gates U; FLASH's mixed-chunk attention is quadratic inside chunks and linear across them.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertInteger,
  assertKnownOptions,
  assertOneOf,
  assertRank,
  formatShape,
  type Rng,
  ShapeError,
} from '@lab/tensor';
import { exclusiveCumsumAxis1, lowerTriangle } from './linear.js';
import { applyRope } from './rope.js';

export interface GauConfig {
  /** Model width d. */
  dModel: number;
  /** Expansion: e = expansion · d (default 2). */
  expansion?: number;
  /** Shared query/key width s (default 128). */
  qkDim?: number;
  /** Causal (default false). */
  causal?: boolean;
  /** Rotary embeddings on queries and keys (default true, as the paper's FLASH). */
  rope?: boolean;
  /**
   * 'quadratic' = GAU (Code 1: relu²(QKᵀ / L) over the whole sequence); 'mixed' = FLASH mixed-chunk
   * attention (Code 8: relu²(QKᵀ / C) inside chunks of `chunkSize`, linear attention across chunks).
   */
  attention?: 'quadratic' | 'mixed';
  /** FLASH chunk length C (default 64). */
  chunkSize?: number;
  /**
   * Learned relative position bias added to the scaled scores (the paper's `rel_pos_bias`): one weight per
   * distance j − i, clipped to ±maxRelativeDistance (default 127; 0 = no bias). Initialised at zero.
   */
  maxRelativeDistance?: number;
}

export interface Gau {
  readonly config: Required<GauConfig>;
  /**
   * Weights: wUV [d, 2e + s] and bUV [2e + s] (U, V, Z in that order), gamma and beta [h, s] (h = 2 for GAU:
   * q, k; 4 for FLASH: quadratic q, k, linear q, k), wO [e, d], bO [d], relPos [2·maxRelativeDistance + 1]
   * (the bias of distance j − i at index j − i + maxRelativeDistance).
   */
  readonly weights: Record<'wUV' | 'bUV' | 'gamma' | 'beta' | 'wO' | 'bO' | 'relPos', tf.Variable>;
  /** x: [batch, L, d] → [batch, L, d] (with the residual connection: x + GAU(norm(x))). */
  forward(x: tf.Tensor): tf.Tensor3D;
  dispose(): void;
}

const FN = 'attention.createGau';

/**
 * The Toeplitz matrix [n, n] of a relative position bias: out[i][j] = w[clip(j − i, −M, M) + M], w: [2M + 1].
 * Built with differentiable ops that have wasm kernels (no gather): the 2n − 1 biases of distances −(n − 1) …
 * n − 1, tiled n times, read with a row stride of 2n − 2 (the "skew" trick).
 */
export function relativePositionBias(w: tf.Tensor, n: number, M: number): tf.Tensor2D {
  return tf.tidy(() => {
    const clampCount = Math.max(0, n - 1 - M);
    const inner = Math.min(M, n - 1);
    const parts: tf.Tensor[] = [];
    if (clampCount) parts.push(tf.tile(tf.slice(w, [0], [1]), [clampCount]));
    parts.push(tf.slice(w, [M - inner], [2 * inner + 1]));
    if (clampCount) parts.push(tf.tile(tf.slice(w, [2 * M], [1]), [clampCount]));
    const ext = parts.length === 1 ? parts[0]! : tf.concat(parts, 0); // [2n − 1], distance d at d + n − 1
    if (n === 1) return tf.reshape(ext, [1, 1]) as tf.Tensor2D;
    const flat = tf.tile(ext, [n]); // [n (2n − 1)]
    const skewed = tf.reshape(tf.slice(flat, [n - 1], [n * (2 * n - 2)]), [n, 2 * n - 2]);
    // Row i starts at flat index i (2n − 1) + (n − 1 − i): ext[(n − 1 − i) + j], the bias of distance j − i.
    return tf.slice(skewed, [0, 0], [n, n]) as tf.Tensor2D;
  });
}

/** Layer normalisation without parameters over the last axis. */
function normalise(x: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5)));
}

/**
 * Creates a GAU (or, with `attention: 'mixed'`, a FLASH layer) with weights from `rng`: dense layers
 * Gaussian with std 0.02 (as the paper), gamma Gaussian with std 0.02, beta zero, biases zero.
 */
export function createGau(config: GauConfig, rng: Rng): Gau {
  assertKnownOptions(FN, config, [
    'dModel',
    'expansion',
    'qkDim',
    'causal',
    'rope',
    'attention',
    'chunkSize',
    'maxRelativeDistance',
  ]);
  const {
    dModel: d,
    expansion = 2,
    qkDim: s = 128,
    causal = false,
    rope = true,
    attention = 'quadratic',
    chunkSize = 64,
    maxRelativeDistance = 127,
  } = config;
  assertInteger(FN, 'config.maxRelativeDistance', maxRelativeDistance, 0);
  assertInteger(FN, 'config.dModel', d, 1);
  assertInteger(FN, 'config.expansion', expansion, 1);
  assertInteger(FN, 'config.qkDim', s, rope ? 2 : 1);
  if (rope && s % 2 !== 0) throw new ShapeError(`${FN}: config.qkDim must be even with rope, got ${s}`);
  assertOneOf(FN, 'config.causal', causal, [true, false]);
  assertOneOf(FN, 'config.attention', attention, ['quadratic', 'mixed']);
  assertInteger(FN, 'config.chunkSize', chunkSize, 1);
  const e = expansion * d;
  const h = attention === 'mixed' ? 4 : 2;
  const weights = {
    wUV: tf.variable(rng.normal([d, 2 * e + s], 0, 0.02)),
    bUV: tf.variable(tf.zeros([2 * e + s])),
    gamma: tf.variable(rng.normal([h, s], 0, 0.02)),
    beta: tf.variable(tf.zeros([h, s])),
    wO: tf.variable(rng.normal([e, d], 0, 0.02)),
    bO: tf.variable(tf.zeros([d])),
    relPos: tf.variable(tf.zeros([2 * maxRelativeDistance + 1])),
  };
  const positionBias = (n: number) =>
    maxRelativeDistance > 0 ? relativePositionBias(weights.relPos, n, maxRelativeDistance) : undefined;

  /** Scale and offset of head i of the shared Z: Z ∘ γ_i + β_i (then RoPE). Z: [B, L, s]. */
  const offsetScale = (z: tf.Tensor, i: number) => {
    const gamma = tf.reshape(tf.slice(weights.gamma, [i, 0], [1, s]), [s]);
    const beta = tf.reshape(tf.slice(weights.beta, [i, 0], [1, s]), [s]);
    const y = tf.add(tf.mul(z, gamma), beta);
    return rope ? applyRope(y) : y;
  };

  const forward = (x: tf.Tensor): tf.Tensor3D => {
    assertRank('Gau.forward', 'x', x, 3, '[batch, seqLen, dModel]');
    if (x.shape[2] !== d)
      throw new ShapeError(
        `Gau.forward: x must have dModel = ${d} features, got shape ${formatShape(x.shape)}`,
      );
    return tf.tidy(() => {
      const [B, L] = x.shape as [number, number, number];
      const uvz = tf.reshape(
        tf.add(tf.matMul(tf.reshape(normalise(x), [B * L, d]), weights.wUV), weights.bUV),
        [B, L, 2 * e + s],
      );
      const [uRaw, vRaw, zRaw] = tf.split(tf.mul(uvz, tf.sigmoid(uvz)), [e, e, s], -1) as [
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
      ]; // SiLU
      let mixed: tf.Tensor; // [B, L, e]
      if (attention === 'quadratic') {
        const q = offsetScale(zRaw, 0);
        const k = offsetScale(zRaw, 1);
        let scores: tf.Tensor = tf.div(tf.matMul(q as tf.Tensor3D, k as tf.Tensor3D, false, true), L); // [B, L, L]
        const bias = positionBias(L);
        if (bias) scores = tf.add(scores, bias);
        let kernel = tf.square(tf.relu(scores));
        if (causal) kernel = tf.mul(kernel, lowerTriangle(L));
        mixed = tf.matMul(kernel as tf.Tensor3D, vRaw as tf.Tensor3D);
      } else {
        mixed = mixedChunk(zRaw, vRaw, offsetScale, B, L, e, s, chunkSize, causal, positionBias);
      }
      const gated = tf.mul(uRaw, mixed);
      const out = tf.add(tf.matMul(tf.reshape(gated, [B * L, e]), weights.wO), weights.bO);
      return tf.add(x, tf.reshape(out, [B, L, d])) as tf.Tensor3D;
    });
  };

  return {
    config: { dModel: d, expansion, qkDim: s, causal, rope, attention, chunkSize, maxRelativeDistance },
    weights,
    forward,
    dispose() {
      for (const w of Object.values(weights)) w.dispose();
    },
  };
}

/**
 * FLASH mixed-chunk attention (Hua et al. 2022, Code 8): with G chunks of C tokens (zero-padded),
 *   quadratic_g = relu²(Q_g K_gᵀ / C + bias) V_g (masked inside the chunk when causal; bias = the relative
 *   position bias of positions inside the chunk),
 *   linear_g = Q'_g Σ_h K'_hᵀ V_h / L over all chunks h, or h < g when causal.
 */
export function mixedChunk(
  z: tf.Tensor,
  v: tf.Tensor,
  offsetScale: (z: tf.Tensor, i: number) => tf.Tensor,
  B: number,
  L: number,
  e: number,
  s: number,
  chunkSize: number,
  causal: boolean,
  positionBias: (n: number) => tf.Tensor | undefined = () => undefined,
): tf.Tensor {
  const C = Math.min(chunkSize, L);
  const G = Math.ceil(L / C);
  const pad = G * C - L;
  // Padding after the last token (v = 0 there), so it adds nothing to any output.
  const chunks = (x: tf.Tensor, width: number) =>
    tf.reshape(
      pad
        ? tf.pad(x, [
            [0, 0],
            [0, pad],
            [0, 0],
          ])
        : x,
      [B * G, C, width],
    ) as tf.Tensor3D;
  const vc = chunks(v, e);
  const quadQ = chunks(offsetScale(z, 0), s);
  const quadK = chunks(offsetScale(z, 1), s);
  const linQ = chunks(offsetScale(z, 2), s);
  const linK = chunks(offsetScale(z, 3), s);
  let scores: tf.Tensor = tf.div(tf.matMul(quadQ, quadK, false, true), C); // [B·G, C, C]
  const bias = positionBias(C); // positions inside a chunk
  if (bias) scores = tf.add(scores, bias);
  let kernel = tf.square(tf.relu(scores));
  if (causal) kernel = tf.mul(kernel, lowerTriangle(C));
  const quadratic = tf.matMul(kernel as tf.Tensor3D, vc); // [B·G, C, e]
  const chunkKv = tf.reshape(tf.div(tf.matMul(linK, vc, true, false), L), [B, G, s * e]); // per chunk K'ᵀV / L
  const kv = causal ? exclusiveCumsumAxis1(chunkKv) : tf.tile(tf.sum(chunkKv, 1, true), [1, G, 1]); // [B, G, s·e]
  const linear = tf.matMul(linQ, tf.reshape(kv, [B * G, s, e]) as tf.Tensor3D); // [B·G, C, e]
  const both = tf.reshape(tf.add(quadratic, linear), [B, G * C, e]);
  return pad ? tf.slice(both, [0, 0, 0], [B, L, e]) : both;
}
