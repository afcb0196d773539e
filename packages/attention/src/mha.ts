/**
 * Multi-head attention as a module (Vaswani et al. 2017, §3.2.2), with grouped-query heads (Ainslie et al.
 * 2023), optional rotary embeddings (Su et al. 2021) and an incremental decode step over a KV cache, on
 * either attention path (FlashAttention kernels or the composite reference).
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
  ValueError,
} from '@lab/tensor';
import { flashAttention } from './flash.js';
import type { AttentionOptions } from './options.js';
import { applyRope } from './rope.js';
import { scaledDotProductAttention } from './sdpa.js';

export interface MultiHeadAttentionConfig {
  /** Model width (input and output features). */
  dModel: number;
  /** Query heads. */
  numHeads: number;
  /** Key/value heads (default numHeads; fewer = grouped-query, 1 = multi-query attention). */
  numKVHeads?: number;
  /** Per-head width (default dModel / numHeads). */
  headDim?: number;
  /** Rotary embeddings on queries and keys (true, or { base }); default false. */
  rope?: boolean | { base?: number };
  /** Causal self-attention (default false). */
  causal?: boolean;
  /** 'flash' (default: fused kernels on cpu/wasm) or 'composite'. */
  impl?: 'flash' | 'composite';
}

/** Keys and values of the tokens seen so far, [batch, numKVHeads, length, headDim] each. Updated in place by step. */
export class KVCache {
  constructor(
    public k: tf.Tensor4D,
    public v: tf.Tensor4D,
  ) {}
  /** Tokens cached. */
  get length(): number {
    return this.k.shape[2];
  }
  dispose(): void {
    this.k.dispose();
    this.v.dispose();
  }
}

export interface MultiHeadAttention {
  readonly config: Required<Omit<MultiHeadAttentionConfig, 'rope'>> & { rope: false | { base: number } };
  /** wq [dModel, H·D], wk and wv [dModel, Hkv·D], wo [H·D, dModel] (y = x W, as tfjs layers). */
  readonly weights: { wq: tf.Variable; wk: tf.Variable; wv: tf.Variable; wo: tf.Variable };
  /**
   * Self-attention over x: [batch, L, dModel] → [batch, L, dModel]; `mask`, `bias` and `window` as the
   * attention functions take them (scores [batch, heads, L, L]).
   */
  forward(x: tf.Tensor, options?: Pick<AttentionOptions, 'mask' | 'bias' | 'window'>): tf.Tensor3D;
  /** An empty cache for `batch` sequences. */
  initCache(batch: number): KVCache;
  /**
   * One incremental decode step: x [batch, T, dModel] are the next T tokens (positions cache.length …);
   * their keys and values are appended to `cache` (in place), and the T queries attend to the whole cache
   * with bottom-right causality. Equals the matching rows of `forward` on the full sequence.
   */
  step(x: tf.Tensor, cache: KVCache): tf.Tensor3D;
  dispose(): void;
}

/** Creates a multi-head attention module with weights drawn from `rng` (Glorot-uniform bounds). */
export function createMultiHeadAttention(config: MultiHeadAttentionConfig, rng: Rng): MultiHeadAttention {
  const fn = 'attention.createMultiHeadAttention';
  assertKnownOptions(fn, config, ['dModel', 'numHeads', 'numKVHeads', 'headDim', 'rope', 'causal', 'impl']);
  const { dModel, numHeads } = config;
  assertInteger(fn, 'config.dModel', dModel, 1);
  assertInteger(fn, 'config.numHeads', numHeads, 1);
  const numKVHeads = config.numKVHeads ?? numHeads;
  assertInteger(fn, 'config.numKVHeads', numKVHeads, 1, numHeads);
  if (numHeads % numKVHeads !== 0) {
    throw new ValueError(
      `${fn}: config.numKVHeads (${numKVHeads}) must divide config.numHeads (${numHeads})`,
    );
  }
  if (config.headDim === undefined && dModel % numHeads !== 0) {
    throw new ValueError(
      `${fn}: config.numHeads (${numHeads}) must divide config.dModel (${dModel}), or give headDim`,
    );
  }
  const headDim = config.headDim ?? dModel / numHeads;
  assertInteger(fn, 'config.headDim', headDim, 1);
  const causal = config.causal ?? false;
  const impl = config.impl ?? 'flash';
  assertOneOf(fn, 'config.impl', impl, ['flash', 'composite']);
  const rope = config.rope
    ? { base: (typeof config.rope === 'object' ? config.rope.base : undefined) ?? 10000 }
    : false;
  if (rope && headDim % 2 !== 0) throw new ValueError(`${fn}: rope needs an even headDim, got ${headDim}`);

  const glorot = (fanIn: number, fanOut: number) => {
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return tf.variable(rng.uniform([fanIn, fanOut], -limit, limit));
  };
  const weights = {
    wq: glorot(dModel, numHeads * headDim),
    wk: glorot(dModel, numKVHeads * headDim),
    wv: glorot(dModel, numKVHeads * headDim),
    wo: glorot(numHeads * headDim, dModel),
  };
  const attend = impl === 'flash' ? flashAttention : scaledDotProductAttention;

  /** x [B, L, dModel] · w → [B, heads, L, headDim]. */
  const project = (x2d: tf.Tensor, w: tf.Tensor, B: number, L: number, heads: number) =>
    tf.transpose(tf.reshape(tf.matMul(x2d, w), [B, L, heads, headDim]), [0, 2, 1, 3]) as tf.Tensor4D;

  const check = (x: tf.Tensor, name: string) => {
    assertRank(name, 'x', x, 3, '[batch, seqLen, dModel]');
    if (x.shape[2] !== dModel) {
      throw new ShapeError(
        `${name}: x must have dModel = ${dModel} features, got shape ${formatShape(x.shape)}`,
      );
    }
  };

  const heads = (x: tf.Tensor, offset: number) => {
    const [B, L] = x.shape as [number, number, number];
    const x2d = tf.reshape(x, [B * L, dModel]);
    let q = project(x2d, weights.wq, B, L, numHeads);
    let k = project(x2d, weights.wk, B, L, numKVHeads);
    const v = project(x2d, weights.wv, B, L, numKVHeads);
    if (rope) {
      q = applyRope(q, { offset, base: rope.base }) as tf.Tensor4D;
      k = applyRope(k, { offset, base: rope.base }) as tf.Tensor4D;
    }
    return { q, k, v, B, L };
  };

  const output = (o: tf.Tensor, B: number, L: number) =>
    tf.reshape(
      tf.matMul(tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [B * L, numHeads * headDim]), weights.wo),
      [B, L, dModel],
    ) as tf.Tensor3D;

  return {
    config: { dModel, numHeads, numKVHeads, headDim, causal, impl, rope },
    weights,
    forward(x, options = {}) {
      check(x, 'MultiHeadAttention.forward');
      assertKnownOptions('MultiHeadAttention.forward', options, ['mask', 'bias', 'window']);
      return tf.tidy(() => {
        const { q, k, v, B, L } = heads(x, 0);
        return output(attend(q, k, v, { ...options, causal }), B, L);
      });
    },
    initCache(batch) {
      assertInteger('MultiHeadAttention.initCache', 'batch', batch, 1);
      return new KVCache(
        tf.zeros([batch, numKVHeads, 0, headDim]),
        tf.zeros([batch, numKVHeads, 0, headDim]),
      );
    },
    step(x, cache) {
      check(x, 'MultiHeadAttention.step');
      if (!(cache instanceof KVCache) || cache.k.shape[0] !== x.shape[0]) {
        throw new ValueError(
          `MultiHeadAttention.step: cache must be a KVCache from initCache(${x.shape[0]})`,
        );
      }
      const [k2, v2, y] = tf.tidy(() => {
        const { q, k, v, B, L } = heads(x, cache.length);
        const kAll = tf.concat([cache.k, k], 2) as tf.Tensor4D;
        const vAll = tf.concat([cache.v, v], 2) as tf.Tensor4D;
        // T new queries against length + T keys: bottom-right causality lines them up with their positions.
        const o = attend(q, kAll, vAll, { causal });
        return [kAll, vAll, output(o, B, L)] as const;
      });
      cache.dispose();
      cache.k = k2;
      cache.v = v2;
      return y;
    },
    dispose() {
      for (const w of Object.values(weights)) w.dispose();
    },
  };
}
