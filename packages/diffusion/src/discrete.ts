/**
 * Discrete-time diffusion (Ho et al. 2020, DDPM; Song et al. 2021, DDIM; Nichol & Dhariwal 2021, cosine schedule)
 * expressed with the EDM denoiser: x_t = √ᾱ_t·(x₀ + σ_t·ε) with σ_t = √((1 − ᾱ_t)/ᾱ_t), so D(x_t/√ᾱ_t; σ_t)
 * predicts x₀ and ε̂ = (x_t − √ᾱ_t·x₀̂)/√(1 − ᾱ_t).
 */

import {
  argumentMessage,
  assertInteger,
  assertKnownOptions,
  assertNumber,
  assertOneOf,
  type Rng,
  ValueError,
} from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser, NoiseFn, StepCallback } from './types.js';
import { assertFunction, assertSamples, denoise, noiseSource, release } from './util.js';

/**
 * β schedules with T steps: 'linear' (Ho et al. 2020: linspace(β₁ = 1e-4, β_T = 0.02, T)) or 'cosine'
 * (Nichol & Dhariwal 2021: ᾱ(t) = cos²((t/T + s)/(1 + s)·π/2), β clipped at 0.999). `[T]`.
 */
export function betaSchedule(
  kind: 'linear' | 'cosine',
  T = 1000,
  options: { betaStart?: number; betaEnd?: number; s?: number; maxBeta?: number } = {},
): Float64Array {
  const fn = 'diffusion.betaSchedule';
  assertOneOf(fn, 'kind', kind, ['linear', 'cosine'] as const);
  assertInteger(fn, 'T', T, 1);
  assertKnownOptions(fn, options, ['betaStart', 'betaEnd', 's', 'maxBeta']);
  const { betaStart = 1e-4, betaEnd = 0.02, s = 0.008, maxBeta = 0.999 } = options;
  const betas = new Float64Array(T);
  if (kind === 'linear') {
    for (let i = 0; i < T; i++) betas[i] = betaStart + (T === 1 ? 0 : ((betaEnd - betaStart) * i) / (T - 1));
  } else {
    const f = (t: number) => Math.cos(((t / T + s) / (1 + s)) * (Math.PI / 2)) ** 2;
    for (let i = 0; i < T; i++) betas[i] = Math.min(1 - f(i + 1) / f(i), maxBeta);
  }
  return betas;
}

/** ᾱ_t = Π_{i≤t}(1 − β_i), `[T]`. */
export function alphasCumprod(betas: ArrayLike<number>): Float64Array {
  const out = new Float64Array(betas.length);
  let p = 1;
  for (let i = 0; i < betas.length; i++) {
    p *= 1 - betas[i]!;
    out[i] = p;
  }
  return out;
}

/** σ_t = √((1 − ᾱ_t)/ᾱ_t): the EDM noise level of a discrete step. */
export function discreteSigma(alphaBar: number): number {
  return Math.sqrt((1 - alphaBar) / alphaBar);
}

function resolveBetas(fn: string, schedule: unknown, T: number): Float64Array {
  if (schedule === 'linear' || schedule === 'cosine') return betaSchedule(schedule, T);
  if (schedule instanceof Float64Array || schedule instanceof Float32Array || Array.isArray(schedule)) {
    const b = Float64Array.from(schedule as ArrayLike<number>);
    b.forEach((v, i) => {
      if (!(v > 0 && v < 1))
        throw new ValueError(argumentMessage(fn, `options.schedule[${i}]`, 'a β in (0, 1)', String(v)));
    });
    return b;
  }
  throw new ValueError(
    argumentMessage(fn, 'options.schedule', "'linear', 'cosine' or an array of β", String(schedule)),
  );
}

/**
 * The DDIM sub-sequence of S of T steps, descending: 'leading' (diffusers: (0..S−1)·⌊T/S⌋), 'trailing'
 * (round(T − k·T/S) − 1) or 'linspace' (round(linspace(0, T − 1, S))).
 */
export function ddimTimesteps(
  T: number,
  S: number,
  spacing: 'leading' | 'trailing' | 'linspace' = 'leading',
): Int32Array {
  const fn = 'diffusion.ddimTimesteps';
  assertInteger(fn, 'T', T, 1);
  assertInteger(fn, 'numSteps', S, 1, T);
  assertOneOf(fn, 'spacing', spacing, ['leading', 'trailing', 'linspace'] as const);
  const out = new Int32Array(S);
  for (let k = 0; k < S; k++) {
    if (spacing === 'leading') out[k] = (S - 1 - k) * Math.floor(T / S);
    else if (spacing === 'trailing') out[k] = Math.round(T - (k * T) / S) - 1;
    else out[k] = Math.round(S === 1 ? 0 : ((T - 1) * (S - 1 - k)) / (S - 1));
  }
  return out;
}

export interface DiscreteSamplerOptions {
  /** 'linear' | 'cosine' (T steps) or explicit β `[T]`. Default 'linear'. */
  schedule?: 'linear' | 'cosine' | ArrayLike<number>;
  T?: number;
  noise?: NoiseFn;
  rng?: Rng;
  callback?: StepCallback;
}

/**
 * Ho et al. 2020, Algorithm 2 (ancestral sampling): x_{t−1} = μ̃_t(x_t, x̂₀) + σ_t z over all T steps, with
 * μ̃ = √ᾱ_{t−1}β_t/(1 − ᾱ_t)·x̂₀ + √α_t(1 − ᾱ_{t−1})/(1 − ᾱ_t)·x_t and σ_t² = β̃_t ('fixed-small') or β_t
 * ('fixed-large'). latents `[batch, ...dims]` = x_T ~ N(0, I); returns x₀. One noise draw per step t > 0.
 */
export function ddpmSampler(
  denoiser: Denoiser,
  latents: tf.Tensor,
  options: DiscreteSamplerOptions & { variance?: 'fixed-small' | 'fixed-large'; clipDenoised?: number } = {},
): tf.Tensor {
  const fn = 'diffusion.ddpmSampler';
  assertFunction(fn, 'denoiser', denoiser);
  assertSamples(fn, 'latents', latents);
  assertKnownOptions(fn, options, ['schedule', 'T', 'noise', 'rng', 'callback', 'variance', 'clipDenoised']);
  const { T = 1000, variance = 'fixed-small', clipDenoised } = options;
  assertInteger(fn, 'options.T', T, 1);
  assertOneOf(fn, 'options.variance', variance, ['fixed-small', 'fixed-large'] as const);
  if (clipDenoised !== undefined) assertNumber(fn, 'options.clipDenoised', clipDenoised, { exclusiveMin: 0 });
  const betas = resolveBetas(fn, options.schedule ?? 'linear', T);
  const ab = alphasCumprod(betas);
  const randn = noiseSource(fn, options.noise, options.rng);
  const shape = latents.shape.slice();
  let x = latents;
  for (let t = betas.length - 1; t >= 0; t--) {
    const prev = x;
    x = tf.tidy(() => {
      const abT = ab[t]!;
      const abPrev = t > 0 ? ab[t - 1]! : 1;
      const sigma = discreteSigma(abT);
      let x0 = denoise(fn, denoiser, tf.div(prev, Math.sqrt(abT)), sigma);
      if (clipDenoised !== undefined) x0 = tf.clipByValue(x0, -clipDenoised, clipDenoised);
      options.callback?.({ i: betas.length - 1 - t, x: prev, sigma, sigmaHat: sigma, denoised: x0 });
      const c0 = (Math.sqrt(abPrev) * betas[t]!) / (1 - abT);
      const ct = (Math.sqrt(1 - betas[t]!) * (1 - abPrev)) / (1 - abT);
      const mean = tf.add(tf.mul(x0, c0), tf.mul(prev, ct));
      if (t === 0) return mean;
      const v = variance === 'fixed-small' ? ((1 - abPrev) / (1 - abT)) * betas[t]! : betas[t]!;
      return tf.add(mean, tf.mul(randn(shape, betas.length - 1 - t), Math.sqrt(v)));
    });
    release(prev, [latents]);
  }
  return x === latents ? tf.clone(latents) : x;
}

/**
 * Song et al. 2021 (DDIM), eq. 12: x_{t'} = √ᾱ_{t'}·x̂₀ + √(1 − ᾱ_{t'} − σ_η²)·ε̂ + σ_η z with
 * σ_η = η·√((1 − ᾱ_{t'})/(1 − ᾱ_t))·√(1 − ᾱ_t/ᾱ_{t'}); the last step goes to ᾱ = 1. With η = 0 it is Euler's
 * method on the probability-flow ODE in σ (Karras et al. 2022, Section 3). latents `[batch, ...dims]` = x_T.
 */
export function ddimSampler(
  denoiser: Denoiser,
  latents: tf.Tensor,
  options: DiscreteSamplerOptions & {
    numSteps?: number;
    eta?: number;
    spacing?: 'leading' | 'trailing' | 'linspace';
  } = {},
): tf.Tensor {
  const fn = 'diffusion.ddimSampler';
  assertFunction(fn, 'denoiser', denoiser);
  assertSamples(fn, 'latents', latents);
  assertKnownOptions(fn, options, [
    'schedule',
    'T',
    'noise',
    'rng',
    'callback',
    'numSteps',
    'eta',
    'spacing',
  ]);
  const { T = 1000, numSteps = 50, eta = 0, spacing = 'leading' } = options;
  assertInteger(fn, 'options.T', T, 1);
  assertNumber(fn, 'options.eta', eta, { min: 0 });
  const betas = resolveBetas(fn, options.schedule ?? 'linear', T);
  const ab = alphasCumprod(betas);
  const steps = ddimTimesteps(betas.length, numSteps, spacing);
  const randn = noiseSource(fn, options.noise, options.rng);
  const shape = latents.shape.slice();
  let x = latents;
  for (let k = 0; k < steps.length; k++) {
    const prev = x;
    x = tf.tidy(() => {
      const abT = ab[steps[k]!]!;
      const abPrev = k + 1 < steps.length ? ab[steps[k + 1]!]! : 1;
      const sigma = discreteSigma(abT);
      const x0 = denoise(fn, denoiser, tf.div(prev, Math.sqrt(abT)), sigma);
      options.callback?.({ i: k, x: prev, sigma, sigmaHat: sigma, denoised: x0 });
      const epsHat = tf.div(tf.sub(prev, tf.mul(x0, Math.sqrt(abT))), Math.sqrt(1 - abT));
      const sEta = eta * Math.sqrt((1 - abPrev) / (1 - abT)) * Math.sqrt(1 - abT / abPrev);
      let next = tf.add(
        tf.mul(x0, Math.sqrt(abPrev)),
        tf.mul(epsHat, Math.sqrt(Math.max(1 - abPrev - sEta * sEta, 0))),
      );
      if (eta > 0) next = tf.add(next, tf.mul(randn(shape, k), sEta));
      return next;
    });
    release(prev, [latents]);
  }
  return x === latents ? tf.clone(latents) : x;
}

/** σ of each DDIM step, then 0: `[numSteps + 1]`, for comparing DDIM(η = 0) with Euler in σ. */
export function ddimSigmas(
  options: {
    schedule?: 'linear' | 'cosine' | ArrayLike<number>;
    T?: number;
    numSteps?: number;
    spacing?: 'leading' | 'trailing' | 'linspace';
  } = {},
): Float64Array {
  const { T = 1000, numSteps = 50, spacing = 'leading' } = options;
  const ab = alphasCumprod(resolveBetas('diffusion.ddimSigmas', options.schedule ?? 'linear', T));
  const steps = ddimTimesteps(ab.length, numSteps, spacing);
  return Float64Array.from([...Array.from(steps, (t) => discreteSigma(ab[t]!)), 0]);
}
