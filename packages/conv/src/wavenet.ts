/**
 * A WaveNet stack (van den Oord et al. 2016, §2.3–2.4): causal dilated convolutions with gated activations,
 * residual and skip connections, dilations 1, 2, …, 512 repeated, and a streaming step that caches past
 * activations in per-layer queues (Paine et al. 2016, Fast WaveNet), so one sample costs O(layers).
 *
 * Shapes: x [batch, length, inChannels] → [batch, length, outChannels]. Per layer ℓ with dilation d_ℓ:
 *   [f, g] = causalConv_{d_ℓ}(h, W_ℓ) + b_ℓ,   z = tanh(f) ⊙ σ(g)            (eq. 2)
 *   h ← h + z·R_ℓ + r_ℓ,   skip ← skip + z·S_ℓ + s_ℓ                          (Fig. 4)
 * input: h = x·W_in + b_in (1×1); output: relu(skip) → 1×1 → relu → 1×1.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  argumentMessage,
  assertKnownOptions,
  assertRank,
  assertSameSize,
  formatShape,
  type Rng,
  ShapeError,
  ValueError,
} from '@lab/tensor';
import { causalConv1d } from './conv1d.js';
import { receptiveField } from './receptive.js';

/** Configuration of {@link WaveNet}. */
export interface WaveNetConfig {
  inChannels: number;
  /** Output channels (default inChannels). */
  outChannels?: number;
  /** Channels of the residual stream (default 32). */
  residualChannels?: number;
  /** Channels of the gated activations (default 32). */
  dilationChannels?: number;
  /** Channels of the skip connections (default 64). */
  skipChannels?: number;
  /** Kernel size of the dilated convolutions (default 2, as the paper). */
  kernel?: number;
  /** Dilations of the layers; default 1, 2, …, 512 repeated `blocks` times. */
  dilations?: readonly number[];
  /** Repetitions of 1…512 when `dilations` is not given (default 1). */
  blocks?: number;
}

/** Streaming state: one queue per causal layer holding its last (kernel − 1)·dilation inputs. Updated in place. */
export interface WaveNetState {
  readonly batch: number;
  /** Time step of the next sample. */
  position: number;
  /** queues[ℓ][t mod size] = input of layer ℓ at time t, [batch, residualChannels]. */
  readonly queues: tf.Tensor2D[][];
  /** Zeros standing for the time before the first sample (shared by the queues). */
  readonly zeros: tf.Tensor2D;
}

const FN = 'conv.WaveNet';

interface Resolved {
  inChannels: number;
  outChannels: number;
  residualChannels: number;
  dilationChannels: number;
  skipChannels: number;
  kernel: number;
  dilations: number[];
}

function resolve(config: WaveNetConfig): Resolved {
  if (typeof config !== 'object' || config === null) {
    throw new ValueError(argumentMessage(FN, 'config', 'an object { inChannels, … }', String(config)));
  }
  assertKnownOptions(FN, config, [
    'inChannels',
    'outChannels',
    'residualChannels',
    'dilationChannels',
    'skipChannels',
    'kernel',
    'dilations',
    'blocks',
  ]);
  const positive = (name: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new ValueError(argumentMessage(FN, `config.${name}`, 'a positive integer', String(v)));
    }
    return v;
  };
  const inChannels = positive('inChannels', config.inChannels);
  let dilations: number[];
  if (config.dilations !== undefined) {
    if (!Array.isArray(config.dilations) || config.dilations.length === 0) {
      throw new ValueError(
        argumentMessage(
          FN,
          'config.dilations',
          'a non-empty array of positive integers',
          String(config.dilations),
        ),
      );
    }
    if (config.blocks !== undefined)
      throw new ValueError(`${FN}: give config.dilations or config.blocks, not both`);
    dilations = config.dilations.map((d, i) => positive(`dilations[${i}]`, d));
  } else {
    const blocks = positive('blocks', config.blocks ?? 1);
    dilations = [];
    for (let b = 0; b < blocks; b++) for (let d = 1; d <= 512; d *= 2) dilations.push(d);
  }
  return {
    inChannels,
    outChannels: positive('outChannels', config.outChannels ?? inChannels),
    residualChannels: positive('residualChannels', config.residualChannels ?? 32),
    dilationChannels: positive('dilationChannels', config.dilationChannels ?? 32),
    skipChannels: positive('skipChannels', config.skipChannels ?? 64),
    kernel: positive('kernel', config.kernel ?? 2),
    dilations,
  };
}

function parameterShapes(c: Resolved): Record<string, number[]> {
  const s: Record<string, number[]> = {
    'input.weight': [c.inChannels, c.residualChannels],
    'input.bias': [c.residualChannels],
  };
  c.dilations.forEach((_, i) => {
    s[`layers.${i}.gate.weight`] = [c.kernel, c.residualChannels, 2 * c.dilationChannels];
    s[`layers.${i}.gate.bias`] = [2 * c.dilationChannels];
    s[`layers.${i}.residual.weight`] = [c.dilationChannels, c.residualChannels];
    s[`layers.${i}.residual.bias`] = [c.residualChannels];
    s[`layers.${i}.skip.weight`] = [c.dilationChannels, c.skipChannels];
    s[`layers.${i}.skip.bias`] = [c.skipChannels];
  });
  s['output.0.weight'] = [c.skipChannels, c.skipChannels];
  s['output.0.bias'] = [c.skipChannels];
  s['output.1.weight'] = [c.skipChannels, c.outChannels];
  s['output.1.bias'] = [c.outChannels];
  return s;
}

/** z = tanh(f) ⊙ σ(g) for the last axis holding [f, g]. */
function gated(fg: tf.Tensor, channels: number): tf.Tensor {
  const [f, g] = tf.split(fg, [channels, channels], fg.rank - 1);
  return tf.mul(tf.tanh(f!), tf.sigmoid(g!));
}

/** A WaveNet stack with its parameters; see the module comment. */
export class WaveNet {
  readonly config: Readonly<Resolved>;
  /** Parameters by name: `input.*`, `layers.<i>.{gate,residual,skip}.{weight,bias}`, `output.{0,1}.*`. */
  readonly weights: Record<string, tf.Tensor>;

  private constructor(config: Resolved, weights: Record<string, tf.Tensor>) {
    this.config = config;
    this.weights = weights;
  }

  /** A freshly initialised stack (weights normal with std √(1 / fan-in), biases zero). */
  static create(config: WaveNetConfig, rng: Rng): WaveNet {
    const c = resolve(config);
    if (!rng || typeof (rng as Rng).normal !== 'function') {
      throw new ValueError(argumentMessage(FN, 'rng', 'an Rng from createRng(seed)', String(rng)));
    }
    const weights: Record<string, tf.Tensor> = {};
    for (const [name, shape] of Object.entries(parameterShapes(c))) {
      if (shape.length === 1) weights[name] = tf.zeros(shape);
      else {
        const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
        weights[name] = rng.normal(shape, 0, Math.sqrt(1 / fanIn));
      }
    }
    return new WaveNet(c, weights);
  }

  /** A stack from given parameters (names and shapes as {@link WaveNet.parameterShapes}). */
  static fromWeights(config: WaveNetConfig, weights: Record<string, tf.Tensor>): WaveNet {
    const c = resolve(config);
    const picked: Record<string, tf.Tensor> = {};
    for (const [name, shape] of Object.entries(parameterShapes(c))) {
      const t = weights[name];
      if (!t)
        throw new ValueError(
          `${FN}.fromWeights: weights is missing ${JSON.stringify(name)} of shape ${formatShape(shape)}`,
        );
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new ShapeError(
          argumentMessage(
            `${FN}.fromWeights`,
            `weights[${JSON.stringify(name)}]`,
            `of shape ${formatShape(shape)}`,
            `shape ${formatShape(t.shape)}`,
          ),
        );
      }
      picked[name] = t;
    }
    return new WaveNet(c, picked);
  }

  /** The expected parameter names and shapes. */
  static parameterShapes(config: WaveNetConfig): Record<string, number[]> {
    return parameterShapes(resolve(config));
  }

  /** Receptive field in samples: 1 + (kernel − 1)·Σ dilations (1024 for one block of 1…512, 3070 for three). */
  get receptiveField(): number {
    return receptiveField(this.config.dilations.map((dilation) => ({ kernel: this.config.kernel, dilation })))
      .size;
  }

  private w(name: string, overrides: Record<string, tf.Tensor>): tf.Tensor {
    return overrides[name] ?? this.weights[name]!;
  }

  /** Applies a [.., in] × [in, out] + [out] projection on the last axis (2-D products). */
  private dense(x: tf.Tensor, prefix: string, overrides: Record<string, tf.Tensor>): tf.Tensor {
    const weight = this.w(`${prefix}.weight`, overrides);
    const [inC, outC] = weight.shape as [number, number];
    const lead = x.shape.slice(0, -1);
    const y = tf.add(
      tf.matMul(tf.reshape(x, [-1, inC]), weight as tf.Tensor2D),
      this.w(`${prefix}.bias`, overrides),
    );
    return tf.reshape(y, [...lead, outC]);
  }

  /**
   * The whole causal forward: x [batch, length, inChannels] → [batch, length, outChannels]. `weights`
   * overrides parameters by name (for tf.grads over them). Differentiable at every dilation.
   */
  forward(x: tf.Tensor, weights: Record<string, tf.Tensor> = {}): tf.Tensor3D {
    const fn = `${FN}.forward`;
    assertRank(fn, 'x', x, 3, '[batch, length, inChannels]');
    assertSameSize(fn, 'x.shape[2]', x.shape[2]!, 'config.inChannels', this.config.inChannels);
    for (const name of Object.keys(weights)) {
      if (!(name in this.weights))
        throw new ValueError(`${fn}: weights has an unknown parameter ${JSON.stringify(name)}`);
    }
    const { dilations, dilationChannels } = this.config;
    return tf.tidy(() => {
      let h = this.dense(x, 'input', weights);
      let skip: tf.Tensor | null = null;
      dilations.forEach((dilation, i) => {
        const fg = tf.add(
          causalConv1d(h, this.w(`layers.${i}.gate.weight`, weights), { dilation }),
          this.w(`layers.${i}.gate.bias`, weights),
        );
        const z = gated(fg, dilationChannels);
        const s = this.dense(z, `layers.${i}.skip`, weights);
        skip = skip ? tf.add(skip, s) : s;
        h = tf.add(h, this.dense(z, `layers.${i}.residual`, weights));
      });
      const hidden = tf.relu(this.dense(tf.relu(skip!), 'output.0', weights));
      return this.dense(hidden, 'output.1', weights) as tf.Tensor3D;
    });
  }

  /** A fresh streaming state (the past is zeros, as the causal padding of {@link WaveNet.forward}). */
  initState(batch: number): WaveNetState {
    if (typeof batch !== 'number' || !Number.isInteger(batch) || batch < 1) {
      throw new ValueError(argumentMessage(`${FN}.initState`, 'batch', 'a positive integer', String(batch)));
    }
    const zeros = tf.keep(tf.zeros([batch, this.config.residualChannels])) as tf.Tensor2D;
    const queues = this.config.dilations.map((d) =>
      new Array<tf.Tensor2D>((this.config.kernel - 1) * d).fill(zeros),
    );
    return { batch, position: 0, queues, zeros };
  }

  /**
   * One generation step: x [batch, 1, inChannels] (or [batch, inChannels]) at time `state.position` →
   * y [batch, 1, outChannels], equal to `forward` of the whole sequence at that time. Reads each layer's
   * queue at t − j·d and pushes the layer's current input: O(layers) work per sample. `state` is updated in
   * place and returned.
   */
  step(x: tf.Tensor, state: WaveNetState): { y: tf.Tensor3D; state: WaveNetState } {
    const fn = `${FN}.step`;
    assertRank(fn, 'x', x, [2, 3], '[batch, 1, inChannels] or [batch, inChannels]');
    const { kernel, dilations, dilationChannels, inChannels, outChannels } = this.config;
    const expected = x.rank === 3 ? [state?.batch, 1, inChannels] : [state?.batch, inChannels];
    if (!state || !Array.isArray(state.queues) || state.queues.length !== dilations.length) {
      throw new ValueError(
        argumentMessage(fn, 'state', 'a state from this WaveNet’s initState(batch)', String(state)),
      );
    }
    if (x.shape.some((d, i) => d !== expected[i])) {
      throw new ShapeError(
        argumentMessage(
          fn,
          'x',
          `of shape ${formatShape(expected as number[])}`,
          `shape ${formatShape(x.shape)}`,
        ),
      );
    }
    const t = state.position;
    const y = tf.tidy(() => {
      let h = this.dense(tf.reshape(x, [state.batch, inChannels]), 'input', {}) as tf.Tensor2D;
      let skip: tf.Tensor | null = null;
      dilations.forEach((d, i) => {
        const queue = state.queues[i]!;
        const size = queue.length;
        // taps j = 0 … k − 1 read the input at t − (k − 1 − j)·d; j = k − 1 is the current input.
        const taps: tf.Tensor[] = [];
        for (let j = 0; j < kernel - 1; j++)
          taps.push(queue[(((t - (kernel - 1 - j) * d) % size) + size) % size]!);
        taps.push(h);
        const weight = this.weights[`layers.${i}.gate.weight`]!;
        const fg = tf.add(
          tf.matMul(
            tf.concat(taps, 1),
            tf.reshape(weight, [kernel * this.config.residualChannels, 2 * dilationChannels]),
          ),
          this.weights[`layers.${i}.gate.bias`]!,
        );
        if (size > 0) {
          const slot = t % size;
          const old = queue[slot]!;
          if (old !== state.zeros) old.dispose();
          queue[slot] = tf.keep(h);
        }
        const z = gated(fg, dilationChannels);
        const s = this.dense(z, `layers.${i}.skip`, {});
        skip = skip ? tf.add(skip, s) : s;
        h = tf.add(h, this.dense(z, `layers.${i}.residual`, {})) as tf.Tensor2D;
      });
      const hidden = tf.relu(this.dense(tf.relu(skip!), 'output.0', {}));
      return tf.reshape(this.dense(hidden, 'output.1', {}), [state.batch, 1, outChannels]) as tf.Tensor3D;
    });
    state.position = t + 1;
    return { y, state };
  }

  /** Releases a streaming state's cached activations. */
  disposeState(state: WaveNetState): void {
    const seen = new Set<tf.Tensor>();
    for (const q of state.queues) for (const t of q) if (t !== state.zeros) seen.add(t);
    tf.dispose([...seen, state.zeros]);
  }

  /** Disposes the parameters. */
  dispose(): void {
    tf.dispose(Object.values(this.weights));
  }
}
