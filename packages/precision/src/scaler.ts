/**
 * Loss scaling (Micikevicius et al. 2018, Section 3.2): multiply the loss by S before the backward pass so
 * that small gradients survive low-precision storage, divide the gradients by S before the update, and skip
 * the update when they overflowed. `DynamicLossScaler` follows `torch.amp.GradScaler` exactly.
 */
import { argumentMessage, assertKnownOptions, assertNumber, assertPositiveInteger, ValueError } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';

/** What every loss scaler offers (the mixed-precision optimizer works with any of them). */
export interface LossScaler {
  /** The current scale S. */
  readonly scale: number;
  /** loss · S (a new tensor). */
  scaleLoss(loss: tf.Tensor): tf.Tensor;
  /** grads / S (new tensors, float32) and whether every value is finite (reads one flag from the device). */
  unscale(grads: tf.NamedTensorMap): { grads: tf.NamedTensorMap; finite: boolean };
  /** Records the outcome of a step (`finite` = gradients had no inf/NaN); dynamic scalers adapt S here. */
  update(finite: boolean): void;
}

export interface DynamicLossScalerOptions {
  /** Initial scale (GradScaler's init_scale, 2^16). */
  initScale?: number;
  /** Factor applied after `growthInterval` finite steps in a row (2). */
  growthFactor?: number;
  /** Factor applied on a step with inf/NaN gradients, which is skipped (0.5). */
  backoffFactor?: number;
  /** Finite steps in a row before growing (2000). */
  growthInterval?: number;
  /** Lower bound of the scale after back-off (off by default, as GradScaler; PyTorch users often ask for one). */
  minScale?: number;
  /** Upper bound of the scale after growth (off by default). */
  maxScale?: number;
}

/** The state of a dynamic scaler (GradScaler's state_dict: scale and growth tracker). */
export interface DynamicLossScalerState {
  scale: number;
  growthTracker: number;
}

/** Multiplies every gradient by `factor` and checks them for inf/NaN with one read from the device. */
function unscaleGrads(fn: string, grads: tf.NamedTensorMap, factor: number): { grads: tf.NamedTensorMap; finite: boolean } {
  if (typeof grads !== 'object' || grads === null) {
    throw new ValueError(argumentMessage(fn, 'grads', 'a map from names to tensors', String(grads)));
  }
  for (const [name, g] of Object.entries(grads)) {
    if (!(g instanceof tf.Tensor)) throw new ValueError(argumentMessage(fn, `grads[${JSON.stringify(name)}]`, 'a tf.Tensor', String(g)));
    if (g.isDisposed) throw new ValueError(`${fn}: grads[${JSON.stringify(name)}] is a disposed tensor`);
  }
  const out: tf.NamedTensorMap = {};
  const names = Object.keys(grads);
  if (names.length === 0) return { grads: out, finite: true };
  const flags = tf.tidy(() => {
    const sums: tf.Tensor[] = [];
    for (const name of names) {
      const g = tf.cast(grads[name]!, 'float32');
      const unscaled = tf.keep(tf.mul(g, factor));
      out[name] = unscaled;
      // 0 · x is NaN exactly when x is inf or NaN; one sum per tensor then one read.
      sums.push(tf.sum(tf.mul(g, 0)));
    }
    return tf.stack(sums).dataSync();
  });
  let finite = true;
  for (const v of flags) if (v !== 0) finite = false;
  return { grads: out, finite };
}

/**
 * Dynamic loss scaling with exactly `torch.amp.GradScaler`'s rule: start at `initScale`; on a step whose
 * gradients contain inf/NaN, skip the update, multiply the scale by `backoffFactor` and reset the count; after
 * `growthInterval` finite steps in a row, multiply it by `growthFactor` (kept only if finite). The scale is a
 * float32, as GradScaler's, and the gradients are multiplied by its float32 reciprocal.
 */
export class DynamicLossScaler implements LossScaler {
  private _scale: number;
  private _growthTracker = 0;
  private _skipped = 0;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  readonly minScale: number;
  readonly maxScale: number;

  constructor(options: DynamicLossScalerOptions = {}) {
    const fn = 'precision.DynamicLossScaler';
    assertKnownOptions(fn, options, ['initScale', 'growthFactor', 'backoffFactor', 'growthInterval', 'minScale', 'maxScale']);
    const {
      initScale = 2 ** 16,
      growthFactor = 2,
      backoffFactor = 0.5,
      growthInterval = 2000,
      minScale = 0,
      maxScale = Number.POSITIVE_INFINITY,
    } = options;
    assertNumber(fn, 'options.initScale', initScale, { exclusiveMin: 0 });
    assertNumber(fn, 'options.growthFactor', growthFactor, { exclusiveMin: 1 });
    assertNumber(fn, 'options.backoffFactor', backoffFactor, { exclusiveMin: 0, max: 1 });
    if (backoffFactor === 1) throw new ValueError(argumentMessage(fn, 'options.backoffFactor', 'a finite number > 0 < 1', '1'));
    assertPositiveInteger(fn, 'options.growthInterval', growthInterval);
    assertNumber(fn, 'options.minScale', minScale, { min: 0 });
    assertNumber(fn, 'options.maxScale', maxScale, { exclusiveMin: 0, finite: false });
    if (minScale > maxScale) {
      throw new ValueError(`${fn}: options.minScale (${minScale}) must be <= options.maxScale (${maxScale})`);
    }
    this._scale = Math.fround(initScale);
    this.growthFactor = growthFactor;
    this.backoffFactor = backoffFactor;
    this.growthInterval = growthInterval;
    this.minScale = minScale;
    this.maxScale = maxScale;
  }

  /** The current scale. */
  get scale(): number {
    return this._scale;
  }

  /** Finite steps since the last growth or back-off (GradScaler's `_growth_tracker`). */
  get growthTracker(): number {
    return this._growthTracker;
  }

  /** How many steps were skipped so far. */
  get skippedSteps(): number {
    return this._skipped;
  }

  scaleLoss(loss: tf.Tensor): tf.Tensor {
    if (!(loss instanceof tf.Tensor)) throw new ValueError(argumentMessage('DynamicLossScaler.scaleLoss', 'loss', 'a tf.Tensor', String(loss)));
    return tf.mul(loss, this._scale);
  }

  unscale(grads: tf.NamedTensorMap): { grads: tf.NamedTensorMap; finite: boolean } {
    return unscaleGrads('DynamicLossScaler.unscale', grads, Math.fround(1 / this._scale));
  }

  update(finite: boolean): void {
    if (typeof finite !== 'boolean') throw new ValueError(argumentMessage('DynamicLossScaler.update', 'finite', 'a boolean', String(finite)));
    if (!finite) {
      this._scale = Math.max(Math.fround(this._scale * this.backoffFactor), this.minScale);
      this._growthTracker = 0;
      this._skipped++;
      return;
    }
    this._growthTracker++;
    if (this._growthTracker === this.growthInterval) {
      const grown = Math.fround(this._scale * this.growthFactor);
      if (Number.isFinite(grown)) this._scale = Math.min(grown, Math.max(this.maxScale, this._scale));
      this._growthTracker = 0;
    }
  }

  /** The state to checkpoint (GradScaler.state_dict's scale and growth tracker). */
  state(): DynamicLossScalerState {
    return { scale: this._scale, growthTracker: this._growthTracker };
  }

  /** Restores a state from {@link state}. */
  loadState(state: DynamicLossScalerState): void {
    assertNumber('DynamicLossScaler.loadState', 'state.scale', state?.scale, { exclusiveMin: 0 });
    assertNumber('DynamicLossScaler.loadState', 'state.growthTracker', state.growthTracker, { min: 0 });
    this._scale = Math.fround(state.scale);
    this._growthTracker = state.growthTracker;
  }
}

/**
 * A fixed loss scale S (Micikevicius et al. 2018 trained many networks with a constant S). Steps whose
 * gradients overflow are still reported as non-finite (the optimizer wrapper skips them), but S never changes.
 */
export class StaticLossScaler implements LossScaler {
  readonly scale: number;

  constructor(scale = 1) {
    assertNumber('precision.StaticLossScaler', 'scale', scale, { exclusiveMin: 0 });
    this.scale = Math.fround(scale);
  }

  scaleLoss(loss: tf.Tensor): tf.Tensor {
    if (!(loss instanceof tf.Tensor)) throw new ValueError(argumentMessage('StaticLossScaler.scaleLoss', 'loss', 'a tf.Tensor', String(loss)));
    return tf.mul(loss, this.scale);
  }

  unscale(grads: tf.NamedTensorMap): { grads: tf.NamedTensorMap; finite: boolean } {
    return unscaleGrads('StaticLossScaler.unscale', grads, Math.fround(1 / this.scale));
  }

  update(finite: boolean): void {
    if (typeof finite !== 'boolean') throw new ValueError(argumentMessage('StaticLossScaler.update', 'finite', 'a boolean', String(finite)));
  }
}
