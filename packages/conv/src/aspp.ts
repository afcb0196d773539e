/**
 * Atrous Spatial Pyramid Pooling, DeepLab v3 (Chen et al. 2017, "Rethinking atrous convolution for semantic
 * image segmentation", §3.3), channels-last, as a module with parameters.
 *
 * Branches on x: [batch, height, width, inChannels], each conv → batch norm (inference statistics) → ReLU:
 *   0: 1×1 convolution;  1–3: 3×3 atrous convolutions at rates 6/12/18 (output stride 16) or 12/24/36 (8);
 *   4: image pooling: global average → 1×1 convolution → BN → ReLU → upsampled (bilinear from 1×1 = copy).
 * Concatenated (5·outChannels) and projected by a 1×1 convolution → BN → ReLU to [batch, height, width, outChannels].
 * Parameter names follow torchvision's `ASPP` state_dict (`convs.1.0.weight`, `project.1.running_var`, …), with
 * convolution weights channels-last [kh, kw, in, out]. Training-time dropout (0.5 after the projection) is
 * left to the caller.
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
import { dilatedConv2d } from './conv2d.js';

/** Configuration of {@link ASPP}. */
export interface AsppConfig {
  inChannels: number;
  /** Channels of every branch and of the output (default 256, as DeepLab v3). */
  outChannels?: number;
  /** Output stride of the backbone: 16 → rates 6, 12, 18; 8 → rates 12, 24, 36 (default 16). */
  outputStride?: 8 | 16;
  /** Explicit atrous rates (overrides outputStride). */
  rates?: readonly number[];
  /** Include the image-pooling branch (default true). */
  imagePooling?: boolean;
  /** Batch-norm epsilon (default 1e-5, as PyTorch). */
  epsilon?: number;
}

const FN = 'conv.ASPP';

/** The atrous rates DeepLab v3 uses at an output stride (§3.3). */
export function asppRates(outputStride: 8 | 16): [number, number, number] {
  if (outputStride === 16) return [6, 12, 18];
  if (outputStride === 8) return [12, 24, 36];
  throw new ValueError(argumentMessage('conv.asppRates', 'outputStride', '8 or 16', String(outputStride)));
}

interface Resolved {
  inChannels: number;
  outChannels: number;
  rates: number[];
  imagePooling: boolean;
  epsilon: number;
}

function resolve(config: AsppConfig): Resolved {
  if (typeof config !== 'object' || config === null) {
    throw new ValueError(
      argumentMessage(FN, 'config', 'an object { inChannels, outChannels?, outputStride? }', String(config)),
    );
  }
  assertKnownOptions(FN, config, [
    'inChannels',
    'outChannels',
    'outputStride',
    'rates',
    'imagePooling',
    'epsilon',
  ]);
  const positive = (name: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new ValueError(argumentMessage(FN, name, 'a positive integer', String(v)));
    }
    return v;
  };
  const inChannels = positive('config.inChannels', config.inChannels);
  const outChannels = positive('config.outChannels', config.outChannels ?? 256);
  let rates: number[];
  if (config.rates !== undefined) {
    if (!Array.isArray(config.rates) || config.rates.length === 0) {
      throw new ValueError(
        argumentMessage(FN, 'config.rates', 'a non-empty array of positive integers', String(config.rates)),
      );
    }
    rates = config.rates.map((r, i) => positive(`config.rates[${i}]`, r));
  } else {
    const os = config.outputStride ?? 16;
    if (os !== 8 && os !== 16)
      throw new ValueError(argumentMessage(FN, 'config.outputStride', '8 or 16', String(os)));
    rates = asppRates(os);
  }
  const epsilon = config.epsilon ?? 1e-5;
  if (typeof epsilon !== 'number' || !(epsilon > 0)) {
    throw new ValueError(argumentMessage(FN, 'config.epsilon', 'a number > 0', String(epsilon)));
  }
  return { inChannels, outChannels, rates, imagePooling: config.imagePooling ?? true, epsilon };
}

/** Parameter names and shapes of an ASPP module (weights channels-last). */
function parameterShapes(c: Resolved): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  const bn = (prefix: string) => {
    for (const k of ['weight', 'bias', 'running_mean', 'running_var'])
      shapes[`${prefix}.${k}`] = [c.outChannels];
  };
  shapes['convs.0.0.weight'] = [1, 1, c.inChannels, c.outChannels];
  bn('convs.0.1');
  c.rates.forEach((_, i) => {
    shapes[`convs.${i + 1}.0.weight`] = [3, 3, c.inChannels, c.outChannels];
    bn(`convs.${i + 1}.1`);
  });
  const branches = 1 + c.rates.length + (c.imagePooling ? 1 : 0);
  if (c.imagePooling) {
    const p = `convs.${c.rates.length + 1}`;
    shapes[`${p}.1.weight`] = [1, 1, c.inChannels, c.outChannels];
    bn(`${p}.2`);
  }
  shapes['project.0.weight'] = [1, 1, branches * c.outChannels, c.outChannels];
  bn('project.1');
  return shapes;
}

/** ASPP (DeepLab v3) with its parameters; see the module comment. */
export class ASPP {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly rates: readonly number[];
  readonly imagePooling: boolean;
  readonly epsilon: number;
  /** The parameters by name (convolution weights [kh, kw, in, out]; batch-norm weight, bias, running stats). */
  readonly weights: Record<string, tf.Tensor>;

  private constructor(config: Resolved, weights: Record<string, tf.Tensor>) {
    this.inChannels = config.inChannels;
    this.outChannels = config.outChannels;
    this.rates = config.rates;
    this.imagePooling = config.imagePooling;
    this.epsilon = config.epsilon;
    this.weights = weights;
  }

  /** A freshly initialised module: convolutions He-normal (fan-in), batch norms identity. */
  static create(config: AsppConfig, rng: Rng): ASPP {
    const c = resolve(config);
    if (!rng || typeof (rng as Rng).normal !== 'function') {
      throw new ValueError(argumentMessage(FN, 'rng', 'an Rng from createRng(seed)', String(rng)));
    }
    const weights: Record<string, tf.Tensor> = {};
    for (const [name, shape] of Object.entries(parameterShapes(c))) {
      if (name.endsWith('running_var') || (name.endsWith('.weight') && shape.length === 1)) {
        weights[name] = tf.ones(shape);
      } else if (shape.length === 1) {
        weights[name] = tf.zeros(shape);
      } else {
        const fanIn = shape[0]! * shape[1]! * shape[2]!;
        weights[name] = rng.normal(shape, 0, Math.sqrt(2 / fanIn));
      }
    }
    return new ASPP(c, weights);
  }

  /** A module from given parameters (names and shapes as {@link ASPP.parameterShapes}); tensors are not copied. */
  static fromWeights(config: AsppConfig, weights: Record<string, tf.Tensor>): ASPP {
    const c = resolve(config);
    const shapes = parameterShapes(c);
    for (const [name, shape] of Object.entries(shapes)) {
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
    }
    const picked: Record<string, tf.Tensor> = {};
    for (const name of Object.keys(shapes)) picked[name] = weights[name]!;
    return new ASPP(c, picked);
  }

  /** The expected parameter names and shapes. */
  static parameterShapes(config: AsppConfig): Record<string, number[]> {
    return parameterShapes(resolve(config));
  }

  /** Names of the trainable parameters (everything but the batch-norm running statistics). */
  trainableNames(): string[] {
    return Object.keys(this.weights).filter((n) => !n.endsWith('running_mean') && !n.endsWith('running_var'));
  }

  /**
   * x: [batch, height, width, inChannels] → [batch, height, width, outChannels]. `weights` overrides the
   * module's parameters by name (for tf.grads over them).
   */
  apply(x: tf.Tensor, weights: Record<string, tf.Tensor> = {}): tf.Tensor4D {
    const fn = `${FN}.apply`;
    assertRank(fn, 'x', x, 4, '[batch, height, width, inChannels]');
    assertSameSize(fn, 'x.shape[3]', x.shape[3]!, 'inChannels', this.inChannels);
    for (const name of Object.keys(weights)) {
      if (!(name in this.weights))
        throw new ValueError(`${fn}: weights has an unknown parameter ${JSON.stringify(name)}`);
    }
    const w = (name: string) => weights[name] ?? this.weights[name]!;
    const bnRelu = (t: tf.Tensor, prefix: string) =>
      tf.relu(
        tf.batchNorm(
          t,
          w(`${prefix}.running_mean`) as tf.Tensor1D,
          w(`${prefix}.running_var`) as tf.Tensor1D,
          w(`${prefix}.bias`) as tf.Tensor1D,
          w(`${prefix}.weight`) as tf.Tensor1D,
          this.epsilon,
        ),
      );
    return tf.tidy(() => {
      const [n, h, wd] = x.shape as [number, number, number, number];
      const branches: tf.Tensor[] = [];
      branches.push(
        bnRelu(dilatedConv2d(x, w('convs.0.0.weight'), { dilation: 1, padding: 'valid' }), 'convs.0.1'),
      );
      this.rates.forEach((rate, i) => {
        const y = dilatedConv2d(x, w(`convs.${i + 1}.0.weight`), { dilation: rate, padding: 'same' });
        branches.push(bnRelu(y, `convs.${i + 1}.1`));
      });
      if (this.imagePooling) {
        const p = `convs.${this.rates.length + 1}`;
        const pooled = tf.mean(x, [1, 2], true); // [batch, 1, 1, inChannels]
        const y = bnRelu(
          dilatedConv2d(pooled, w(`${p}.1.weight`), { dilation: 1, padding: 'valid' }),
          `${p}.2`,
        );
        branches.push(tf.tile(y, [1, h, wd, 1])); // bilinear upsampling of a 1×1 map is a copy
      }
      const cat = tf.concat(branches, 3);
      const out = bnRelu(
        dilatedConv2d(cat, w('project.0.weight'), { dilation: 1, padding: 'valid' }),
        'project.1',
      );
      return tf.reshape(out, [n, h, wd, this.outChannels]) as tf.Tensor4D;
    });
  }

  /** Disposes the parameters. */
  dispose(): void {
    tf.dispose(Object.values(this.weights));
  }
}
