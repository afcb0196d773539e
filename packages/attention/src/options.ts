/**
 * The options every softmax attention of this package shares (PyTorch `scaled_dot_product_attention` semantics
 * plus FlashAttention's causal alignment and sliding window), their validation, and the resolved form the
 * composite and the fused kernels both read.
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  assertBroadcastable,
  assertDtype,
  assertKnownOptions,
  assertNumber,
  assertOneOf,
  assertRank,
  assertSameSize,
  formatShape,
  ShapeError,
  ValueError,
} from '@lab/tensor';

/** Causal masking: `true` = `'bottom-right'` (FlashAttention: query i sees keys j ≤ i + S − L); `'top-left'` = PyTorch's `is_causal` (j ≤ i). */
export type CausalOption = boolean | 'bottom-right' | 'top-left';

export interface AttentionOptions {
  /** Causal masking and its alignment when L ≠ S (see {@link CausalOption}). Default false. */
  causal?: CausalOption;
  /** Boolean mask, true = attend, broadcastable to [batch, heads, L, S]. */
  mask?: tf.Tensor;
  /** Float bias added to the scaled scores, broadcastable to [batch, heads, L, S] (-Infinity masks). */
  bias?: tf.Tensor;
  /** Multiplies q·kᵀ; default 1 / sqrt(headDim). */
  scale?: number;
  /**
   * Sliding window [left, right] around the diagonal (aligned as `causal`, bottom-right by default): query i
   * sees keys j with i + S − L − left ≤ j ≤ i + S − L + right; -1 = unbounded on that side.
   */
  window?: [left: number, right: number];
}

/** The layout every attention function reads. */
export const QKV_LAYOUT = '[batch, heads, seqLen, headDim]';

/** Attention inputs and options after validation: sizes, and the band of keys each query may see. */
export interface ResolvedAttention {
  batch: number;
  headsQ: number;
  headsKV: number;
  /** Query heads per kv head (GQA group size). */
  group: number;
  L: number;
  S: number;
  D: number;
  scale: number;
  /** Query i may see keys j ≥ i + offset − left (when left ≥ 0). */
  left: number;
  /** Query i may see keys j ≤ i + offset + right (when right ≥ 0); causal makes right ≤ 0. */
  right: number;
  /** Diagonal offset of causality and the window: S − L (bottom-right) or 0 (top-left). */
  offset: number;
  mask: tf.Tensor | undefined;
  bias: tf.Tensor | undefined;
}

const OPTION_KEYS = ['causal', 'mask', 'bias', 'scale', 'window'] as const;

/**
 * Validates q, k, v and the options of an attention function `fn` (throws before any work) and resolves them.
 * `extraKeys` are further options the function accepts.
 */
export function resolveAttention(
  fn: string,
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options: AttentionOptions | undefined,
  extraKeys: readonly string[] = [],
): ResolvedAttention {
  assertKnownOptions(fn, options, [...OPTION_KEYS, ...extraKeys]);
  const opts = options ?? {};
  assertRank(fn, 'q', q, 4, QKV_LAYOUT);
  assertRank(fn, 'k', k, 4, QKV_LAYOUT);
  assertRank(fn, 'v', v, 4, QKV_LAYOUT);
  assertDtype(fn, 'q', q, ['float32']);
  assertDtype(fn, 'k', k, ['float32']);
  assertDtype(fn, 'v', v, ['float32']);
  const [batch, headsQ, L, D] = q.shape as [number, number, number, number];
  const [, headsKV, S] = k.shape as [number, number, number, number];
  assertSameSize(fn, 'k.shape[0]', k.shape[0]!, 'q.shape[0] (batch)', batch);
  assertSameSize(fn, 'k.shape[3]', k.shape[3]!, 'q.shape[3] (headDim)', D);
  if (v.shape.some((d, i) => d !== k.shape[i])) {
    throw new ShapeError(
      `${fn}: v must have the shape of k ${formatShape(k.shape)}, got shape ${formatShape(v.shape)}`,
    );
  }
  if (headsQ % headsKV !== 0) {
    throw new ShapeError(
      `${fn}: the kv heads k.shape[1] (${headsKV}) must divide the query heads q.shape[1] (${headsQ}) (grouped-query attention)`,
    );
  }
  if (D === 0)
    throw new ShapeError(`${fn}: headDim must be at least 1, got q of shape ${formatShape(q.shape)}`);
  const scoreShape = [batch, headsQ, L, S];
  if (opts.mask !== undefined) {
    assertDtype(fn, 'mask', opts.mask, ['bool']);
    assertBroadcastable(fn, 'mask', opts.mask.shape, scoreShape, '[batch, heads, L, S]');
  }
  if (opts.bias !== undefined) {
    assertDtype(fn, 'bias', opts.bias, ['float32']);
    assertBroadcastable(fn, 'bias', opts.bias.shape, scoreShape, '[batch, heads, L, S]');
  }
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  assertNumber(fn, 'scale', scale);
  const causal = opts.causal ?? false;
  assertOneOf<CausalOption>(fn, 'causal', causal, [false, true, 'bottom-right', 'top-left']);
  let left = -1;
  let right = -1;
  if (opts.window !== undefined) {
    const w = opts.window as unknown;
    if (
      !Array.isArray(w) ||
      w.length !== 2 ||
      !w.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= -1)
    ) {
      throw new ValueError(
        `${fn}: window must be [left, right], integers >= -1 (-1 = unbounded), got ${JSON.stringify(w)}`,
      );
    }
    [left, right] = w as [number, number];
  }
  if (causal !== false) right = right === -1 ? 0 : Math.min(right, 0);
  const offset = causal === 'top-left' ? 0 : S - L;
  return {
    batch,
    headsQ,
    headsKV,
    group: headsQ / headsKV,
    L,
    S,
    D,
    scale,
    left,
    right,
    offset,
    mask: opts.mask,
    bias: opts.bias,
  };
}

/** True when the causal / window band restricts anything. */
export function hasBand(r: Pick<ResolvedAttention, 'left' | 'right'>): boolean {
  return r.left >= 0 || r.right >= 0;
}

/** The band as an [L, S] row-major 0/1 array (1 = query i may see key j). */
export function bandMask(r: Pick<ResolvedAttention, 'left' | 'right' | 'offset' | 'L' | 'S'>): Uint8Array {
  const { L, S, left, right, offset } = r;
  const out = new Uint8Array(L * S);
  for (let i = 0; i < L; i++) {
    const lo = left >= 0 ? Math.max(0, i + offset - left) : 0;
    const hi = right >= 0 ? Math.min(S - 1, i + offset + right) : S - 1;
    for (let j = lo; j <= hi; j++) out[i * S + j] = 1;
  }
  return out;
}
