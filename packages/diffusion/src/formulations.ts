/**
 * The formulations of Karras et al. 2022, Table 1 — VP (DDPM++), VE (NCSN++), iDDPM, EDM — and flow matching
 * (Lipman et al. 2023, x_t = (1 − t)x₀ + tε), as objects with one interface: σ(t), s(t), their derivatives and
 * inverse, the sampling time steps, the training-σ distribution p_train(σ), the loss weight λ(σ) and the
 * preconditioning.
 */

import {
  assertInteger,
  assertKnownOptions,
  assertNumber,
  assertOneOf,
  createRng,
  type Rng,
} from '@lab/tensor';
import type * as tf from '@tensorflow/tfjs-core';
import { ablationSigmaSteps, runScaledSampler, type TimeSchedule } from './edm.js';
import {
  edmPrecond,
  flowPrecond,
  iddpmLevels,
  iddpmPrecond,
  type Preconditioning,
  vePrecond,
  vpPrecond,
  vpSigma,
  vpSigmaInv,
} from './precond.js';
import type { Denoiser, NoiseFn, StepCallback } from './types.js';
import { assertFunction, assertSamples, noiseSource } from './util.js';

/** One formulation of the design space. */
export interface Formulation extends TimeSchedule {
  readonly name: 'vp' | 've' | 'iddpm' | 'edm' | 'flow';
  /** Default sampling range of σ. */
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  /** Sampling time steps t₀ > … > t_{N−1}, then t_N = 0: `[numSteps + 1]`. */
  timeSteps(numSteps: number): Float64Array;
  /** σ(tᵢ) of {@link timeSteps}: `[numSteps + 1]`, ends with 0 (usable by every k-diffusion sampler). */
  sigmaSteps(numSteps: number): Float64Array;
  /** n draws of σ from the training distribution p_train(σ) (float64). */
  sampleTrainingSigma(n: number, rng: Rng): Float64Array;
  /** The loss weight λ(σ). */
  lossWeight(sigma: number): number;
  /** The preconditioning (c_skip, c_out, c_in, c_noise) of the formulation's network. */
  readonly precond: Preconditioning;
}

function withSigmaSteps(f: Omit<Formulation, 'sigmaSteps'>): Formulation {
  return {
    ...f,
    sigmaSteps(n) {
      const t = f.timeSteps(n);
      return Float64Array.from(t, (v, i) => (i === t.length - 1 ? 0 : f.sigma(v)));
    },
  };
}

/**
 * VP (Song et al. 2021; EDM Table 1): σ(t) = √(e^{½β_d t² + β_min t} − 1), s(t) = 1/√(1 + σ²), tᵢ = 1 + i/(N−1)(ε_s − 1),
 * training t ~ U(ε_t, 1), λ = 1/σ².
 */
export function vpFormulation(
  options: { betaD?: number; betaMin?: number; epsilonS?: number; epsilonT?: number; M?: number } = {},
): Formulation {
  const fn = 'diffusion.vpFormulation';
  assertKnownOptions(fn, options, ['betaD', 'betaMin', 'epsilonS', 'epsilonT', 'M']);
  const { betaD = 19.9, betaMin = 0.1, epsilonS = 1e-3, epsilonT = 1e-5, M = 1000 } = options;
  assertNumber(fn, 'options.betaD', betaD, { exclusiveMin: 0 });
  assertNumber(fn, 'options.betaMin', betaMin, { min: 0 });
  assertNumber(fn, 'options.epsilonS', epsilonS, { exclusiveMin: 0, max: 1 });
  assertNumber(fn, 'options.epsilonT', epsilonT, { exclusiveMin: 0, max: 1 });
  const sigma = (t: number) => vpSigma(t, betaD, betaMin);
  const sigmaDeriv = (t: number) => 0.5 * (betaMin + betaD * t) * (sigma(t) + 1 / sigma(t));
  const s = (t: number) => 1 / Math.sqrt(1 + sigma(t) ** 2);
  return withSigmaSteps({
    name: 'vp',
    sigma,
    sigmaDeriv,
    sigmaInv: (v) => vpSigmaInv(v, betaD, betaMin),
    s,
    sDeriv: (t) => -sigma(t) * sigmaDeriv(t) * s(t) ** 3,
    sigmaMin: sigma(epsilonS),
    sigmaMax: sigma(1),
    timeSteps(n) {
      checkN(fn, n);
      const t = new Float64Array(n + 1);
      for (let i = 0; i < n; i++) t[i] = 1 + (n === 1 ? 0 : i / (n - 1)) * (epsilonS - 1);
      return t;
    },
    sampleTrainingSigma: (n, rng) =>
      Float64Array.from(rng.uniformData(n), (u) => sigma(1 + u * (epsilonT - 1))),
    lossWeight: (v) => 1 / (v * v),
    precond: vpPrecond({ betaD, betaMin, M, epsilonT }),
  });
}

/** VE (Song et al. 2021; EDM Table 1): σ(t) = √t, s = 1, tᵢ = σmax²(σmin²/σmax²)^{i/(N−1)}, ln σ ~ U, λ = 1/σ². */
export function veFormulation(options: { sigmaMin?: number; sigmaMax?: number } = {}): Formulation {
  const fn = 'diffusion.veFormulation';
  assertKnownOptions(fn, options, ['sigmaMin', 'sigmaMax']);
  const { sigmaMin = 0.02, sigmaMax = 100 } = options;
  assertNumber(fn, 'options.sigmaMin', sigmaMin, { exclusiveMin: 0 });
  assertNumber(fn, 'options.sigmaMax', sigmaMax, { exclusiveMin: sigmaMin });
  return withSigmaSteps({
    name: 've',
    sigma: (t) => Math.sqrt(t),
    sigmaDeriv: (t) => 0.5 / Math.sqrt(t),
    sigmaInv: (v) => v * v,
    s: () => 1,
    sDeriv: () => 0,
    sigmaMin,
    sigmaMax,
    timeSteps(n) {
      checkN(fn, n);
      const sig = ablationSigmaSteps('ve', n, sigmaMin, sigmaMax);
      return Float64Array.from([...sig, 0], (v) => v * v);
    },
    sampleTrainingSigma: (n, rng) =>
      Float64Array.from(rng.uniformData(n), (u) => sigmaMin * (sigmaMax / sigmaMin) ** u),
    lossWeight: (v) => 1 / (v * v),
    precond: vePrecond({ sigmaMin, sigmaMax }),
  });
}

/** iDDPM (Nichol & Dhariwal 2021; EDM Table 1): σ(t) = t, s = 1, tᵢ = u at evenly spaced indices, σ = u_j with j ~ U{0..M−1}. */
export function iddpmFormulation(options: { C1?: number; C2?: number; M?: number } = {}): Formulation {
  const fn = 'diffusion.iddpmFormulation';
  assertKnownOptions(fn, options, ['C1', 'C2', 'M']);
  const { C1 = 0.001, C2 = 0.008, M = 1000 } = options;
  const precond = iddpmPrecond({ C1, C2, M });
  const u = iddpmLevels(M, C1, C2);
  return withSigmaSteps({
    name: 'iddpm',
    sigma: (t) => t,
    sigmaDeriv: () => 1,
    sigmaInv: (v) => v,
    s: () => 1,
    sDeriv: () => 0,
    sigmaMin: 0.002,
    sigmaMax: 81,
    timeSteps(n) {
      checkN(fn, n);
      return Float64Array.from([...ablationSigmaSteps('iddpm', n, 0.002, 81, { C1, C2, M }), 0]);
    },
    sampleTrainingSigma: (n, rng) => Float64Array.from(rng.randintData(n, 0, M), (j) => u[j]!),
    lossWeight: (v) => 1 / (v * v),
    precond,
  });
}

/**
 * EDM (Karras et al. 2022, Table 1): σ(t) = t, s = 1, eq. 5 time steps with ρ, ln σ ~ N(P_mean, P_std²),
 * λ = (σ² + σd²)/(σσd)².
 */
export function edmFormulation(
  options: {
    sigmaData?: number;
    sigmaMin?: number;
    sigmaMax?: number;
    rho?: number;
    pMean?: number;
    pStd?: number;
  } = {},
): Formulation {
  const fn = 'diffusion.edmFormulation';
  assertKnownOptions(fn, options, ['sigmaData', 'sigmaMin', 'sigmaMax', 'rho', 'pMean', 'pStd']);
  const { sigmaData = 0.5, sigmaMin = 0.002, sigmaMax = 80, rho = 7, pMean = -1.2, pStd = 1.2 } = options;
  assertNumber(fn, 'options.sigmaMin', sigmaMin, { exclusiveMin: 0 });
  assertNumber(fn, 'options.sigmaMax', sigmaMax, { exclusiveMin: sigmaMin });
  assertNumber(fn, 'options.rho', rho, { exclusiveMin: 0 });
  assertNumber(fn, 'options.pStd', pStd, { min: 0 });
  assertNumber(fn, 'options.pMean', pMean);
  return withSigmaSteps({
    name: 'edm',
    sigma: (t) => t,
    sigmaDeriv: () => 1,
    sigmaInv: (v) => v,
    s: () => 1,
    sDeriv: () => 0,
    sigmaMin,
    sigmaMax,
    timeSteps(n) {
      checkN(fn, n);
      return Float64Array.from([...ablationSigmaSteps('edm', n, sigmaMin, sigmaMax, { rho }), 0]);
    },
    sampleTrainingSigma: (n, rng) => Float64Array.from(rng.normalData(n), (z) => Math.exp(pMean + pStd * z)),
    lossWeight: (v) => (v * v + sigmaData * sigmaData) / (v * sigmaData) ** 2,
    precond: edmPrecond({ sigmaData }),
  });
}

/**
 * Flow matching / rectified flow (Lipman et al. 2023; Liu et al. 2023): x_t = (1 − t)x₀ + tε, i.e. s(t) = 1 − t,
 * σ(t) = t/(1 − t); the ODE is dx/dt = (x − D)/t (the velocity ε − x₀). Time steps uniform in t from
 * t_max = σmax/(1 + σmax) to 0; training t ~ U(0, 1) (or logit-normal), λ = ((1 + σ)/σ)² so the EDM loss equals the
 * conditional flow-matching loss ‖F − (ε − x₀)‖².
 */
export function flowMatchingFormulation(
  options: {
    sigmaMin?: number;
    sigmaMax?: number;
    timeDistribution?: 'uniform' | 'logit-normal';
    logitMean?: number;
    logitStd?: number;
  } = {},
): Formulation {
  const fn = 'diffusion.flowMatchingFormulation';
  assertKnownOptions(fn, options, ['sigmaMin', 'sigmaMax', 'timeDistribution', 'logitMean', 'logitStd']);
  const {
    sigmaMin = 0.002,
    sigmaMax = 80,
    timeDistribution = 'uniform',
    logitMean = 0,
    logitStd = 1,
  } = options;
  assertNumber(fn, 'options.sigmaMin', sigmaMin, { exclusiveMin: 0 });
  assertNumber(fn, 'options.sigmaMax', sigmaMax, { exclusiveMin: sigmaMin });
  assertOneOf(fn, 'options.timeDistribution', timeDistribution, ['uniform', 'logit-normal'] as const);
  const tMin = sigmaMin / (1 + sigmaMin);
  const tMax = sigmaMax / (1 + sigmaMax);
  return withSigmaSteps({
    name: 'flow',
    sigma: (t) => t / (1 - t),
    sigmaDeriv: (t) => 1 / (1 - t) ** 2,
    sigmaInv: (v) => v / (1 + v),
    s: (t) => 1 - t,
    sDeriv: () => -1,
    sigmaMin,
    sigmaMax,
    timeSteps(n) {
      checkN(fn, n);
      const t = new Float64Array(n + 1);
      for (let i = 0; i < n; i++) t[i] = tMax + (n === 1 ? 0 : i / (n - 1)) * (tMin - tMax);
      return t;
    },
    sampleTrainingSigma: (n, rng) => {
      const t =
        timeDistribution === 'uniform'
          ? Float64Array.from(rng.uniformData(n), (u) => Math.min(Math.max(u, 1e-5), 1 - 1e-5))
          : Float64Array.from(rng.normalData(n), (z) => 1 / (1 + Math.exp(-(logitMean + logitStd * z))));
      return t.map((v) => v / (1 - v));
    },
    lossWeight: (v) => ((1 + v) / v) ** 2,
    precond: flowPrecond(),
  });
}

function checkN(fn: string, n: number): void {
  assertInteger(fn, 'numSteps', n, 1);
}

/** The formulation by name (`'vp' | 've' | 'iddpm' | 'edm' | 'flow'`) with default settings. */
export function formulation(name: Formulation['name']): Formulation {
  assertOneOf('diffusion.formulation', 'name', name, ['vp', 've', 'iddpm', 'edm', 'flow'] as const);
  return {
    vp: vpFormulation,
    ve: veFormulation,
    iddpm: iddpmFormulation,
    edm: edmFormulation,
    flow: flowMatchingFormulation,
  }[name]();
}

/**
 * Samples with a formulation's own ODE (Karras et al. 2022, Algorithm 1 with its σ(t), s(t) and time steps):
 * Euler or Heun on dx/dt = (σ'/σ + s'/s)x − σ's/σ·D(x/s; σ). x starts at latents·σ(t₀)s(t₀) and ends at t = 0
 * (data space). latents `[batch, ...dims]`; returns `[batch, ...dims]`.
 */
export function formulationSampler(
  form: Formulation,
  denoiser: Denoiser,
  latents: tf.Tensor,
  options: {
    solver?: 'euler' | 'heun';
    numSteps?: number;
    alpha?: number;
    sChurn?: number;
    sMin?: number;
    sMax?: number;
    sNoise?: number;
    noise?: NoiseFn;
    rng?: Rng;
    callback?: StepCallback;
  } = {},
): tf.Tensor {
  const fn = 'diffusion.formulationSampler';
  assertFunction(fn, 'denoiser', denoiser);
  assertSamples(fn, 'latents', latents);
  assertKnownOptions(fn, options, [
    'solver',
    'numSteps',
    'alpha',
    'sChurn',
    'sMin',
    'sMax',
    'sNoise',
    'noise',
    'rng',
    'callback',
  ]);
  const {
    solver = 'heun',
    numSteps = 18,
    alpha = 1,
    sChurn = 0,
    sMin = 0,
    sMax = Infinity,
    sNoise = 1,
  } = options;
  assertOneOf(fn, 'options.solver', solver, ['euler', 'heun'] as const);
  assertInteger(fn, 'options.numSteps', numSteps, 1);
  assertNumber(fn, 'options.alpha', alpha, { exclusiveMin: 0 });
  const round = denoiser.roundSigma ?? ((v: number) => v);
  return runScaledSampler(fn, denoiser, latents, form, form.timeSteps(numSteps), {
    solver,
    alpha,
    sChurn,
    sMin,
    sMax,
    sNoise,
    randn: noiseSource(fn, options.noise, options.rng ?? createRng(0)),
    round,
    callback: options.callback,
  });
}
