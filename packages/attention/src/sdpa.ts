/**
 * Scaled dot-product attention (Vaswani et al. 2017), the composite reference: tfjs ops only, differentiated
 * by tfjs, with PyTorch `scaled_dot_product_attention` semantics (bool mask, additive bias, scale, GQA) plus
 * FlashAttention's bottom-right causality and sliding window.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AttentionOptions, bandMask, hasBand, type ResolvedAttention, resolveAttention } from './options.js';

const FLT_MAX = 3.4028234663852886e38;

/** Reshapes a tensor broadcastable to [B, H, L, S] to rank 4 by prepending unit dimensions. */
function toRank4(t: tf.Tensor): tf.Tensor4D {
  const shape = [...t.shape];
  while (shape.length < 4) shape.unshift(1);
  return tf.reshape(t, shape as [number, number, number, number]) as tf.Tensor4D;
}

/**
 * The part of a [B|1, H|1, L|1, S|1] tensor that applies to batch `b` and the query heads [h0, h0 + G):
 * [G|1, L|1, S|1].
 */
function sliceScores(t: tf.Tensor4D, b: number, h0: number, group: number): tf.Tensor3D {
  const [tb, th, tl, ts] = t.shape;
  const bi = tb === 1 ? 0 : b;
  const hs = th === 1 ? 1 : group;
  const hi = th === 1 ? 0 : h0;
  return tf.reshape(tf.slice(t, [bi, hi, 0, 0], [1, hs, tl, ts]), [hs, tl, ts]) as tf.Tensor3D;
}

/**
 * The composite attention on resolved inputs. One 2-D product per (batch, kv head): the queries of the kv
 * head's group stacked as [G·L, D] times the pre-transposed keys [D, S], so that tfjs-wasm stays on its fast
 * XNNPACK path (its batched matMul and transposeB are several times slower).
 */
export function compositeAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, r: ResolvedAttention): tf.Tensor4D {
  return compositeAttentionWithLse(q, k, v, r, false)[0];
}

/**
 * The composite attention and, with `withLse`, the logsumexp of each row's visible scores [B, Hq, L]
 * (-Infinity for a row that sees no key).
 */
export function compositeAttentionWithLse(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  r: ResolvedAttention,
  withLse: boolean,
): [tf.Tensor4D, tf.Tensor3D?] {
  return tf.tidy(() => {
    const { batch, headsKV, group, L, S, D, scale } = r;
    const kT = tf.transpose(k, [0, 1, 3, 2]); // [B, Hkv, D, S]
    let allow: tf.Tensor4D | undefined = r.mask ? toRank4(r.mask) : undefined;
    if (hasBand(r)) {
      const band = tf.tensor(bandMask(r), [1, 1, L, S], 'bool') as tf.Tensor4D;
      allow = allow ? (tf.logicalAnd(allow, band) as tf.Tensor4D) : band;
    }
    const bias = r.bias ? toRank4(r.bias) : undefined;
    const minusInf = tf.scalar(Number.NEGATIVE_INFINITY);
    const perBatch: tf.Tensor[] = [];
    const lseBatch: tf.Tensor[] = [];
    for (let b = 0; b < batch; b++) {
      const perGroup: tf.Tensor[] = [];
      const lseGroup: tf.Tensor[] = [];
      for (let hk = 0; hk < headsKV; hk++) {
        const h0 = hk * group;
        const qg = tf.reshape(tf.slice(q, [b, h0, 0, 0], [1, group, L, D]), [group * L, D]); // [G·L, D]
        const kt = tf.reshape(tf.slice(kT, [b, hk, 0, 0], [1, 1, D, S]), [D, S]); // [D, S]
        const vv = tf.reshape(tf.slice(v, [b, hk, 0, 0], [1, 1, S, D]), [S, D]); // [S, D]
        let s: tf.Tensor = tf.reshape(tf.mul(tf.matMul(qg, kt), scale), [group, L, S]); // [G, L, S]
        if (bias) s = tf.add(s, sliceScores(bias, b, h0, group));
        if (allow) s = tf.where(tf.broadcastTo(sliceScores(allow, b, h0, group), [group, L, S]), s, minusInf);
        // Softmax over keys. A row with no visible key has max -inf: shift it by -FLT_MAX instead (its e are
        // all 0), and divide by max(z, 1) (z >= 1 on every other row: its max term is exp(0)), so it gives
        // zeros rather than NaN. Both guards are differentiable ops (comparisons have no tfjs gradient).
        const m = tf.maximum(tf.max(s, -1, true), -FLT_MAX); // [G, L, 1]
        const e = tf.exp(tf.sub(s, m)); // [G, L, S]
        const z = tf.sum(e, -1, true); // [G, L, 1]
        const p = tf.div(e, tf.maximum(z, 1));
        perGroup.push(tf.reshape(tf.matMul(tf.reshape(p, [group * L, S]), vv), [group, L, D])); // [G, L, D]
        if (withLse) lseGroup.push(tf.reshape(tf.add(tf.log(z), m), [group, L])); // log 0 = -inf when empty
      }
      perBatch.push(perGroup.length === 1 ? perGroup[0]! : tf.concat(perGroup, 0)); // [Hq, L, D]
      if (withLse) lseBatch.push(lseGroup.length === 1 ? lseGroup[0]! : tf.concat(lseGroup, 0)); // [Hq, L]
    }
    const out = tf.stack(perBatch, 0) as tf.Tensor4D; // [B, Hq, L, D]
    return withLse ? [out, tf.stack(lseBatch, 0) as tf.Tensor3D] : [out];
  });
}

/**
 * Scaled dot-product attention (Vaswani et al. 2017), the composite reference made of tfjs ops:
 * softmax(scale · q kᵀ + bias, masked) v, differentiable with `tf.grads` on every backend.
 *
 * q: [batch, headsQ, L, headDim]; k, v: [batch, headsKV, S, headDim] (headsKV divides headsQ: query head h
 * uses kv head ⌊h / (headsQ / headsKV)⌋); returns [batch, headsQ, L, headDim]. A query row that sees no key
 * outputs zeros. Semantics of PyTorch's `F.scaled_dot_product_attention`, except `causal: true`, which is
 * FlashAttention's bottom-right alignment (use `causal: 'top-left'` for PyTorch's `is_causal`).
 */
export function scaledDotProductAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options?: AttentionOptions,
): tf.Tensor4D {
  const r = resolveAttention('attention.scaledDotProductAttention', q, k, v, options);
  return compositeAttention(q, k, v, r);
}

/**
 * The textbook composite a user would write first: batched `tf.matMul(q, k, false, true)` on [B, H, L, S]
 * scores and `tf.softmax` (no GQA, masks by `where`). Kept as a benchmark baseline; it takes tfjs-wasm's slow
 * batched path.
 */
export function naiveAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options?: AttentionOptions): tf.Tensor4D {
  const r = resolveAttention('attention.naiveAttention', q, k, v, options);
  return tf.tidy(() => {
    let s: tf.Tensor = tf.mul(tf.matMul(q as tf.Tensor4D, k as tf.Tensor4D, false, true), r.scale); // [B, H, L, S]
    if (hasBand(r)) s = tf.where(tf.tensor(bandMask(r), [1, 1, r.L, r.S], 'bool'), s, tf.scalar(-1e30));
    return tf.matMul(tf.softmax(s, -1) as tf.Tensor4D, v as tf.Tensor4D) as tf.Tensor4D;
  });
}
