/**
 * Receptive fields of convolution stacks: the theoretical size and jump (Yu & Koltun 2016, §3; Araujo et al.
 * 2019, "Computing receptive fields of convolutional neural networks"), and the effective receptive field
 * measured by gradients (Luo et al. 2016).
 */
import * as tf from '@tensorflow/tfjs-core';
import { argumentMessage, assertKnownOptions, assertRank, ShapeError, ValueError } from '@lab/tensor';

/** One layer of a stack: kernel size, dilation (default 1) and stride (default 1) along one axis. */
export interface ReceptiveLayer {
  kernel: number;
  dilation?: number;
  stride?: number;
}

/** The receptive field after a layer: its size in input samples and the jump (input distance between outputs). */
export interface ReceptiveFieldInfo {
  size: number;
  jump: number;
}

function checkLayers(fn: string, layers: unknown): ReceptiveLayer[] {
  if (!Array.isArray(layers)) {
    throw new ValueError(
      argumentMessage(fn, 'layers', 'an array of { kernel, dilation?, stride? }', String(layers)),
    );
  }
  layers.forEach((layer, i) => {
    if (typeof layer !== 'object' || layer === null) {
      throw new ValueError(
        argumentMessage(fn, `layers[${i}]`, 'an object { kernel, dilation?, stride? }', String(layer)),
      );
    }
    const l = layer as Record<string, unknown>;
    for (const key of Object.keys(l)) {
      if (!['kernel', 'dilation', 'stride'].includes(key)) {
        throw new ValueError(
          `${fn}: layers[${i}] has an unknown key ${JSON.stringify(key)}; known keys are kernel, dilation, stride`,
        );
      }
    }
    for (const key of ['kernel', 'dilation', 'stride'] as const) {
      const v = l[key];
      if (key !== 'kernel' && v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
        throw new ValueError(argumentMessage(fn, `layers[${i}].${key}`, 'a positive integer', String(v)));
      }
    }
  });
  return layers as ReceptiveLayer[];
}

/**
 * The receptive field of each prefix of a stack along one axis: after layer i,
 * size_i = size_{i−1} + (k_i − 1)·d_i·jump_{i−1},  jump_i = jump_{i−1}·s_i  (size_0 = jump_0 = 1).
 */
export function receptiveFieldPerLayer(layers: readonly ReceptiveLayer[]): ReceptiveFieldInfo[] {
  checkLayers('conv.receptiveFieldPerLayer', layers);
  let size = 1;
  let jump = 1;
  return layers.map(({ kernel, dilation = 1, stride = 1 }) => {
    size += (kernel - 1) * dilation * jump;
    jump *= stride;
    return { size, jump };
  });
}

/**
 * The theoretical receptive field of a stack of convolutions along one axis (Yu & Koltun 2016, §3: a 3×3
 * context module with dilations 1, 1, 2, 4, 8, 16, 1 sees 67 × 67).
 *
 * size = 1 + Σ_i (k_i − 1)·d_i·Π_{j<i} s_j; jump = Π_i s_i. An empty stack sees one sample.
 */
export function receptiveField(layers: readonly ReceptiveLayer[]): ReceptiveFieldInfo {
  checkLayers('conv.receptiveField', layers);
  const per = receptiveFieldPerLayer(layers);
  return per.length ? per[per.length - 1]! : { size: 1, jump: 1 };
}

/** Options of {@link effectiveReceptiveField}. */
export interface EffectiveReceptiveFieldOptions {
  /** Output position [row, column] whose gradient is taken (default: the centre). */
  position?: readonly [number, number];
  /** Input at which the gradient is evaluated (default: ones; irrelevant for linear stacks). */
  input?: tf.Tensor;
}

/**
 * The effective receptive field (Luo et al. 2016, §2): |∂ y[0, r, c, :] / ∂ x| summed over the batch and
 * input channels and normalised to a maximum of 1, for a model mapping [batch, height, width, channels] to
 * [batch, outHeight, outWidth, channels].
 *
 * inputShape: [batch, height, width, channels]; returns [height, width].
 */
export function effectiveReceptiveField(
  model: (x: tf.Tensor4D) => tf.Tensor4D,
  inputShape: readonly [number, number, number, number],
  options: EffectiveReceptiveFieldOptions = {},
): tf.Tensor2D {
  const fn = 'conv.effectiveReceptiveField';
  assertKnownOptions(fn, options, ['position', 'input']);
  if (typeof model !== 'function')
    throw new ValueError(argumentMessage(fn, 'model', 'a function', String(model)));
  if (
    !Array.isArray(inputShape) ||
    inputShape.length !== 4 ||
    !inputShape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)
  ) {
    throw new ValueError(
      argumentMessage(
        fn,
        'inputShape',
        '[batch, height, width, channels] of positive integers',
        JSON.stringify(inputShape),
      ),
    );
  }
  if (options.input) {
    assertRank(fn, 'input', options.input, 4, '[batch, height, width, channels]');
    if (options.input.shape.some((d, i) => d !== inputShape[i])) {
      throw new ShapeError(
        argumentMessage(
          fn,
          'input',
          `of shape [${inputShape.join(',')}] (inputShape)`,
          `shape [${options.input.shape.join(',')}]`,
        ),
      );
    }
  }
  return tf.tidy(() => {
    const x = options.input ?? tf.ones(inputShape as [number, number, number, number]);
    const probe = model(x as tf.Tensor4D);
    assertRank(fn, 'model(x)', probe, 4, '[batch, outHeight, outWidth, channels]');
    const [, oh, ow, oc] = probe.shape;
    const [r, c] = options.position ?? [Math.floor(oh / 2), Math.floor(ow / 2)];
    if (!Number.isInteger(r) || !Number.isInteger(c) || r < 0 || r >= oh || c < 0 || c >= ow) {
      throw new ValueError(
        argumentMessage(fn, 'position', `[row, column] inside the output [${oh}, ${ow}]`, `[${r}, ${c}]`),
      );
    }
    const g = tf.grad((input: tf.Tensor) =>
      tf.sum(tf.slice(model(input as tf.Tensor4D), [0, r, c, 0], [1, 1, 1, oc])),
    )(x);
    const map = tf.sum(tf.abs(g), [0, 3]);
    const peak = tf.max(map);
    return tf.div(map, tf.maximum(peak, tf.scalar(Number.MIN_VALUE))) as tf.Tensor2D;
  });
}
