/**
 * A stack of Mamba blocks (Gu & Dao 2023, Section 3.4), shaped as state-spaces/mamba
 * `mixer_seq_simple.MixerModel`: token embedding, nLayer pre-norm residual blocks
 * (residual ← hidden + residual; hidden ← Mamba(RMSNorm(residual))), a final RMSNorm, and logits tied to the
 * embedding (as MambaLMHeadModel).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertKnownOptions,
  assertNumber,
  assertPositiveInteger,
  assertRank,
  assertShape,
  type CallOptions,
  matmul,
  type Rng,
  ShapeError,
  ValueError,
} from '@lab/tensor';
import { Mamba, type MambaConfig, type MambaState } from './mamba.js';
import { ownVariable } from './variable.js';

/**
 * RMSNorm (Zhang & Sennrich 2019), as mamba's: x / sqrt(mean(x², −1) + eps) · weight.
 * x: [..., d]; weight: [d].
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps = 1e-5): tf.Tensor {
  const fn = 'ssm.rmsNorm';
  assertRank(fn, 'weight', weight, 1, '[d]');
  if (x.shape[x.rank - 1] !== weight.shape[0]) {
    throw new ShapeError(`${fn}: x.shape[-1] (${x.shape[x.rank - 1]}) must equal weight.shape[0] (${weight.shape[0]})`);
  }
  assertNumber(fn, 'eps', eps, { min: 0 });
  return tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), weight));
}

export interface MixerModelConfig extends MambaConfig {
  nLayer: number;
  /** Token vocabulary; without it the model takes embeddings [batch, seqLen, dModel]. */
  vocabSize?: number;
  /** RMSNorm epsilon (default 1e-5). */
  normEpsilon?: number;
}

/** MixerModel (mamba mixer_seq_simple): embedding → nLayer × (RMSNorm → Mamba, residual) → RMSNorm. */
export class MixerModel {
  readonly config: Required<Pick<MixerModelConfig, 'nLayer' | 'dModel' | 'normEpsilon'>> & MixerModelConfig;
  readonly embedding: tf.Variable | null;
  readonly layers: Mamba[];
  readonly norms: tf.Variable[];
  readonly normF: tf.Variable;

  private constructor(config: MixerModelConfig, embedding: tf.Tensor | null, layers: Mamba[], norms: tf.Tensor[], normF: tf.Tensor) {
    this.config = { ...config, normEpsilon: config.normEpsilon ?? 1e-5 };
    this.embedding = embedding ? ownVariable(embedding) : null;
    this.layers = layers;
    this.norms = norms.map((t) => ownVariable(t));
    this.normF = ownVariable(normF);
  }

  private static check(fn: string, config: MixerModelConfig): MambaConfig {
    assertKnownOptions(fn, config as unknown as Record<string, unknown>, [
      'dModel',
      'dState',
      'dConv',
      'expand',
      'dtRank',
      'nLayer',
      'vocabSize',
      'normEpsilon',
    ]);
    assertPositiveInteger(fn, 'config.nLayer', config.nLayer);
    if (config.vocabSize !== undefined) assertPositiveInteger(fn, 'config.vocabSize', config.vocabSize);
    const { nLayer: _n, vocabSize: _v, normEpsilon: _e, ...block } = config;
    return block;
  }

  /**
   * A new model with mamba's initialization: blocks as `Mamba.create` with out_proj divided by √nLayer
   * (`_init_weights` with rescale_prenorm_residual), embedding N(0, 0.02²), norm weights 1.
   */
  static create(config: MixerModelConfig, rng: Rng): MixerModel {
    const fn = 'ssm.MixerModel.create';
    const block = MixerModel.check(fn, config);
    const layers = Array.from({ length: config.nLayer }, () => Mamba.create(block, rng, { nLayer: config.nLayer }));
    const embedding = config.vocabSize ? tf.tidy(() => tf.mul(rng.normal([config.vocabSize!, config.dModel]), 0.02)) : null;
    const ones = () => tf.ones([config.dModel]);
    const model = new MixerModel(config, embedding, layers, layers.map(ones), ones());
    return model;
  }

  /**
   * A model from a PyTorch MixerModel / MambaLMHeadModel state_dict: `embedding.weight`,
   * `layers.{i}.mixer.*` (as Mamba.fromStateDict), `layers.{i}.norm.weight`, `norm_f.weight`; a leading
   * `backbone.` is stripped and a tied `lm_head.weight` ignored. The caller keeps ownership of `weights`.
   */
  static fromStateDict(config: MixerModelConfig, weights: Record<string, tf.Tensor>): MixerModel {
    const fn = 'ssm.MixerModel.fromStateDict';
    const block = MixerModel.check(fn, config);
    const w: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(weights)) {
      if (k === 'lm_head.weight') continue;
      w[k.startsWith('backbone.') ? k.slice('backbone.'.length) : k] = v;
    }
    const take = (key: string, shape: number[]) => {
      const t = w[key];
      if (!t) throw new ValueError(`${fn}: weights is missing ${JSON.stringify(key)} (expected shape [${shape}])`);
      assertShape(fn, `weights['${key}']`, t, shape);
      return t;
    };
    const layers: Mamba[] = [];
    const norms: tf.Tensor[] = [];
    for (let i = 0; i < config.nLayer; i++) {
      const prefix = `layers.${i}.mixer.`;
      const mixer = Object.fromEntries(
        Object.entries(w)
          .filter(([k]) => k.startsWith(prefix))
          .map(([k, v]) => [k.slice(prefix.length), v]),
      );
      layers.push(Mamba.fromStateDict(block, mixer));
      norms.push(tf.clone(take(`layers.${i}.norm.weight`, [config.dModel])));
    }
    const embedding = config.vocabSize ? tf.clone(take('embedding.weight', [config.vocabSize, config.dModel])) : null;
    return new MixerModel(config, embedding, layers, norms, tf.clone(take('norm_f.weight', [config.dModel])));
  }

  get variables(): tf.Variable[] {
    return [...(this.embedding ? [this.embedding] : []), ...this.layers.flatMap((l) => l.variables), ...this.norms, this.normF];
  }

  private embed(fn: string, input: tf.Tensor): tf.Tensor {
    if (input.dtype === 'int32') {
      if (!this.embedding) throw new ValueError(`${fn}: token ids need a model with vocabSize; pass embeddings [batch, seqLen, dModel]`);
      assertRank(fn, 'input', input, 2, '[batch, seqLen] token ids');
      // One-hot product instead of gather: tfjs-wasm has no UnsortedSegmentSum for gather's gradient.
      const [b, l] = input.shape as [number, number];
      const vocab = this.embedding.shape[0]!;
      const oneHot = tf.oneHot(tf.reshape(input, [b * l]), vocab);
      return tf.reshape(matmul(oneHot, this.embedding), [b, l, this.config.dModel]);
    }
    assertRank(fn, 'input', input, 3, '[batch, seqLen, dModel] embeddings, or int32 [batch, seqLen] ids');
    if (input.shape[2] !== this.config.dModel) {
      throw new ShapeError(`${fn}: input.shape[2] (${input.shape[2]}) must equal dModel (${this.config.dModel})`);
    }
    return input;
  }

  /** Hidden states after the final norm: [batch, seqLen, dModel] from ids [batch, seqLen] or embeddings. */
  forward(input: tf.Tensor): tf.Tensor3D {
    const fn = 'ssm.MixerModel.forward';
    return tf.tidy(() => {
      let hidden = this.embed(fn, input);
      let residual: tf.Tensor | null = null;
      this.layers.forEach((layer, i) => {
        residual = residual ? tf.add(hidden, residual) : hidden;
        hidden = layer.forward(rmsNorm(residual, this.norms[i]!, this.config.normEpsilon));
      });
      const last: tf.Tensor = residual ? tf.add(hidden, residual) : hidden;
      return rmsNorm(last, this.normF, this.config.normEpsilon) as tf.Tensor3D;
    });
  }

  /** Logits tied to the embedding (MambaLMHeadModel): hidden [batch, seqLen, dModel] → [batch, seqLen, vocab]. */
  logits(hidden: tf.Tensor): tf.Tensor3D {
    if (!this.embedding) throw new ValueError('ssm.MixerModel.logits: the model has no vocabulary (vocabSize)');
    const [b, l, d] = hidden.shape as [number, number, number];
    return tf.tidy(() => tf.reshape(matmul(tf.reshape(hidden, [b * l, d]), this.embedding!, { transposeB: true }), [b, l, -1]) as tf.Tensor3D);
  }

  initState(batch: number): MambaState[] {
    return this.layers.map((l) => l.initState(batch));
  }

  /** One decoding step over every layer: ids [batch, 1] or embeddings [batch, 1, dModel]. */
  step(input: tf.Tensor, state: MambaState[], options: CallOptions = {}): { hidden: tf.Tensor3D; state: MambaState[] } {
    const fn = 'ssm.MixerModel.step';
    if (!Array.isArray(state) || state.length !== this.layers.length) {
      throw new ValueError(`${fn}: state must be an array of ${this.layers.length} MambaState (one per layer), got ${Array.isArray(state) ? state.length : typeof state}`);
    }
    const next: MambaState[] = [];
    const hidden = tf.tidy(() => {
      let h = this.embed(fn, input);
      let residual: tf.Tensor | null = null;
      this.layers.forEach((layer, i) => {
        residual = residual ? tf.add(h, residual) : h;
        const r = layer.step(rmsNorm(residual, this.norms[i]!, this.config.normEpsilon), state[i]!, options);
        tf.keep(r.state.convState);
        tf.keep(r.state.ssmState);
        next.push(r.state);
        h = r.y;
      });
      const last: tf.Tensor = residual ? tf.add(h, residual) : h;
      return rmsNorm(last, this.normF, this.config.normEpsilon) as tf.Tensor3D;
    });
    return { hidden, state: next };
  }

  dispose(): void {
    for (const layer of this.layers) layer.dispose(); // its variables and its packed decoding weights
    tf.dispose([...(this.embedding ? [this.embedding] : []), ...this.norms, this.normF]);
  }
}
