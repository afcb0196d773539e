/**
 * The samplers of Karras et al. 2022 (NVlabs/edm `generate.py`): `edm_sampler` (Algorithm 2) and
 * `ablation_sampler` (the generalised sampler of Algorithm 1 + 2 used for the paper's Figure 2 and Table 2).
 */

import { assertInteger, assertKnownOptions, assertNumber, assertOneOf, type Rng } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { iddpmLevels, vpSigma, vpSigmaInv } from './precond.js';
import type { Denoiser, NoiseFn, StepCallback } from './types.js';
import { assertFunction, assertSamples, denoise, noiseSource, release } from './util.js';

export interface EdmSamplerOptions {
  numSteps?: number;
  sigmaMin?: number;
  sigmaMax?: number;
  rho?: number;
  sChurn?: number;
  sMin?: number;
  sMax?: number;
  sNoise?: number;
  /** Injected standard normals: `noise(shape, step)` is drawn once per step (as `randn_like` in the reference). */
  noise?: NoiseFn;
  rng?: Rng;
  callback?: StepCallback;
}

const EDM_KEYS = [
  'numSteps',
  'sigmaMin',
  'sigmaMax',
  'rho',
  'sChurn',
  'sMin',
  'sMax',
  'sNoise',
  'noise',
  'rng',
  'callback',
];

/**
 * The EDM time steps (Karras et al. 2022, eq. 5): tᵢ = (σmax^(1/ρ) + i/(N−1)(σmin^(1/ρ) − σmax^(1/ρ)))^ρ, rounded by
 * the denoiser's `roundSigma`, then t_N = 0. Returns `[numSteps + 1]`.
 */
export function edmTimeSteps(
  numSteps: number,
  sigmaMin: number,
  sigmaMax: number,
  rho: number,
  round: (s: number) => number = (s) => s,
): Float64Array {
  const out = new Float64Array(numSteps + 1);
  const hi = sigmaMax ** (1 / rho);
  const lo = sigmaMin ** (1 / rho);
  for (let i = 0; i < numSteps; i++)
    out[i] = round((hi + (numSteps === 1 ? 0 : i / (numSteps - 1)) * (lo - hi)) ** rho);
  return out;
}

/**
 * Karras et al. 2022, Algorithm 2 (NVlabs/edm `edm_sampler`): Heun's 2nd-order method on the probability-flow ODE
 * dx/dσ = (x − D(x; σ))/σ, with optional stochastic churn (γ = min(S_churn/N, √2 − 1) for σ in [S_min, S_max]).
 *
 * - latents: `[batch, ...dims]` standard normals; x₀ = latents·σ₀.
 * - returns `[batch, ...dims]`, the samples at σ = 0. NFE = 2N − 1.
 */
export function edmSampler(
  denoiser: Denoiser,
  latents: tf.Tensor,
  options: EdmSamplerOptions = {},
): tf.Tensor {
  const fn = 'diffusion.edmSampler';
  assertFunction(fn, 'denoiser', denoiser);
  assertSamples(fn, 'latents', latents);
  assertKnownOptions(fn, options, EDM_KEYS);
  const { numSteps = 18, rho = 7, sChurn = 0, sMin = 0, sMax = Infinity, sNoise = 1, callback } = options;
  assertInteger(fn, 'options.numSteps', numSteps, 1);
  assertNumber(fn, 'options.rho', rho, { exclusiveMin: 0 });
  assertNumber(fn, 'options.sChurn', sChurn, { min: 0 });
  assertNumber(fn, 'options.sMin', sMin, { min: 0 });
  assertNumber(fn, 'options.sMax', sMax, { min: 0, finite: false });
  assertNumber(fn, 'options.sNoise', sNoise, { min: 0 });
  const sigmaMin = Math.max(options.sigmaMin ?? 0.002, denoiser.sigmaMin ?? 0);
  const sigmaMax = Math.min(options.sigmaMax ?? 80, denoiser.sigmaMax ?? Infinity);
  assertNumber(fn, 'options.sigmaMin', sigmaMin, { exclusiveMin: 0 });
  assertNumber(fn, 'options.sigmaMax', sigmaMax, { exclusiveMin: sigmaMin });
  if (callback !== undefined) assertFunction(fn, 'options.callback', callback);
  const randn = noiseSource(fn, options.noise, options.rng);
  const round = denoiser.roundSigma ?? ((s: number) => s);
  const t = edmTimeSteps(numSteps, sigmaMin, sigmaMax, rho, round);

  const shape = latents.shape.slice();
  let x = tf.tidy(() => tf.mul(latents, t[0]!));
  for (let i = 0; i < numSteps; i++) {
    const tCur = t[i]!;
    const tNext = t[i + 1]!;
    const xCur = x;
    x = tf.tidy(() => {
      const gamma = sMin <= tCur && tCur <= sMax ? Math.min(sChurn / numSteps, Math.SQRT2 - 1) : 0;
      const tHat = round(tCur + gamma * tCur);
      const z = randn(shape, i);
      const xHat = tf.add(xCur, tf.mul(z, Math.sqrt(tHat * tHat - tCur * tCur) * sNoise));
      const denoised = denoise(fn, denoiser, xHat, tHat);
      const dCur = tf.div(tf.sub(xHat, denoised), tHat);
      callback?.({ i, x: xCur, sigma: tCur, sigmaHat: tHat, denoised });
      let xNext = tf.add(xHat, tf.mul(dCur, tNext - tHat));
      if (i < numSteps - 1) {
        const denoised2 = denoise(fn, denoiser, xNext, tNext);
        const dPrime = tf.div(tf.sub(xNext, denoised2), tNext);
        xNext = tf.add(xHat, tf.mul(tf.add(dCur, dPrime), 0.5 * (tNext - tHat)));
      }
      return xNext;
    });
    release(xCur, [latents]);
  }
  return x;
}

export interface AblationSamplerOptions extends EdmSamplerOptions {
  solver?: 'euler' | 'heun';
  discretization?: 'vp' | 've' | 'iddpm' | 'edm';
  schedule?: 'vp' | 've' | 'linear';
  scaling?: 'vp' | 'none';
  epsilonS?: number;
  C1?: number;
  C2?: number;
  M?: number;
  alpha?: number;
}

const ABLATION_KEYS = [
  ...EDM_KEYS,
  'solver',
  'discretization',
  'schedule',
  'scaling',
  'epsilonS',
  'C1',
  'C2',
  'M',
  'alpha',
];

/** The σ levels of the ablation sampler's four discretizations (before rounding), `[numSteps]`. */
export function ablationSigmaSteps(
  discretization: 'vp' | 've' | 'iddpm' | 'edm',
  numSteps: number,
  sigmaMin: number,
  sigmaMax: number,
  opts: { rho?: number; epsilonS?: number; C1?: number; C2?: number; M?: number } = {},
): Float64Array {
  const { rho = 7, epsilonS = 1e-3, C1 = 0.001, C2 = 0.008, M = 1000 } = opts;
  const out = new Float64Array(numSteps);
  const frac = (i: number) => (numSteps === 1 ? 0 : i / (numSteps - 1));
  if (discretization === 'vp') {
    const { betaD, betaMin } = vpBetas(sigmaMin, sigmaMax, epsilonS);
    for (let i = 0; i < numSteps; i++) out[i] = vpSigma(1 + frac(i) * (epsilonS - 1), betaD, betaMin);
  } else if (discretization === 've') {
    for (let i = 0; i < numSteps; i++)
      out[i] = Math.sqrt(sigmaMax ** 2 * (sigmaMin ** 2 / sigmaMax ** 2) ** frac(i));
  } else if (discretization === 'iddpm') {
    const u = iddpmLevels(M, C1, C2);
    const kept = Array.from(u).filter((v) => v >= sigmaMin && v <= sigmaMax);
    // torch.round rounds half to even.
    for (let i = 0; i < numSteps; i++)
      out[i] = kept[roundHalfEven(((kept.length - 1) / (numSteps - 1 || 1)) * i)]!;
  } else {
    for (let i = 0; i < numSteps; i++)
      out[i] = (sigmaMax ** (1 / rho) + frac(i) * (sigmaMin ** (1 / rho) - sigmaMax ** (1 / rho))) ** rho;
  }
  return out;
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** β_d, β_min of the VP schedule whose σ(ε_s) = σmin and σ(1) = σmax (`ablation_sampler`). */
export function vpBetas(
  sigmaMin: number,
  sigmaMax: number,
  epsilonS: number,
): { betaD: number; betaMin: number } {
  const betaD = (2 * (Math.log(sigmaMin ** 2 + 1) / epsilonS - Math.log(sigmaMax ** 2 + 1))) / (epsilonS - 1);
  const betaMin = Math.log(sigmaMax ** 2 + 1) - 0.5 * betaD;
  return { betaD, betaMin };
}

/**
 * Karras et al. 2022, Algorithm 1 generalised (NVlabs/edm `ablation_sampler`): the ODE
 * dx/dt = (σ'(t)/σ(t) + s'(t)/s(t))·x − σ'(t)s(t)/σ(t)·D(x/s(t); σ(t)) solved by Euler or Heun (with α), on any
 * time-step discretization (VP, VE, iDDPM, EDM), σ(t) schedule (VP, VE, linear) and scaling s(t) (VP, none).
 * Figure 2's configurations: VP = (euler, vp, vp, vp), VE = (euler, ve, ve, none), iDDPM+DDIM = (euler, iddpm,
 * linear, none), EDM = (heun, edm, linear, none).
 *
 * - latents: `[batch, ...dims]`; returns `[batch, ...dims]`.
 */
export function ablationSampler(
  denoiser: Denoiser,
  latents: tf.Tensor,
  options: AblationSamplerOptions = {},
): tf.Tensor {
  const fn = 'diffusion.ablationSampler';
  assertFunction(fn, 'denoiser', denoiser);
  assertSamples(fn, 'latents', latents);
  assertKnownOptions(fn, options, ABLATION_KEYS);
  const {
    numSteps = 18,
    rho = 7,
    solver = 'heun',
    discretization = 'edm',
    schedule = 'linear',
    scaling = 'none',
    epsilonS = 1e-3,
    C1 = 0.001,
    C2 = 0.008,
    M = 1000,
    alpha = 1,
    sChurn = 0,
    sMin = 0,
    sMax = Infinity,
    sNoise = 1,
    callback,
  } = options;
  assertOneOf(fn, 'options.solver', solver, ['euler', 'heun'] as const);
  assertOneOf(fn, 'options.discretization', discretization, ['vp', 've', 'iddpm', 'edm'] as const);
  assertOneOf(fn, 'options.schedule', schedule, ['vp', 've', 'linear'] as const);
  assertOneOf(fn, 'options.scaling', scaling, ['vp', 'none'] as const);
  assertInteger(fn, 'options.numSteps', numSteps, 1);
  assertNumber(fn, 'options.rho', rho, { exclusiveMin: 0 });
  assertNumber(fn, 'options.epsilonS', epsilonS, { exclusiveMin: 0, max: 1 });
  assertNumber(fn, 'options.C1', C1, { exclusiveMin: 0 });
  assertNumber(fn, 'options.C2', C2, { min: 0 });
  assertInteger(fn, 'options.M', M, 1);
  assertNumber(fn, 'options.alpha', alpha, { exclusiveMin: 0 });
  assertNumber(fn, 'options.sChurn', sChurn, { min: 0 });
  assertNumber(fn, 'options.sMin', sMin, { min: 0 });
  assertNumber(fn, 'options.sMax', sMax, { min: 0, finite: false });
  assertNumber(fn, 'options.sNoise', sNoise, { min: 0 });
  if (callback !== undefined) assertFunction(fn, 'options.callback', callback);
  const randn = noiseSource(fn, options.noise, options.rng);
  const round = denoiser.roundSigma ?? ((s: number) => s);

  const defMin = { vp: vpSigma(epsilonS, 19.9, 0.1), ve: 0.02, iddpm: 0.002, edm: 0.002 }[discretization];
  const defMax = { vp: vpSigma(1, 19.9, 0.1), ve: 100, iddpm: 81, edm: 80 }[discretization];
  const sigmaMin = Math.max(options.sigmaMin ?? defMin, denoiser.sigmaMin ?? 0);
  const sigmaMax = Math.min(options.sigmaMax ?? defMax, denoiser.sigmaMax ?? Infinity);
  assertNumber(fn, 'options.sigmaMin', sigmaMin, { exclusiveMin: 0 });
  assertNumber(fn, 'options.sigmaMax', sigmaMax, { exclusiveMin: sigmaMin });
  const { betaD, betaMin } = vpBetas(sigmaMin, sigmaMax, epsilonS);

  const sigmaSteps = ablationSigmaSteps(discretization, numSteps, sigmaMin, sigmaMax, {
    rho,
    epsilonS,
    C1,
    C2,
    M,
  });

  // σ(t), σ'(t), σ⁻¹ of the schedule; s(t), s'(t) of the scaling.
  let sigma: (t: number) => number;
  let sigmaDeriv: (t: number) => number;
  let sigmaInv: (s: number) => number;
  if (schedule === 'vp') {
    sigma = (t) => vpSigma(t, betaD, betaMin);
    sigmaDeriv = (t) => 0.5 * (betaMin + betaD * t) * (sigma(t) + 1 / sigma(t));
    sigmaInv = (s) => vpSigmaInv(s, betaD, betaMin);
  } else if (schedule === 've') {
    sigma = (t) => Math.sqrt(t);
    sigmaDeriv = (t) => 0.5 / Math.sqrt(t);
    sigmaInv = (s) => s * s;
  } else {
    sigma = (t) => t;
    sigmaDeriv = () => 1;
    sigmaInv = (s) => s;
  }
  const s = scaling === 'vp' ? (t: number) => 1 / Math.sqrt(1 + sigma(t) ** 2) : () => 1;
  const sDeriv = scaling === 'vp' ? (t: number) => -sigma(t) * sigmaDeriv(t) * s(t) ** 3 : () => 0;

  const tSteps = new Float64Array(numSteps + 1);
  for (let i = 0; i < numSteps; i++) tSteps[i] = sigmaInv(round(sigmaSteps[i]!));

  return runScaledSampler(fn, denoiser, latents, { sigma, sigmaDeriv, sigmaInv, s, sDeriv }, tSteps, {
    solver,
    alpha,
    sChurn,
    sMin,
    sMax,
    sNoise,
    randn,
    round,
    callback,
  });
}

/** σ(t), σ'(t), σ⁻¹(σ), s(t), s'(t) of a sampling formulation (Karras et al. 2022, Table 1). */
export interface TimeSchedule {
  sigma: (t: number) => number;
  sigmaDeriv: (t: number) => number;
  sigmaInv: (sigma: number) => number;
  s: (t: number) => number;
  sDeriv: (t: number) => number;
}

/**
 * The loop of `ablation_sampler` for a given schedule and time steps `tSteps` `[numSteps + 1]` (last = 0): Euler or
 * Heun (with α) on dx/dt = (σ'/σ + s'/s)·x − σ's/σ·D(x/s; σ), with optional churn. latents `[batch, ...dims]`.
 */
export function runScaledSampler(
  fn: string,
  denoiser: Denoiser,
  latents: tf.Tensor,
  sched: TimeSchedule,
  tSteps: Float64Array,
  o: {
    solver: 'euler' | 'heun';
    alpha: number;
    sChurn: number;
    sMin: number;
    sMax: number;
    sNoise: number;
    randn: NoiseFn;
    round: (s: number) => number;
    callback?: StepCallback | undefined;
  },
): tf.Tensor {
  const { sigma, sigmaDeriv, sigmaInv, s, sDeriv } = sched;
  const { solver, alpha, sChurn, sMin, sMax, sNoise, randn, round, callback } = o;
  const numSteps = tSteps.length - 1;
  const shape = latents.shape.slice();
  // dx/dt at (x, t) given D = denoised: (σ'/σ + s'/s)·x − σ'·s/σ·D.
  const deriv = (x: tf.Tensor, t: number, denoised: tf.Tensor) =>
    tf.sub(
      tf.mul(x, sigmaDeriv(t) / sigma(t) + sDeriv(t) / s(t)),
      tf.mul(denoised, (sigmaDeriv(t) * s(t)) / sigma(t)),
    );

  let x = tf.tidy(() => tf.mul(latents, sigma(tSteps[0]!) * s(tSteps[0]!)));
  for (let i = 0; i < numSteps; i++) {
    const tCur = tSteps[i]!;
    const tNext = tSteps[i + 1]!;
    const xCur = x;
    x = tf.tidy(() => {
      const sc = sigma(tCur);
      const gamma = sMin <= sc && sc <= sMax ? Math.min(sChurn / numSteps, Math.SQRT2 - 1) : 0;
      const tHat = sigmaInv(round(sc + gamma * sc));
      const z = randn(shape, i);
      const xHat = tf.add(
        tf.mul(xCur, s(tHat) / s(tCur)),
        tf.mul(z, Math.sqrt(Math.max(sigma(tHat) ** 2 - sc ** 2, 0)) * s(tHat) * sNoise),
      );
      const h = tNext - tHat;
      const denoised = denoise(fn, denoiser, tf.div(xHat, s(tHat)), sigma(tHat));
      callback?.({ i, x: xCur, sigma: sc, sigmaHat: sigma(tHat), denoised });
      const dCur = deriv(xHat, tHat, denoised);
      if (solver === 'euler' || i === numSteps - 1) return tf.add(xHat, tf.mul(dCur, h));
      const tPrime = tHat + alpha * h;
      const xPrime = tf.add(xHat, tf.mul(dCur, alpha * h));
      const denoised2 = denoise(fn, denoiser, tf.div(xPrime, s(tPrime)), sigma(tPrime));
      const dPrime = deriv(xPrime, tPrime, denoised2);
      return tf.add(
        xHat,
        tf.mul(tf.add(tf.mul(dCur, 1 - 1 / (2 * alpha)), tf.mul(dPrime, 1 / (2 * alpha))), h),
      );
    });
    release(xCur, [latents]);
  }
  return x;
}
