/**
 * Scaled dot-product attention (Vaswani et al. 2017), the composite reference: tfjs ops only, differentiated
 * by tfjs, with PyTorch `scaled_dot_product_attention` semantics (bool mask, additive bias, scale, GQA) plus
 * FlashAttention's bottom-right causality and sliding window.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  type AttentionOptions,
  bandMask,
  hasBand,
  type ResolvedAttention,
  resolveAttention,
} from './options.js';

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
 * The masks of a resolved attention (bool mask, causal band, window) as one additive float tensor of 0 and
 * -Infinity, broadcastable to [B, Hq, L, S] (rank 4), or undefined when nothing is masked.
 */
function additiveMask(r: ResolvedAttention): tf.Tensor4D | undefined {
  let add: tf.Tensor4D | undefined;
  if (r.mask) {
    const m = toRank4(r.mask);
    add = tf.where(m, tf.zeros(m.shape), tf.fill(m.shape, Number.NEGATIVE_INFINITY)) as tf.Tensor4D;
  }
  if (hasBand(r)) {
    const band = bandMask(r);
    const data = new Float32Array(band.length);
    for (let i = 0; i < band.length; i++) data[i] = band[i] ? 0 : Number.NEGATIVE_INFINITY;
    const t = tf.tensor(data, [1, 1, r.L, r.S]) as tf.Tensor4D;
    add = add ? (tf.add(add, t) as tf.Tensor4D) : t;
  }
  return add;
}

interface GroupOperands {
  qg: tf.Tensor2D; // [G·L, D]
  kt: tf.Tensor2D; // [D, S]
  s: tf.Tensor3D; // [G, L, S] scaled scores with bias and masks
}

/** The scores of the query heads of kv head hk in batch b, with 2-D products on the pre-transposed keys. */
function groupScores(
  q: tf.Tensor,
  kT: tf.Tensor,
  bias: tf.Tensor4D | undefined,
  maskAdd: tf.Tensor4D | undefined,
  r: ResolvedAttention,
  b: number,
  hk: number,
): GroupOperands {
  const { group, L, S, D, scale } = r;
  const h0 = hk * group;
  const qg = tf.reshape(tf.slice(q, [b, h0, 0, 0], [1, group, L, D]), [group * L, D]) as tf.Tensor2D;
  const kt = tf.reshape(tf.slice(kT, [b, hk, 0, 0], [1, 1, D, S]), [D, S]) as tf.Tensor2D;
  let s: tf.Tensor = tf.reshape(tf.mul(tf.matMul(qg, kt), scale), [group, L, S]);
  if (bias) s = tf.add(s, sliceScores(bias, b, h0, group));
  if (maskAdd) s = tf.add(s, sliceScores(maskAdd, b, h0, group));
  return { qg, kt, s: s as tf.Tensor3D };
}

/** Rows [G·L] of a [B, H, ...] tensor for batch b and heads [h0, h0 + G). */
function groupRows(t: tf.Tensor, b: number, h0: number, group: number, cols: number): tf.Tensor2D {
  const [, , n] = t.shape as number[];
  const size = t.rank === 4 ? [1, group, n!, cols] : [1, group, n!];
  const begin = t.rank === 4 ? [b, h0, 0, 0] : [b, h0, 0];
  return tf.reshape(tf.slice(t, begin, size), [group * n!, t.rank === 4 ? cols : 1]) as tf.Tensor2D;
}

/** Forward over (batch, kv head) groups: out [B, Hq, L, D] and lse [B, Hq, L] (-Infinity for empty rows). */
function groupsForward(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  bias: tf.Tensor4D | undefined,
  maskAdd: tf.Tensor4D | undefined,
  r: ResolvedAttention,
): { out: tf.Tensor4D; lse: tf.Tensor3D } {
  const { batch, headsKV, group, L, S, D } = r;
  const kT = tf.transpose(k, [0, 1, 3, 2]); // [B, Hkv, D, S]
  const outs: tf.Tensor[] = [];
  const lses: tf.Tensor[] = [];
  for (let b = 0; b < batch; b++) {
    for (let hk = 0; hk < headsKV; hk++) {
      // One group at a time: its [G·L, S] scores, exponentials and probabilities are freed before the next.
      const [o, l] = tf.tidy(() => {
        const { s } = groupScores(q, kT, bias, maskAdd, r, b, hk);
        const vv = tf.reshape(tf.slice(v, [b, hk, 0, 0], [1, 1, S, D]), [S, D]); // [S, D]
        // Softmax over keys. A row with no visible key has max -inf: shift it by -FLT_MAX instead (its e are
        // all 0), and divide by max(z, 1) (z >= 1 on every other row: its max term is exp(0)), so it gives
        // zeros rather than NaN.
        const m = tf.maximum(tf.max(s, -1, true), -FLT_MAX); // [G, L, 1]
        const e = tf.exp(tf.sub(s, m)); // [G, L, S]
        const z = tf.sum(e, -1, true); // [G, L, 1]
        const p = tf.div(e, tf.maximum(z, 1));
        return [
          tf.reshape(tf.matMul(tf.reshape(p, [group * L, S]), vv), [group, L, D]), // [G, L, D]
          tf.reshape(tf.add(tf.log(z), m), [group, L]), // log 0 = -inf for an empty row
        ];
      });
      outs.push(o!);
      lses.push(l!);
    }
  }
  const shapeOut = [batch, r.headsQ, L, D] as [number, number, number, number];
  const out = tf.reshape(outs.length === 1 ? outs[0]! : tf.concat(outs, 0), shapeOut) as tf.Tensor4D;
  const lse = tf.reshape(lses.length === 1 ? lses[0]! : tf.concat(lses, 0), [
    batch,
    r.headsQ,
    L,
  ]) as tf.Tensor3D;
  return { out, lse };
}

/**
 * Backward over groups, as FlashAttention-2 computes it but with whole-row tfjs products: P = exp(S − lse)
 * recomputed, dV = Pᵀ dO, dP = dO Vᵀ, dS = P ∘ (dP − rowsum(dO ∘ O)), dQ = scale · dS K, dK = scale · dSᵀ Q,
 * dBias = dS summed over the bias's broadcast dimensions. Every product is a 2-D matMul on pre-transposed
 * operands (tfjs's own matMul gradient would use its slow transposed path on wasm).
 */
function groupsBackward(
  dy: tf.Tensor,
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  bias: tf.Tensor4D | undefined,
  maskAdd: tf.Tensor4D | undefined,
  out: tf.Tensor,
  lse: tf.Tensor,
  r: ResolvedAttention,
): tf.Tensor[] {
  const { batch, headsKV, group, L, S, D, scale } = r;
  const kT = tf.transpose(k, [0, 1, 3, 2]); // [B, Hkv, D, S]
  const vT = tf.transpose(v, [0, 1, 3, 2]); // [B, Hkv, D, S]
  const dvec = tf.sum(tf.mul(dy, out), -1); // [B, Hq, L]
  const lseSafe = tf.where(tf.isFinite(lse), lse, tf.fill(lse.shape, Number.POSITIVE_INFINITY)); // empty rows: P = 0
  const dqs: tf.Tensor[] = [];
  const dks: tf.Tensor[] = [];
  const dvs: tf.Tensor[] = [];
  const dss: tf.Tensor[] = [];
  for (let b = 0; b < batch; b++) {
    for (let hk = 0; hk < headsKV; hk++) {
      const h0 = hk * group;
      const [dq, dk, dv, ds] = tf.tidy(() => {
        const { qg, s } = groupScores(q, kT, bias, maskAdd, r, b, hk);
        const lseRows = tf.reshape(groupRows(lseSafe, b, h0, group, 1), [group, L, 1]);
        const p = tf.reshape(tf.exp(tf.sub(s, lseRows)), [group * L, S]); // [G·L, S]
        const dO = groupRows(dy, b, h0, group, D); // [G·L, D]
        const kg = tf.reshape(tf.slice(k, [b, hk, 0, 0], [1, 1, S, D]), [S, D]);
        const vt = tf.reshape(tf.slice(vT, [b, hk, 0, 0], [1, 1, D, S]), [D, S]);
        const dp = tf.matMul(dO, vt); // [G·L, S]
        const dsGroup = tf.mul(p, tf.sub(dp, groupRows(dvec, b, h0, group, 1))); // [G·L, S]
        return [
          tf.mul(tf.matMul(dsGroup, kg), scale), // dQ [G·L, D]
          tf.mul(tf.matMul(tf.transpose(dsGroup), qg), scale), // dK [S, D]
          tf.matMul(tf.transpose(p), dO), // dV [S, D]
          ...(bias ? [dsGroup] : []),
        ];
      });
      dqs.push(dq!);
      dks.push(dk!);
      dvs.push(dv!);
      if (ds) dss.push(ds);
    }
  }
  const cat = (xs: tf.Tensor[]) => (xs.length === 1 ? xs[0]! : tf.concat(xs, 0));
  const grads = [tf.reshape(cat(dqs), q.shape), tf.reshape(cat(dks), k.shape), tf.reshape(cat(dvs), v.shape)];
  if (bias) {
    const ds4 = tf.reshape(cat(dss), [batch, r.headsQ, L, S]);
    const axes = bias.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
    grads.push(tf.reshape(axes.length ? tf.sum(ds4, axes, true) : ds4, bias.shape));
  }
  return grads;
}

/**
 * The gradient of the attention with respect to its bias (dS summed over the bias's broadcast dimensions),
 * given the upstream gradient dy and the forward's out and lse (from either path), shaped like `bias`.
 */
export function compositeBiasGradient(
  dy: tf.Tensor,
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  bias: tf.Tensor,
  out: tf.Tensor,
  lse: tf.Tensor,
  r: ResolvedAttention,
): tf.Tensor {
  return tf.tidy(() => {
    const grads = groupsBackward(dy, q, k, v, toRank4(bias), additiveMask(r), out, lse, r);
    return tf.reshape(grads[3]!, bias.shape);
  });
}

/**
 * The composite attention on resolved inputs. One 2-D product per (batch, kv head): the queries of the kv
 * head's group stacked as [G·L, D] times the pre-transposed keys [D, S], so that tfjs-wasm stays on its fast
 * XNNPACK path (its batched matMul and transposeB are several times slower). Its gradient is written with
 * the same 2-D products (see groupsBackward) and checked against tfjs's automatic one in the tests.
 */
export function compositeAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  r: ResolvedAttention,
): tf.Tensor4D {
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
  let lseOut: tf.Tensor3D | undefined;
  const out = tf.tidy(() => {
    const maskAdd = additiveMask(r);
    const bias = r.bias ? toRank4(r.bias) : undefined;
    const attention = tf.customGrad((...args: unknown[]) => {
      const save = args.pop() as (tensors: tf.Tensor[]) => void;
      const [qq, kk, vv, bb] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor4D | undefined];
      const { out, lse } = groupsForward(qq, kk, vv, bb, maskAdd, r);
      // Saved tensors outlive this tidy (tfjs keeps clones); the constant mask must be saved as well.
      save([qq, kk, vv, out, lse, ...(bb ? [bb] : []), ...(maskAdd ? [maskAdd] : [])]);
      if (withLse) lseOut = tf.keep(tf.clone(lse));
      return {
        value: out,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const [sq, sk, sv, so, sl] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
          const sb = bb ? (saved[5] as tf.Tensor4D) : undefined;
          const sm = maskAdd ? (saved[bb ? 6 : 5] as tf.Tensor4D) : undefined;
          const g = Array.isArray(dy) ? dy[0]! : dy;
          return groupsBackward(g, sq, sk, sv, sb, sm, so, sl, r);
        },
      };
    }) as (...xs: tf.Tensor[]) => tf.Tensor4D;
    return bias ? attention(q, k, v, bias) : attention(q, k, v);
  });
  return withLse ? [out, lseOut] : [out];
}

/**
 * The same attention written plainly with tfjs ops and differentiated by tfjs's automatic gradients (masks
 * by `where`, no custom gradient): the reference the tests hold {@link compositeAttention}'s gradient to.
 */
export function autodiffAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options?: AttentionOptions,
): tf.Tensor4D {
  const r = resolveAttention('attention.autodiffAttention', q, k, v, options);
  return tf.tidy(() => {
    const { batch, headsKV, group, L, S, D, scale } = r;
    let allow: tf.Tensor4D | undefined = r.mask ? toRank4(r.mask) : undefined;
    if (hasBand(r)) {
      const band = tf.tensor(bandMask(r), [1, 1, L, S], 'bool') as tf.Tensor4D;
      allow = allow ? (tf.logicalAnd(allow, band) as tf.Tensor4D) : band;
    }
    const bias = r.bias ? toRank4(r.bias) : undefined;
    const perBatch: tf.Tensor[] = [];
    for (let b = 0; b < batch; b++) {
      const perGroup: tf.Tensor[] = [];
      for (let hk = 0; hk < headsKV; hk++) {
        const h0 = hk * group;
        const qg = tf.slice(q, [b, h0, 0, 0], [1, group, L, D]);
        const kg = tf.slice(k, [b, hk, 0, 0], [1, 1, S, D]);
        const vg = tf.reshape(tf.slice(v, [b, hk, 0, 0], [1, 1, S, D]), [S, D]);
        let s: tf.Tensor = tf.mul(
          tf.matMul(tf.reshape(qg, [group * L, D]), tf.reshape(kg, [S, D]), false, true),
          scale,
        );
        s = tf.reshape(s, [group, L, S]);
        if (bias) s = tf.add(s, sliceScores(bias, b, h0, group));
        if (allow) {
          s = tf.where(
            tf.broadcastTo(sliceScores(allow, b, h0, group), [group, L, S]),
            s,
            tf.scalar(Number.NEGATIVE_INFINITY),
          );
        }
        const m = tf.maximum(tf.max(s, -1, true), -FLT_MAX);
        const e = tf.exp(tf.sub(s, m));
        const p = tf.div(e, tf.maximum(tf.sum(e, -1, true), 1));
        perGroup.push(tf.reshape(tf.matMul(tf.reshape(p, [group * L, S]), vg), [group, L, D]));
      }
      perBatch.push(tf.concat(perGroup, 0));
    }
    return tf.stack(perBatch, 0) as tf.Tensor4D;
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
export function naiveAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options?: AttentionOptions,
): tf.Tensor4D {
  const r = resolveAttention('attention.naiveAttention', q, k, v, options);
  return tf.tidy(() => {
    let s: tf.Tensor = tf.mul(tf.matMul(q as tf.Tensor4D, k as tf.Tensor4D, false, true), r.scale); // [B, H, L, S]
    if (hasBand(r)) s = tf.where(tf.tensor(bandMask(r), [1, 1, r.L, r.S], 'bool'), s, tf.scalar(-1e30));
    return tf.matMul(tf.softmax(s, -1) as tf.Tensor4D, v as tf.Tensor4D) as tf.Tensor4D;
  });
}
