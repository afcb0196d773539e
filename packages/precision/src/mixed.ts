/**
 * Mixed-precision training (Micikevicius et al. 2018): FP32 master weights, forward and backward passes on
 * weights rounded to FP16 or BF16 (and optionally activations, through `cast`), loss scaling, unscaling and
 * an overflow check in FP32, and skipped steps with scale back-off, as PyTorch AMP with GradScaler.
 *
 * Simulated on tfjs float32 tensors: every cast rounds values to the format in the forward pass and rounds
 * the gradient flowing back through it, so underflow and overflow happen where real FP16 storage has them.
 */
import { argumentMessage, assertKnownOptions, assertOneOf, ValueError } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { quantize } from './quantize.js';
import { DynamicLossScaler, type LossScaler, StaticLossScaler } from './scaler.js';

/** The compute formats of the mixed-precision wrapper ('float32' turns rounding off: a plain FP32 run). */
export type ComputeFormat = 'float16' | 'bfloat16' | 'float32';

export interface MixedPrecisionOptions {
  /** Format of the low-precision forward/backward pass (default 'float16'). */
  format?: ComputeFormat;
  /**
   * Loss scaling: a scaler, `'dynamic'` (GradScaler defaults, the default), a number (static scale), or
   * `null` / `false` for none (what fails in FP16 when gradients are small).
   */
  lossScaler?: LossScaler | 'dynamic' | number | null | false;
}

/** What the loss function receives: the rounded weights and a cast for activations. */
export type MixedLossFunction = (
  weights: tf.NamedTensorMap,
  cast: (activation: tf.Tensor) => tf.Tensor,
) => tf.Scalar | tf.Tensor;

/** The outcome of one `minimize` step. */
export interface MixedStepResult {
  /** The unscaled loss of this step (computed in the compute format). */
  loss: number;
  /** True when the gradients had inf/NaN and the update was skipped. */
  skipped: boolean;
  /** The loss scale after this step's update (the scale the next step will use). */
  scale: number;
  /** The scale this step's loss was multiplied by. */
  scaleUsed: number;
}

/**
 * Wraps a tfjs optimizer for mixed-precision training. The variables passed to `minimize` are the FP32
 * master weights; the loss function sees copies rounded to `format` whose gradients are rounded to `format`
 * too. The scaled loss is differentiated, the gradients are unscaled and checked in FP32, and the optimizer
 * updates the master weights unless they overflowed.
 *
 * ```ts
 * const mp = new MixedPrecisionOptimizer(tf.train.adam(1e-3), { format: 'float16' });
 * const { loss, skipped, scale } = mp.minimize((w, cast) => mse(model(cast(x), w), y), { w1, b1 });
 * ```
 */
export class MixedPrecisionOptimizer {
  readonly optimizer: tf.Optimizer;
  readonly format: ComputeFormat;
  readonly lossScaler: LossScaler | null;

  constructor(optimizer: tf.Optimizer, options: MixedPrecisionOptions = {}) {
    const fn = 'precision.MixedPrecisionOptimizer';
    if (!(optimizer instanceof tf.Optimizer)) {
      throw new ValueError(argumentMessage(fn, 'optimizer', 'a tf.Optimizer (tf.train.adam(...), ...)', String(optimizer)));
    }
    assertKnownOptions(fn, options, ['format', 'lossScaler']);
    const { format = 'float16', lossScaler = 'dynamic' } = options;
    assertOneOf(fn, 'options.format', format, ['float16', 'bfloat16', 'float32'] as const);
    this.optimizer = optimizer;
    this.format = format;
    if (lossScaler === null || lossScaler === false) this.lossScaler = null;
    else if (lossScaler === 'dynamic') this.lossScaler = new DynamicLossScaler();
    else if (typeof lossScaler === 'number') this.lossScaler = new StaticLossScaler(lossScaler);
    else if (typeof lossScaler === 'object' && typeof lossScaler.unscale === 'function') this.lossScaler = lossScaler;
    else {
      throw new ValueError(
        argumentMessage(fn, 'options.lossScaler', "a LossScaler, 'dynamic', a number or null", String(lossScaler)),
      );
    }
  }

  /** Rounds an activation to the compute format (forward) and its gradient too (backward). */
  cast = (activation: tf.Tensor): tf.Tensor =>
    this.format === 'float32' ? activation : quantize(activation, this.format, { roundGradient: true });

  /**
   * One training step on the FP32 master variables `vars`. Returns the unscaled loss, whether the step was
   * skipped (inf/NaN gradients), and the scale. Leaves no tensors behind.
   */
  minimize(lossFn: MixedLossFunction, vars: Record<string, tf.Variable>): MixedStepResult {
    const fn = 'MixedPrecisionOptimizer.minimize';
    if (typeof lossFn !== 'function') throw new ValueError(argumentMessage(fn, 'lossFn', 'a function', typeof lossFn));
    if (typeof vars !== 'object' || vars === null || Object.keys(vars).length === 0) {
      throw new ValueError(argumentMessage(fn, 'vars', 'a non-empty map from names to tf.Variable', String(vars)));
    }
    const names = Object.keys(vars);
    for (const name of names) {
      const v = vars[name];
      if (!(v instanceof tf.Variable)) {
        throw new ValueError(argumentMessage(fn, `vars[${JSON.stringify(name)}]`, 'a tf.Variable (the FP32 master weight)', String(v)));
      }
      if (v.dtype !== 'float32') throw new ValueError(argumentMessage(fn, `vars[${JSON.stringify(name)}]`, 'float32', `dtype ${v.dtype}`));
    }
    const scaler = this.lossScaler;
    const scaleUsed = scaler ? scaler.scale : 1;
    const { lossValue, grads } = tf.tidy(() => {
      const objective = (...weights: tf.Tensor[]): tf.Scalar => {
        const rounded: tf.NamedTensorMap = {};
        names.forEach((name, i) => {
          rounded[name] = this.cast(weights[i]!);
        });
        const loss = lossFn(rounded, this.cast);
        if (!(loss instanceof tf.Tensor) || loss.size !== 1) {
          throw new ValueError(argumentMessage(fn, 'lossFn', 'a function returning a scalar tensor', String(loss)));
        }
        const scalar = tf.reshape(loss, []) as tf.Scalar;
        return (scaler ? scaler.scaleLoss(scalar) : scalar) as tf.Scalar;
      };
      const { value, grads: list } = tf.valueAndGrads(objective)(names.map((n) => vars[n]!));
      const named: tf.NamedTensorMap = {};
      names.forEach((name, i) => {
        named[name] = tf.keep(list[i]!);
      });
      return { lossValue: tf.keep(tf.div(value, scaleUsed)), grads: named };
    });
    let unscaled: tf.NamedTensorMap;
    let finite: boolean;
    if (scaler) {
      ({ grads: unscaled, finite } = scaler.unscale(grads));
      for (const g of Object.values(grads)) g.dispose();
    } else {
      unscaled = grads;
      finite = tf.tidy(() => tf.stack(Object.values(grads).map((g) => tf.sum(tf.mul(g, 0)))).dataSync().every((v) => v === 0));
    }
    if (finite) {
      // tfjs optimizers look variables up by their registered names.
      const byVariable: tf.NamedTensorMap = {};
      for (const name of names) byVariable[vars[name]!.name] = unscaled[name]!;
      this.optimizer.applyGradients(byVariable);
    }
    for (const g of Object.values(unscaled)) g.dispose();
    scaler?.update(finite);
    const loss = lossValue.dataSync()[0]!;
    lossValue.dispose();
    return { loss, skipped: !finite, scale: scaler ? scaler.scale : 1, scaleUsed };
  }
}
