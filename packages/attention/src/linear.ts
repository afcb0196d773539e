/**
 * Linear attention (Katharopoulos et al. 2020, "Transformers are RNNs"): softmax(q·k) replaced by a kernel
 * φ(q)·φ(k), so attention costs O(L·D²) instead of O(L²·D):
 *   out_i = φ(q_i)ᵀ S_i / (φ(q_i)ᵀ z_i + eps),  S_i = Σ_j φ(k_j) v_jᵀ,  z_i = Σ_j φ(k_j)
 * with j over all keys (non-causal) or j ≤ i (causal). The causal form comes in three equal versions:
 * recurrent (a state updated token by token), parallel (the masked L × L form) and chunked (quadratic inside
 * chunks, state across chunks, as flash-linear-attention computes it), with state in and out for streaming.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertDtype,
  assertInteger,
  assertKnownOptions,
  assertNumber,
  assertOneOf,
  assertRank,
  assertShape,
  assertSameSize,
  formatShape,
  ShapeError,
  ValueError,
} from '@lab/tensor';
import { QKV_LAYOUT } from './options.js';

/**
 * A feature map φ applied along the last axis: x [batch, heads, L, headDim] → [batch, heads, L, features].
 * `role` tells queries from keys (Performer's stabiliser differs between them); simple maps ignore it.
 */
export type FeatureMap = (x: tf.Tensor, role: 'query' | 'key') => tf.Tensor;

/** Built-in feature maps: elu(x) + 1 (Katharopoulos et al. 2020), relu, identity. */
export const featureMaps: Record<'elu+1' | 'relu' | 'identity', FeatureMap> = {
  'elu+1': (x) => tf.add(tf.elu(x), 1),
  relu: (x) => tf.relu(x),
  identity: (x) => x,
};

/** The running state of causal linear attention: S = Σ φ(k) vᵀ and z = Σ φ(k). */
export interface LinearAttentionState {
  /** [batch, heads, features, valueDim] */
  kv: tf.Tensor;
  /** [batch, heads, features] */
  z: tf.Tensor;
}

export interface LinearAttentionOptions {
  /** Causal (token i sees keys j ≤ i; needs S = L). Default false. */
  causal?: boolean;
  /** φ: 'elu+1' (default), 'relu', 'identity', or a function (see {@link FeatureMap}, performerFeatureMap). */
  featureMap?: 'elu+1' | 'relu' | 'identity' | FeatureMap;
  /** Causal algorithm: 'chunked' (default), 'parallel' (masked L × L) or 'recurrent' (token by token). */
  mode?: 'chunked' | 'parallel' | 'recurrent';
  /** Chunk length of the chunked form (default 64). */
  chunkSize?: number;
  /** Divide by φ(q)·z (default true); false gives the unnormalised form of flash-linear-attention. */
  normalize?: boolean;
  /** Added to the denominator (default 1e-6). */
  eps?: number;
  /** State from earlier tokens (causal only), e.g. the `state` of a previous call. */
  initialState?: LinearAttentionState;
  /** Also return the state after the last token. */
  returnState?: boolean;
}

const FN = 'attention.linearAttention';

/**
 * The lower-triangular [n, n] matrix of ones (j ≤ i), built on the host. (tf.linalg.bandPart mixes dtypes
 * through chained tensor methods, which fail when two copies of tfjs-core are loaded, as under tsx.)
 */
export function lowerTriangle(n: number): tf.Tensor2D {
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) data.fill(1, i * n, i * n + i + 1);
  return tf.tensor2d(data, [n, n]);
}

/** Repeats kv heads for grouped-query attention: [B, Hkv, S, X] → [B, Hkv·G, S, X]. */
function repeatHeads(x: tf.Tensor, group: number): tf.Tensor {
  if (group === 1) return x;
  const [b, h, s, d] = x.shape as [number, number, number, number];
  // concat, not tile (no rank-5 gradient) or gather (its gradient has no wasm kernel).
  const x5 = tf.reshape(x, [b, h, 1, s, d]);
  return tf.reshape(tf.concat(new Array<tf.Tensor>(group).fill(x5), 2), [b, h * group, s, d]);
}

/**
 * Exclusive cumulative sum over axis 1 of [batch, n, x]. tfjs-core 4.22's Cumsum gradient returns a wrongly
 * permuted tensor unless the axis is the last one, so the sum runs on the last axis of the transpose.
 */
export function exclusiveCumsumAxis1(t: tf.Tensor): tf.Tensor {
  return tf.transpose(tf.cumsum(tf.transpose(t, [0, 2, 1]), 2, true), [0, 2, 1]);
}

/**
 * Linear attention (Katharopoulos et al. 2020) with feature map φ, non-causal or causal.
 *
 * q: [batch, headsQ, L, headDim]; k: [batch, headsKV, S, headDim]; v: [batch, headsKV, S, valueDim]
 * (headsKV divides headsQ); returns [batch, headsQ, L, valueDim], or `{ out, state }` with `returnState`.
 * out_i = φ(q_i)ᵀ Σ_j φ(k_j) v_jᵀ / (φ(q_i)ᵀ Σ_j φ(k_j) + eps), j ≤ i when causal.
 */
export function linearAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options: LinearAttentionOptions & { returnState: true },
): { out: tf.Tensor; state: LinearAttentionState };
export function linearAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options?: LinearAttentionOptions,
): tf.Tensor;
export function linearAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options: LinearAttentionOptions = {},
): tf.Tensor | { out: tf.Tensor; state: LinearAttentionState } {
  assertKnownOptions(FN, options, [
    'causal',
    'featureMap',
    'mode',
    'chunkSize',
    'normalize',
    'eps',
    'initialState',
    'returnState',
  ]);
  assertRank(FN, 'q', q, 4, QKV_LAYOUT);
  assertRank(FN, 'k', k, 4, QKV_LAYOUT);
  assertRank(FN, 'v', v, 4, '[batch, heads, seqLen, valueDim]');
  for (const [name, t] of [
    ['q', q],
    ['k', k],
    ['v', v],
  ] as const)
    assertDtype(FN, name, t, ['float32']);
  const [B, Hq, L, D] = q.shape as [number, number, number, number];
  const [, Hkv, S] = k.shape as [number, number, number, number];
  const Dv = v.shape[3]!;
  assertSameSize(FN, 'k.shape[0]', k.shape[0]!, 'q.shape[0] (batch)', B);
  assertSameSize(FN, 'k.shape[3]', k.shape[3]!, 'q.shape[3] (headDim)', D);
  if (v.shape[0] !== B || v.shape[1] !== Hkv || v.shape[2] !== S) {
    throw new ShapeError(
      `${FN}: v must be [${B},${Hkv},${S},valueDim] like k, got shape ${formatShape(v.shape)}`,
    );
  }
  if (Hq % Hkv !== 0) {
    throw new ShapeError(
      `${FN}: the kv heads k.shape[1] (${Hkv}) must divide the query heads q.shape[1] (${Hq})`,
    );
  }
  const {
    causal = false,
    featureMap = 'elu+1',
    mode = 'chunked',
    chunkSize = 64,
    normalize = true,
    eps = 1e-6,
    initialState,
    returnState = false,
  } = options;
  assertOneOf(FN, 'causal', causal, [true, false]);
  assertOneOf(FN, 'mode', mode, ['chunked', 'parallel', 'recurrent']);
  assertInteger(FN, 'chunkSize', chunkSize, 1);
  assertNumber(FN, 'eps', eps, { min: 0 });
  if (typeof featureMap !== 'function')
    assertOneOf(FN, 'featureMap', featureMap, ['elu+1', 'relu', 'identity']);
  if (causal && S !== L) {
    throw new ShapeError(
      `${FN}: causal linear attention needs as many keys as queries (S = L), got L=${L}, S=${S}`,
    );
  }
  if (initialState !== undefined) {
    if (!causal)
      throw new ValueError(`${FN}: initialState needs causal: true (a state summarises earlier tokens)`);
    assertShape(FN, 'initialState.z', initialState.z, [B, Hq, null], '[batch, heads, features]');
    assertShape(
      FN,
      'initialState.kv',
      initialState.kv,
      [B, Hq, initialState.z.shape[2]!, Dv],
      '[batch, heads, features, valueDim]',
    );
  }
  const phi: FeatureMap = typeof featureMap === 'function' ? featureMap : featureMaps[featureMap];

  let state: LinearAttentionState | undefined;
  const out = tf.tidy(() => {
    const fq = phi(q, 'query'); // [B, H, L, F]
    const fk = repeatHeads(phi(k, 'key'), Hq / Hkv); // [B, H, S, F]
    const vv = repeatHeads(v, Hq / Hkv); // [B, H, S, Dv]
    const F = fq.shape[3]!;
    if (fk.shape[3] !== F)
      throw new ShapeError(`${FN}: the feature map gave ${F} query features but ${fk.shape[3]} key features`);
    if (initialState && initialState.z.shape[2] !== F) {
      throw new ShapeError(
        `${FN}: initialState has ${initialState.z.shape[2]} features, the feature map gives ${F}`,
      );
    }
    const kv0 = initialState?.kv ?? tf.zeros([B, Hq, F, Dv]);
    const z0 = initialState?.z ?? tf.zeros([B, Hq, F]);
    let num: tf.Tensor; // [B, H, L, Dv]
    let den: tf.Tensor; // [B, H, L]
    let kvEnd: tf.Tensor;
    let zEnd: tf.Tensor;
    if (!causal) {
      kvEnd = tf.matMul(fk as tf.Tensor4D, vv as tf.Tensor4D, true, false); // [B, H, F, Dv]
      zEnd = tf.sum(fk, 2); // [B, H, F]
      num = tf.matMul(fq as tf.Tensor4D, kvEnd as tf.Tensor4D);
      den = tf.sum(tf.mul(fq, tf.expandDims(zEnd, 2)), -1);
    } else if (mode === 'parallel') {
      const tril = lowerTriangle(L);
      const a = tf.mul(tf.matMul(fq as tf.Tensor4D, fk as tf.Tensor4D, false, true), tril); // [B, H, L, L]
      num = tf.add(
        tf.matMul(a as tf.Tensor4D, vv as tf.Tensor4D),
        tf.matMul(fq as tf.Tensor4D, kv0 as tf.Tensor4D),
      );
      den = tf.add(tf.sum(a, -1), tf.sum(tf.mul(fq, tf.expandDims(z0, 2)), -1));
      kvEnd = tf.add(kv0, tf.matMul(fk as tf.Tensor4D, vv as tf.Tensor4D, true, false));
      zEnd = tf.add(z0, tf.sum(fk, 2));
    } else if (mode === 'recurrent') {
      let kvT = kv0;
      let zT = z0;
      const nums: tf.Tensor[] = [];
      const dens: tf.Tensor[] = [];
      for (let t = 0; t < L; t++) {
        const qt = tf.squeeze(tf.slice(fq, [0, 0, t, 0], [B, Hq, 1, F]), [2]); // [B, H, F]
        const kt = tf.slice(fk, [0, 0, t, 0], [B, Hq, 1, F]); // [B, H, 1, F]
        const vt = tf.slice(vv, [0, 0, t, 0], [B, Hq, 1, Dv]); // [B, H, 1, Dv]
        kvT = tf.add(kvT, tf.mul(tf.transpose(kt, [0, 1, 3, 2]), vt)); // S_t = S_{t-1} + φ(k_t) v_tᵀ
        zT = tf.add(zT, tf.squeeze(kt, [2]));
        nums.push(tf.sum(tf.mul(tf.expandDims(qt, 3), kvT), 2)); // [B, H, Dv]
        dens.push(tf.sum(tf.mul(qt, zT), -1)); // [B, H]
      }
      num = tf.stack(nums, 2);
      den = tf.stack(dens, 2);
      kvEnd = kvT;
      zEnd = zT;
    } else {
      ({ num, den, kvEnd, zEnd } = chunked(fq, fk, vv, kv0, z0, Math.min(chunkSize, L)));
    }
    if (returnState) state = { kv: tf.keep(kvEnd), z: tf.keep(zEnd) };
    return normalize ? tf.div(num, tf.expandDims(tf.add(den, eps), -1)) : num;
  });
  return returnState ? { out, state: state! } : out;
}

/**
 * The chunked causal form (as flash-linear-attention's chunk kernels): split L into N chunks of C; each
 * chunk's output is its masked C × C part plus φ(q) times the state of all earlier chunks, the states being an
 * exclusive cumulative sum of the per-chunk φ(k)ᵀ v. Every step is one batched op over all chunks.
 */
function chunked(
  fq: tf.Tensor,
  fk: tf.Tensor,
  v: tf.Tensor,
  kv0: tf.Tensor,
  z0: tf.Tensor,
  C: number,
): { num: tf.Tensor; den: tf.Tensor; kvEnd: tf.Tensor; zEnd: tf.Tensor } {
  const [B, H, L, F] = fq.shape as [number, number, number, number];
  const Dv = v.shape[3]!;
  const N = Math.ceil(L / C);
  const pad = N * C - L;
  // Zero φ(k) and v past L: they sit after every real token, so they change nothing.
  const padT = (x: tf.Tensor) =>
    pad
      ? tf.pad(x, [
          [0, 0],
          [0, 0],
          [0, pad],
          [0, 0],
        ])
      : x;
  const BH = B * H;
  const qc = tf.reshape(padT(fq), [BH * N, C, F]);
  const kc = tf.reshape(padT(fk), [BH * N, C, F]);
  const vc = tf.reshape(padT(v), [BH * N, C, Dv]);
  const chunkKv = tf.reshape(tf.matMul(kc, vc, true, false), [BH, N, F * Dv]); // Σ_chunk φ(k) vᵀ
  const chunkZ = tf.reshape(tf.sum(kc, 1), [BH, N, F]);
  const kvBefore = tf.add(exclusiveCumsumAxis1(chunkKv), tf.reshape(kv0, [BH, 1, F * Dv])); // state before each chunk
  const zBefore = tf.add(exclusiveCumsumAxis1(chunkZ), tf.reshape(z0, [BH, 1, F]));
  const tril = lowerTriangle(C);
  const a = tf.mul(tf.matMul(qc, kc, false, true), tril); // [BH·N, C, C]
  const intra = tf.matMul(a, vc); // [BH·N, C, Dv]
  const inter = tf.matMul(qc, tf.reshape(kvBefore, [BH * N, F, Dv])); // [BH·N, C, Dv]
  const denIntra = tf.sum(a, -1); // [BH·N, C]
  const denInter = tf.sum(tf.mul(qc, tf.reshape(zBefore, [BH * N, 1, F])), -1);
  const trim = (x: tf.Tensor, last: number[]) => {
    const full = tf.reshape(x, [B, H, N * C, ...last]);
    return pad ? tf.slice(full, [0, 0, 0, ...last.map(() => 0)], [B, H, L, ...last]) : full;
  };
  return {
    num: trim(tf.add(intra, inter), [Dv]),
    den: trim(tf.add(denIntra, denInter), []),
    kvEnd: tf.reshape(tf.add(tf.sum(chunkKv, 1), tf.reshape(kv0, [BH, F * Dv])), [B, H, F, Dv]),
    zEnd: tf.reshape(tf.add(tf.sum(chunkZ, 1), tf.reshape(z0, [BH, F])), [B, H, F]),
  };
}
