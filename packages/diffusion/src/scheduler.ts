/**
 * A step-by-step scheduler for users who own the sampling loop (the diffusers `set_timesteps` /
 * `scale_model_input` / `step` pattern), on any formulation of Karras et al. 2022 (Table 1), with Euler, Heun,
 * Euler ancestral and DPM-Solver++(2M) updates in σ (k-diffusion semantics).
 */

import {
  argumentMessage,
  assertInteger,
  assertKnownOptions,
  assertOneOf,
  createRng,
  type Rng,
  ValueError,
} from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { edmFormulation, type Formulation } from './formulations.js';
import { ancestralStep } from './kdiffusion.js';
import type { NoiseFn } from './types.js';
import { assertSamples, checkOutput, noiseSource } from './util.js';

/** One model evaluation of the loop. */
export interface SchedulerTimestep {
  /** Index of this evaluation in `timesteps`. */
  index: number;
  /** Index of the σ step it belongs to. */
  step: number;
  /** σ at which the model is evaluated. */
  sigma: number;
  /** The conditioning the network expects, c_noise(σ) of the formulation's preconditioning. */
  cNoise: number;
}

export type SchedulerSolver = 'euler' | 'heun' | 'euler-ancestral' | 'dpmpp-2m';

/**
 * What the network outputs: 'precond' = the raw F of the formulation's preconditioning (D = c_skip·x + c_out·F),
 * 'epsilon' (ε̂, D = x − σε̂), 'sample' (x₀ directly), 'v' (v-prediction, Salimans & Ho 2022, on the VP-scaled input).
 */
export type PredictionType = 'precond' | 'epsilon' | 'sample' | 'v';

/**
 * ```ts
 * const scheduler = new DiffusionScheduler({ formulation: edmFormulation(), solver: 'heun' });
 * scheduler.setTimesteps(18);
 * let x = scheduler.initNoise(latents);
 * for (const t of scheduler.timesteps) {
 *   const out = model(scheduler.scaleModelInput(x, t), tf.fill([batch], t.cNoise));
 *   const next = scheduler.step(out, t, x); x.dispose(); x = next.prevSample; next.denoised.dispose();
 * }
 * ```
 * The sample lives in the unscaled space x̂ = x₀ + σε (s = 1); `scaleModelInput` applies c_in(σ).
 */
export class DiffusionScheduler {
  readonly formulation: Formulation;
  readonly solver: SchedulerSolver;
  readonly predictionType: PredictionType;
  /** σ₀ > … > σ_{N−1} > σ_N = 0 after {@link setTimesteps}. */
  sigmas: Float64Array = new Float64Array(0);
  timesteps: SchedulerTimestep[] = [];
  private readonly eta: number;
  private readonly randn: NoiseFn;
  private calls = 0;
  private pending: { x: tf.Tensor; d: tf.Tensor } | null = null;
  private oldDenoised: tf.Tensor | null = null;

  constructor(
    options: {
      formulation?: Formulation;
      solver?: SchedulerSolver;
      predictionType?: PredictionType;
      eta?: number;
      noise?: NoiseFn;
      rng?: Rng;
    } = {},
  ) {
    const fn = 'diffusion.DiffusionScheduler';
    assertKnownOptions(fn, options, ['formulation', 'solver', 'predictionType', 'eta', 'noise', 'rng']);
    this.formulation = options.formulation ?? edmFormulation();
    this.solver = options.solver ?? 'euler';
    this.predictionType = options.predictionType ?? 'precond';
    assertOneOf(fn, 'options.solver', this.solver, ['euler', 'heun', 'euler-ancestral', 'dpmpp-2m'] as const);
    assertOneOf(fn, 'options.predictionType', this.predictionType, [
      'precond',
      'epsilon',
      'sample',
      'v',
    ] as const);
    this.eta = options.eta ?? 1;
    this.randn = noiseSource(fn, options.noise, options.rng ?? createRng(0));
  }

  /** Sets N sampling steps: σ from the formulation's discretization; Heun evaluates twice per step except the last. */
  setTimesteps(numSteps: number): this {
    assertInteger('diffusion.DiffusionScheduler.setTimesteps', 'numSteps', numSteps, 1);
    this.reset();
    this.sigmas = this.formulation.sigmaSteps(numSteps);
    const ts: SchedulerTimestep[] = [];
    const c = (s: number) => this.formulation.precond.coefficients(s).cNoise;
    for (let i = 0; i < numSteps; i++) {
      ts.push({ index: ts.length, step: i, sigma: this.sigmas[i]!, cNoise: c(this.sigmas[i]!) });
      if (this.solver === 'heun' && this.sigmas[i + 1]! > 0) {
        ts.push({ index: ts.length, step: i, sigma: this.sigmas[i + 1]!, cNoise: c(this.sigmas[i + 1]!) });
      }
    }
    this.timesteps = ts;
    return this;
  }

  /** The starting sample latents·σ₀ (latents `[batch, ...dims]` standard normals). */
  initNoise(latents: tf.Tensor): tf.Tensor {
    assertSamples('diffusion.DiffusionScheduler.initNoise', 'latents', latents);
    this.requireTimesteps('initNoise');
    return tf.mul(latents, this.sigmas[0]!);
  }

  /** The network input c_in(σ)·x. */
  scaleModelInput(sample: tf.Tensor, t: SchedulerTimestep): tf.Tensor {
    return tf.mul(sample, this.formulation.precond.coefficients(t.sigma).cIn);
  }

  /** D(x; σ) from the model output, by `predictionType`. */
  denoised(modelOutput: tf.Tensor, t: SchedulerTimestep, sample: tf.Tensor): tf.Tensor {
    const s = t.sigma;
    return tf.tidy(() => {
      switch (this.predictionType) {
        case 'precond': {
          const c = this.formulation.precond.coefficients(s);
          return tf.add(tf.mul(sample, c.cSkip), tf.mul(modelOutput, c.cOut));
        }
        case 'epsilon':
          return tf.sub(sample, tf.mul(modelOutput, s));
        case 'sample':
          return tf.clone(modelOutput);
        case 'v':
          // v = α ε − σ_vp x₀ on x_vp = x̂/√(1 + σ²): x₀ = x̂/(1 + σ²) − σ/√(1 + σ²)·v.
          return tf.sub(tf.mul(sample, 1 / (1 + s * s)), tf.mul(modelOutput, s / Math.sqrt(1 + s * s)));
      }
    });
  }

  /**
   * Advances by one model evaluation. Returns the next sample and D. Heun's first call of a step returns the Euler
   * predictor (evaluate the model there next); the second returns the corrected sample.
   */
  step(
    modelOutput: tf.Tensor,
    t: SchedulerTimestep,
    sample: tf.Tensor,
  ): { prevSample: tf.Tensor; denoised: tf.Tensor } {
    const fn = 'diffusion.DiffusionScheduler.step';
    this.requireTimesteps('step');
    if (this.timesteps[t.index] !== t) {
      throw new ValueError(argumentMessage(fn, 't', 'an entry of scheduler.timesteps', JSON.stringify(t)));
    }
    checkOutput(fn, 'modelOutput', modelOutput, sample.shape);
    const denoised = this.denoised(modelOutput, t, sample);
    const i = t.step;
    const s = this.sigmas;
    const prevSample = tf.tidy(() => {
      const d = tf.div(tf.sub(sample, denoised), t.sigma);
      switch (this.solver) {
        case 'euler':
          return tf.add(sample, tf.mul(d, s[i + 1]! - s[i]!));
        case 'heun': {
          if (this.pending === null) {
            const next = tf.add(sample, tf.mul(d, s[i + 1]! - s[i]!));
            if (s[i + 1]! > 0) this.pending = { x: tf.keep(tf.clone(sample)), d: tf.keep(d) };
            return next;
          }
          const { x, d: d0 } = this.pending;
          this.pending = null;
          const out = tf.add(x, tf.mul(tf.add(d0, d), (s[i + 1]! - s[i]!) / 2));
          x.dispose();
          d0.dispose();
          return out;
        }
        case 'euler-ancestral': {
          const { sigmaDown, sigmaUp } = ancestralStep(s[i]!, s[i + 1]!, this.eta);
          let next = tf.add(sample, tf.mul(d, sigmaDown - s[i]!));
          if (s[i + 1]! > 0)
            next = tf.add(next, tf.mul(this.randn(sample.shape.slice(), this.calls++), sigmaUp));
          return next;
        }
        default: {
          const h = Math.log(s[i]!) - Math.log(s[i + 1]!);
          const phi = -Math.expm1(-h);
          let dd: tf.Tensor = denoised;
          if (this.oldDenoised && s[i + 1]! > 0) {
            const r = (Math.log(s[i - 1]!) - Math.log(s[i]!)) / h;
            dd = tf.sub(tf.mul(denoised, 1 + 1 / (2 * r)), tf.mul(this.oldDenoised, 1 / (2 * r)));
          }
          this.oldDenoised?.dispose();
          this.oldDenoised = tf.keep(tf.clone(denoised));
          return tf.add(tf.mul(sample, s[i + 1]! / s[i]!), tf.mul(dd, phi));
        }
      }
    });
    return { prevSample, denoised };
  }

  /** Releases the scheduler's internal tensors (Heun / 2M history). */
  reset(): void {
    this.pending?.x.dispose();
    this.pending?.d.dispose();
    this.pending = null;
    this.oldDenoised?.dispose();
    this.oldDenoised = null;
    this.calls = 0;
  }

  private requireTimesteps(method: string): void {
    if (this.timesteps.length === 0) {
      throw new ValueError(`diffusion.DiffusionScheduler.${method}: call setTimesteps(numSteps) first`);
    }
  }
}
