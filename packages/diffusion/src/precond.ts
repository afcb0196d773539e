/**
 * Preconditionings of Karras et al. 2022, Table 1 (NVlabs/edm `training/networks.py`: VPPrecond, VEPrecond,
 * iDDPMPrecond, EDMPrecond): D(x; σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x; c_noise(σ)).
 */

import { argumentMessage, assertInteger, assertKnownOptions, assertNumber, ValueError } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser } from './types.js';
import { checkOutput, rowShape } from './util.js';

/** c_skip, c_out, c_in, c_noise at one σ. */
export interface PrecondCoefficients {
  cSkip: number;
  cOut: number;
  cIn: number;
  cNoise: number;
}

/** A raw network F(c_in·x, c_noise): x `[batch, ...dims]`, cNoise `[batch]`, returns `[batch, ...dims]`. */
export type RawModel = (xIn: tf.Tensor, cNoise: tf.Tensor) => tf.Tensor;

/** A preconditioning: its coefficients, its σ range, and the wrapper that turns F into D. */
export interface Preconditioning {
  readonly name: 'vp' | 've' | 'iddpm' | 'edm' | 'flow';
  /** Smallest / largest σ the network supports (`net.sigma_min`, `net.sigma_max`). */
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  coefficients(sigma: number): PrecondCoefficients;
  /** `net.round_sigma` (identity except for iDDPM, which rounds to its discrete levels). */
  roundSigma(sigma: number): number;
  /** D(x; σ) = c_skip·x + c_out·F(c_in·x, c_noise); the denoiser carries sigmaMin, sigmaMax, roundSigma. */
  wrap(model: RawModel): Denoiser;
  /** The coefficients as `[batch]` tensors for a `[batch]` σ tensor (differentiable in nothing; for training). */
  coefficientTensors(sigma: tf.Tensor): {
    cSkip: tf.Tensor;
    cOut: tf.Tensor;
    cIn: tf.Tensor;
    cNoise: tf.Tensor;
  };
}

function makePrecond(
  name: Preconditioning['name'],
  sigmaMin: number,
  sigmaMax: number,
  coefficients: (sigma: number) => PrecondCoefficients,
  roundSigma: (sigma: number) => number = (s) => s,
): Preconditioning {
  const fnName = `diffusion.${name}Precond`;
  const coefficientTensors = (sigma: tf.Tensor) => {
    const s = sigma.dataSync();
    const c = Array.from(s, (v) => coefficients(v));
    return {
      cSkip: tf.tensor1d(c.map((v) => v.cSkip)),
      cOut: tf.tensor1d(c.map((v) => v.cOut)),
      cIn: tf.tensor1d(c.map((v) => v.cIn)),
      cNoise: tf.tensor1d(c.map((v) => v.cNoise)),
    };
  };
  const checkedCoefficients = (sigma: number) => {
    assertNumber(`${fnName}.coefficients`, 'sigma', sigma, { min: 0 });
    return coefficients(sigma);
  };
  const wrap = (model: RawModel): Denoiser => {
    if (typeof model !== 'function')
      throw new ValueError(
        argumentMessage(`${fnName}.wrap`, 'model', 'a function F(xIn, cNoise)', String(model)),
      );
    const denoiser: Denoiser = (x, sigma) =>
      tf.tidy(() => {
        const { cSkip, cOut, cIn, cNoise } = coefficientTensors(sigma);
        const shape = rowShape(x);
        const f = model(tf.mul(x, tf.reshape(cIn, shape)), cNoise);
        checkOutput(`${fnName}.wrap`, 'model', f, x.shape);
        return tf.add(tf.mul(x, tf.reshape(cSkip, shape)), tf.mul(f, tf.reshape(cOut, shape)));
      });
    denoiser.sigmaMin = sigmaMin;
    denoiser.sigmaMax = sigmaMax;
    denoiser.roundSigma = roundSigma;
    return denoiser;
  };
  return {
    name,
    sigmaMin,
    sigmaMax,
    coefficients: checkedCoefficients,
    roundSigma,
    wrap,
    coefficientTensors,
  };
}

/**
 * Karras et al. 2022, Table 1, EDM column: c_skip = σd²/(σ² + σd²), c_out = σσd/√(σ² + σd²), c_in = 1/√(σ² + σd²),
 * c_noise = ln(σ)/4.
 */
export function edmPrecond(
  options: { sigmaData?: number; sigmaMin?: number; sigmaMax?: number } = {},
): Preconditioning {
  const fn = 'diffusion.edmPrecond';
  assertKnownOptions(fn, options, ['sigmaData', 'sigmaMin', 'sigmaMax']);
  const { sigmaData = 0.5, sigmaMin = 0, sigmaMax = Infinity } = options;
  assertNumber(fn, 'options.sigmaData', sigmaData, { exclusiveMin: 0 });
  assertNumber(fn, 'options.sigmaMin', sigmaMin, { min: 0 });
  assertNumber(fn, 'options.sigmaMax', sigmaMax, { exclusiveMin: 0, finite: false });
  const sd2 = sigmaData * sigmaData;
  return makePrecond('edm', sigmaMin, sigmaMax, (sigma) => {
    const v = sigma * sigma + sd2;
    return {
      cSkip: sd2 / v,
      cOut: (sigma * sigmaData) / Math.sqrt(v),
      cIn: 1 / Math.sqrt(v),
      cNoise: Math.log(sigma) / 4,
    };
  });
}

/** VP σ(t) = √(exp(½β_d t² + β_min t) − 1) and its inverse (Song et al. 2021; Karras et al. 2022, Table 1). */
export function vpSigma(t: number, betaD: number, betaMin: number): number {
  return Math.sqrt(Math.expm1(0.5 * betaD * t * t + betaMin * t));
}
export function vpSigmaInv(sigma: number, betaD: number, betaMin: number): number {
  return (Math.sqrt(betaMin * betaMin + 2 * betaD * Math.log1p(sigma * sigma)) - betaMin) / betaD;
}

/**
 * Karras et al. 2022, Table 1, VP column (`VPPrecond`): c_skip = 1, c_out = −σ, c_in = 1/√(σ² + 1),
 * c_noise = (M − 1)·σ⁻¹(σ); σ range [σ(ε_t), σ(1)].
 */
export function vpPrecond(
  options: { betaD?: number; betaMin?: number; M?: number; epsilonT?: number } = {},
): Preconditioning {
  const fn = 'diffusion.vpPrecond';
  assertKnownOptions(fn, options, ['betaD', 'betaMin', 'M', 'epsilonT']);
  const { betaD = 19.9, betaMin = 0.1, M = 1000, epsilonT = 1e-5 } = options;
  assertNumber(fn, 'options.betaD', betaD, { exclusiveMin: 0 });
  assertNumber(fn, 'options.betaMin', betaMin, { min: 0 });
  assertInteger(fn, 'options.M', M, 1);
  assertNumber(fn, 'options.epsilonT', epsilonT, { exclusiveMin: 0, max: 1 });
  return makePrecond('vp', vpSigma(epsilonT, betaD, betaMin), vpSigma(1, betaD, betaMin), (sigma) => ({
    cSkip: 1,
    cOut: -sigma,
    cIn: 1 / Math.sqrt(sigma * sigma + 1),
    cNoise: (M - 1) * vpSigmaInv(sigma, betaD, betaMin),
  }));
}

/** Karras et al. 2022, Table 1, VE column (`VEPrecond`): c_skip = 1, c_out = σ, c_in = 1, c_noise = ln(σ/2). */
export function vePrecond(options: { sigmaMin?: number; sigmaMax?: number } = {}): Preconditioning {
  const fn = 'diffusion.vePrecond';
  assertKnownOptions(fn, options, ['sigmaMin', 'sigmaMax']);
  const { sigmaMin = 0.02, sigmaMax = 100 } = options;
  assertNumber(fn, 'options.sigmaMin', sigmaMin, { exclusiveMin: 0 });
  assertNumber(fn, 'options.sigmaMax', sigmaMax, { exclusiveMin: 0 });
  return makePrecond('ve', sigmaMin, sigmaMax, (sigma) => ({
    cSkip: 1,
    cOut: sigma,
    cIn: 1,
    cNoise: Math.log(0.5 * sigma),
  }));
}

/**
 * The iDDPM noise levels u_j (Karras et al. 2022, Table 1, footnote): u_M = 0,
 * u_{j−1} = √((u_j² + 1)/max(ᾱ(j−1)/ᾱ(j), C₁) − 1), ᾱ(j) = sin²(π j/(2M(C₂ + 1))). Returns `[M + 1]`, decreasing.
 */
export function iddpmLevels(M = 1000, C1 = 0.001, C2 = 0.008): Float64Array {
  const u = new Float64Array(M + 1);
  const alphaBar = (j: number) => Math.sin((0.5 * Math.PI * j) / M / (C2 + 1)) ** 2;
  for (let j = M; j > 0; j--)
    u[j - 1] = Math.sqrt((u[j]! ** 2 + 1) / Math.max(alphaBar(j - 1) / alphaBar(j), C1) - 1);
  return u;
}

/** Index of the level in `u` nearest to σ (the first on ties, as torch.argmin). */
export function nearestIndex(u: Float64Array, sigma: number): number {
  let best = 0;
  let dist = Infinity;
  for (let j = 0; j < u.length; j++) {
    const d = Math.abs(u[j]! - sigma);
    if (d < dist) {
      dist = d;
      best = j;
    }
  }
  return best;
}

/**
 * Karras et al. 2022, Table 1, iDDPM column (`iDDPMPrecond`): c_skip = 1, c_out = −σ, c_in = 1/√(σ² + 1),
 * c_noise = M − 1 − argminⱼ|u_j − σ|; σ range [u_{M−1}, u_0]; round_sigma snaps σ to the nearest u_j.
 */
export function iddpmPrecond(options: { C1?: number; C2?: number; M?: number } = {}): Preconditioning {
  const fn = 'diffusion.iddpmPrecond';
  assertKnownOptions(fn, options, ['C1', 'C2', 'M']);
  const { C1 = 0.001, C2 = 0.008, M = 1000 } = options;
  assertNumber(fn, 'options.C1', C1, { exclusiveMin: 0 });
  assertNumber(fn, 'options.C2', C2, { min: 0 });
  assertInteger(fn, 'options.M', M, 1);
  const u = iddpmLevels(M, C1, C2);
  return makePrecond(
    'iddpm',
    u[M - 1]!,
    u[0]!,
    (sigma) => ({
      cSkip: 1,
      cOut: -sigma,
      cIn: 1 / Math.sqrt(sigma * sigma + 1),
      cNoise: M - 1 - nearestIndex(u, sigma),
    }),
    (sigma) => u[nearestIndex(u, sigma)]!,
  );
}

/**
 * Rectified flow / conditional flow matching (Lipman et al. 2023; Liu et al. 2023) in EDM form: x_t = (1 − t)x₀ + tε
 * is x̂ = x₀ + σε with σ = t/(1 − t), s = 1 − t. A velocity network F(x_t, t) ≈ ε − x₀ gives
 * D = x_t − t·F, i.e. c_skip = c_in = 1/(1 + σ), c_out = −σ/(1 + σ), c_noise = t = σ/(1 + σ).
 */
export function flowPrecond(): Preconditioning {
  return makePrecond('flow', 0, Infinity, (sigma) => {
    const s = Number.isFinite(sigma) ? 1 / (1 + sigma) : 0;
    return {
      cSkip: s,
      cOut: Number.isFinite(sigma) ? -sigma * s : -1,
      cIn: s,
      cNoise: Number.isFinite(sigma) ? sigma * s : 1,
    };
  });
}
