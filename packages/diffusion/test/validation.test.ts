import { createRng, initBackend } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ablationSampler,
  betaSchedule,
  DiffusionScheduler,
  ddimSampler,
  edmPrecond,
  edmSampler,
  gaussianMixtureDenoiser,
  karrasSigmas,
  logLikelihood,
  odeSampler,
  pcSampler,
  sampleDpmpp2mSde,
  sampleEuler,
  sampleLms,
  vpSde,
  vpSigmas,
} from '../src/index.js';

const D = gaussianMixtureDenoiser({ weights: [1], means: [[0, 0]], stds: [1] });

describe('bad inputs throw at once, naming the function, the argument, the expectation and what was received', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('schedules', () => {
    expect(() => karrasSigmas(0, 0.002, 80)).toThrow(
      /diffusion\.karrasSigmas: n must be an integer >= 1, got 0/,
    );
    expect(() => karrasSigmas(5, 80, 0.002)).toThrow(
      /diffusion\.karrasSigmas: sigmaMax must be greater than sigmaMin/,
    );
    expect(() => vpSigmas(5, -1)).toThrow(/diffusion\.vpSigmas: betaD must be a finite number > 0, got -1/);
    expect(() => betaSchedule('quadratic' as 'linear')).toThrow(
      /diffusion\.betaSchedule: kind must be one of "linear", "cosine"/,
    );
  });

  it('samplers', () => {
    const x = tf.zeros([4, 2]);
    expect(() => edmSampler(D, x, { numSteps: 0 })).toThrow(
      /diffusion\.edmSampler: options\.numSteps must be an integer >= 1, got 0/,
    );
    expect(() => edmSampler(D, x, { sChurn: -1 })).toThrow(/options\.sChurn/);
    expect(() => edmSampler(D, x, { churn: 1 } as object)).toThrow(
      /diffusion\.edmSampler: unknown option "churn"/,
    );
    expect(() => edmSampler('D' as unknown as typeof D, x)).toThrow(
      /diffusion\.edmSampler: denoiser must be a function/,
    );
    expect(() => edmSampler(D, [1, 2] as unknown as tf.Tensor)).toThrow(
      /diffusion\.edmSampler: latents must be a tf\.Tensor/,
    );
    expect(() => ablationSampler(D, x, { solver: 'rk4' as 'euler' })).toThrow(
      /diffusion\.ablationSampler: options\.solver must be one of "euler", "heun", got "rk4"/,
    );
    expect(() => sampleEuler(D, x, [80])).toThrow(
      /diffusion\.sampleEuler: sigmas must be at least 2 noise levels/,
    );
    expect(() => sampleEuler(D, x, [80, Number.NaN])).toThrow(
      /diffusion\.sampleEuler: sigmas\[1\] must be a finite number >= 0, got NaN/,
    );
    expect(() => sampleLms(D, x, karrasSigmas(4, 0.1, 10), { order: 0 })).toThrow(
      /diffusion\.sampleLms: options\.order/,
    );
    expect(() => sampleDpmpp2mSde(D, x, karrasSigmas(4, 0.1, 10), { noise: () => tf.zeros([3, 2]) })).toThrow(
      /diffusion\.sampleDpmpp2mSde: noise\(shape, 0\) output must be a tensor of shape \[4,2\], got shape \[3,2\]/,
    );
    const bad = (() => tf.zeros([4, 3])) as unknown as typeof D;
    expect(() => sampleEuler(bad, x, [1, 0])).toThrow(
      /diffusion\.sampleEuler: denoiser output must be a tensor of shape \[4,2\], got shape \[4,3\]/,
    );
    expect(() => ddimSampler(D, x, { numSteps: 2000 })).toThrow(
      /diffusion\.ddimTimesteps: numSteps must be an integer in \[1, 1000\]/,
    );
    expect(() => D(tf.zeros([4, 3]), tf.ones([4]))).toThrow(
      /diffusion\.gaussianMixtureDenoiser: x must be of shape \[batch, 2\], got shape \[4,3\]/,
    );
    expect(() => D(x, tf.ones([3]))).toThrow(
      /diffusion\.gaussianMixtureDenoiser: sigma must be of shape \[4\] \[batch\], got shape \[3\]/,
    );
    x.dispose();
  });

  it('mixture spec, preconditioning, SDE samplers, scheduler', () => {
    expect(() => gaussianMixtureDenoiser({ weights: [1, 1], means: [[0, 0]], stds: [1, 1] })).toThrow(
      /diffusion\.gaussianMixtureDenoiser: means must be an array of 2 mean vectors/,
    );
    expect(() => gaussianMixtureDenoiser({ weights: [1], means: [[0, 0]], stds: [-1] })).toThrow(
      /stds\[0\] must be a finite number >= 0, got -1/,
    );
    expect(() => edmPrecond({ sigmaData: 0 })).toThrow(
      /diffusion\.edmPrecond: options\.sigmaData must be a finite number > 0, got 0/,
    );
    expect(() => edmPrecond().coefficients(-1)).toThrow(
      /diffusion\.edmPrecond\.coefficients: sigma must be a finite number >= 0, got -1/,
    );
    const sde = vpSde({ N: 10 });
    const x = tf.zeros([2, 2]);
    const score = (y: tf.Tensor) => tf.neg(y);
    expect(() => pcSampler(sde, score, x, { predictor: 'heun' as 'none' })).toThrow(
      /diffusion\.pcSampler: options\.predictor must be one of/,
    );
    expect(() => pcSampler({} as typeof sde, score, x)).toThrow(/diffusion\.pcSampler: sde must be an SDE/);
    expect(() => odeSampler(sde, score, x, { rtol: 0 })).toThrow(
      /diffusion\.odeSampler: options\.rtol must be a finite number > 0, got 0/,
    );
    expect(() => logLikelihood(sde, score, x, { trace: 'hutch' as 'exact' })).toThrow(
      /diffusion\.logLikelihood: options\.trace must be one of/,
    );
    expect(() => logLikelihood(sde, score, x, { noise: tf.zeros([3, 2]) })).toThrow(
      /diffusion\.logLikelihood: options\.noise output must be a tensor of shape \[2,2\]/,
    );
    expect(() => new DiffusionScheduler({ solver: 'rk4' as 'euler' })).toThrow(
      /diffusion\.DiffusionScheduler: options\.solver must be one of/,
    );
    expect(() => new DiffusionScheduler().initNoise(x)).toThrow(
      /diffusion\.DiffusionScheduler\.initNoise: call setTimesteps\(numSteps\) first/,
    );
    expect(() => createRng(1) && new DiffusionScheduler().setTimesteps(0)).toThrow(
      /setTimesteps: numSteps must be an integer >= 1, got 0/,
    );
    x.dispose();
  });
});
