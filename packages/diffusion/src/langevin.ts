/**
 * Annealed Langevin dynamics (Song & Ermon 2019, NCSN, Algorithm 1; official code `anneal_Langevin_dynamics`).
 */

import { assertInteger, assertKnownOptions, assertNumber, assertOneOf, type Rng } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { NoiseFn } from './types.js';
import { assertFunction, assertSamples, checkOutput, noiseSource, release, toSigmas } from './util.js';

/** A noise-conditional score s(x, σ) ≈ ∇ log p_σ(x): x `[batch, ...dims]`, sigma `[batch]`. */
export type NoiseConditionalScore = (x: tf.Tensor, sigma: tf.Tensor) => tf.Tensor;

/**
 * Song & Ermon 2019, Algorithm 1: for each σᵢ (decreasing), `stepsPerLevel` Langevin steps.
 *
 * The step follows the **official code** by default (`convention: 'code'`): αᵢ = stepLr·(σᵢ/σ_L)²,
 * x ← x + αᵢ·s(x, σᵢ) + √(2αᵢ)·z. The paper writes x ← x + (αᵢ/2)·s + √αᵢ·z with αᵢ = ε·σᵢ²/σ_L²; the two are the
 * same dynamics with ε_paper = 2·stepLr_code (`convention: 'paper'` takes ε as in the paper). With `denoise`, a
 * final x + σ_L²·s(x, σ_L) (Tweedie; NCSNv2).
 *
 * - xInit `[batch, ...dims]`; sigmas decreasing `[L]` (a trailing 0 is ignored). Returns `[batch, ...dims]`.
 */
export function annealedLangevin(
  score: NoiseConditionalScore,
  xInit: tf.Tensor,
  options: {
    sigmas: ArrayLike<number>;
    stepsPerLevel?: number;
    stepLr?: number;
    convention?: 'code' | 'paper';
    denoise?: boolean;
    noise?: NoiseFn;
    rng?: Rng;
  },
): tf.Tensor {
  const fn = 'diffusion.annealedLangevin';
  assertFunction(fn, 'score', score);
  assertSamples(fn, 'xInit', xInit);
  assertKnownOptions(fn, options, [
    'sigmas',
    'stepsPerLevel',
    'stepLr',
    'convention',
    'denoise',
    'noise',
    'rng',
  ]);
  const sig = Array.from(toSigmas(fn, 'options.sigmas', [...Array.from(options.sigmas ?? []), 0])).filter(
    (s) => s > 0,
  );
  const { stepsPerLevel = 100, stepLr = 2e-5, convention = 'code', denoise = false } = options;
  assertInteger(fn, 'options.stepsPerLevel', stepsPerLevel, 1);
  assertNumber(fn, 'options.stepLr', stepLr, { exclusiveMin: 0 });
  assertOneOf(fn, 'options.convention', convention, ['code', 'paper'] as const);
  const randn = noiseSource(fn, options.noise, options.rng);
  const shape = xInit.shape.slice();
  const n = shape[0]!;
  const last = sig[sig.length - 1]!;
  let x = xInit;
  let call = 0;
  for (const sigma of sig) {
    const base = stepLr * (sigma / last) ** 2;
    const step = convention === 'code' ? base : base / 2; // code-convention α
    for (let k = 0; k < stepsPerLevel; k++) {
      const prev = x;
      x = tf.tidy(() => {
        const s = score(prev, tf.fill([n], sigma));
        checkOutput(fn, 'score', s, shape);
        return tf.add(tf.add(prev, tf.mul(s, step)), tf.mul(randn(shape, call++), Math.sqrt(2 * step)));
      });
      release(prev, [xInit]);
    }
  }
  if (denoise) {
    const prev = x;
    x = tf.tidy(() => tf.add(prev, tf.mul(score(prev, tf.fill([n], last)), last * last)));
    release(prev, [xInit]);
  }
  return x;
}

/** Geometric noise levels σ₁ > … > σ_L of NCSN: exp(linspace(ln σ₁, ln σ_L, L)), `[L]`. */
export function geometricSigmas(sigmaBegin: number, sigmaEnd: number, L: number): Float64Array {
  const fn = 'diffusion.geometricSigmas';
  assertNumber(fn, 'sigmaBegin', sigmaBegin, { exclusiveMin: 0 });
  assertNumber(fn, 'sigmaEnd', sigmaEnd, { exclusiveMin: 0 });
  assertInteger(fn, 'L', L, 1);
  return Float64Array.from({ length: L }, (_, i) =>
    Math.exp(
      Math.log(sigmaBegin) + (L === 1 ? 0 : ((Math.log(sigmaEnd) - Math.log(sigmaBegin)) * i) / (L - 1)),
    ),
  );
}

/** The noise-conditional score of a denoiser (Karras et al. 2022, eq. 3): s(x, σ) = (D(x; σ) − x)/σ². */
export function denoiserScore(
  denoiser: (x: tf.Tensor, sigma: tf.Tensor) => tf.Tensor,
): NoiseConditionalScore {
  assertFunction('diffusion.denoiserScore', 'denoiser', denoiser);
  return (x, sigma) =>
    tf.tidy(() => {
      const s2 = tf.reshape(tf.square(sigma), [x.shape[0]!, ...new Array(x.rank - 1).fill(1)]);
      return tf.div(tf.sub(denoiser(x, sigma), x), s2);
    });
}
