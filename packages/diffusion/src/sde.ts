/**
 * Score-based SDEs of Song et al. 2021 ("Score-Based Generative Modeling through Stochastic Differential
 * Equations"; yang-song/score_sde `sde_lib.py`, `sampling.py`, `likelihood.py`): VP, sub-VP and VE SDEs, their
 * reverse SDE and probability-flow ODE, predictor–corrector sampling, the adaptive ODE sampler and exact
 * likelihoods by the instantaneous change of variables with Hutchinson's trace estimator.
 *
 * Tensors: x `[batch, ...dims]`, t `[batch]` (time in [0, T], T = 1).
 */

import {
  argumentMessage,
  assertInteger,
  assertKnownOptions,
  assertNumber,
  assertOneOf,
  assertTensor,
  createRng,
  formatShape,
  type Rng,
  ShapeError,
  ValueError,
} from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { solveRk45 } from './ode.js';
import type { Denoiser, NoiseFn, ScoreFn } from './types.js';
import {
  assertFunction,
  assertSamples,
  checkOutput,
  hostTidy,
  noiseSource,
  release,
  rowShape,
} from './util.js';

/** The interface shared by a forward SDE dx = f(x, t)dt + g(t)dw and its reverse. */
export interface SdeLike {
  readonly T: number;
  readonly N: number;
  /** Drift f(x, t) `[batch, ...dims]` and diffusion g(t) `[batch]`. */
  sde(x: tf.Tensor, t: tf.Tensor): { drift: tf.Tensor; diffusion: tf.Tensor };
  /** The discretised update x_{i+1} = x_i + f_i + G_i·z of the SDE at step i = ⌊t(N − 1)/T⌋. */
  discretize(x: tf.Tensor, t: tf.Tensor): { f: tf.Tensor; G: tf.Tensor };
}

/** A forward SDE. */
export interface Sde extends SdeLike {
  readonly kind: 'vp' | 'subvp' | 've';
  /** Perturbation kernel p_{0t}(x_t | x₀) = N(mean, std²·I): mean `[batch, ...dims]`, std `[batch]`. */
  marginalProb(x: tf.Tensor, t: tf.Tensor): { mean: tf.Tensor; std: tf.Tensor };
  /** The same kernel as scalars: mean = scale·x₀, standard deviation std. */
  marginalCoefficients(t: number): { scale: number; std: number };
  /** A draw from the prior p_T, `shape`. */
  priorSampling(shape: number[], rng: Rng): tf.Tensor;
  /** log p_T(z) per row (nats, float64). z `[batch, ...dims]`. */
  priorLogp(z: tf.Tensor): Float64Array;
  /** The reverse-time SDE dx = [f − g²∇log p_t]dt + g dw̄, or the probability-flow ODE dx = [f − ½g²∇log p_t]dt. */
  reverse(score: ScoreFn, options?: { probabilityFlow?: boolean }): SdeLike & { probabilityFlow: boolean };
  /** Discrete β_i (VP, sub-VP) or σ_i (VE) of the N-step discretization. */
  readonly discrete: Float64Array;
}

function timeIndices(sde: { N: number; T: number }, t: tf.Tensor): Int32Array {
  const td = t.dataSync();
  // torch `.long()` truncates toward zero.
  return Int32Array.from(td, (v) => Math.trunc((v * (sde.N - 1)) / sde.T));
}

function checkXT(fn: string, x: tf.Tensor, t: tf.Tensor): void {
  assertTensor(fn, 'x', x);
  assertTensor(fn, 't', t);
  if (t.rank !== 1 || t.shape[0] !== x.shape[0]) {
    throw new ShapeError(
      argumentMessage(fn, 't', `of shape [${x.shape[0]}] [batch]`, `shape ${formatShape(t.shape)}`),
    );
  }
}

function rowSum(z: tf.Tensor): tf.Tensor {
  return z.rank === 1 ? z : tf.sum(tf.reshape(z, [z.shape[0]!, -1]), 1);
}

function makeReverse(
  base: { T: number; N: number; sde: Sde['sde']; discretize: Sde['discretize'] },
  score: ScoreFn,
  probabilityFlow: boolean,
): SdeLike & { probabilityFlow: boolean } {
  const k = probabilityFlow ? 0.5 : 1;
  return {
    T: base.T,
    N: base.N,
    probabilityFlow,
    sde: (x, t) =>
      tf.tidy(() => {
        const { drift, diffusion } = base.sde(x, t);
        const s = score(x, t);
        checkOutput('diffusion.Sde.reverse', 'score', s, x.shape);
        const g2 = tf.reshape(tf.square(diffusion), rowShape(x));
        return {
          drift: tf.sub(drift, tf.mul(tf.mul(g2, s), k)),
          diffusion: probabilityFlow ? tf.zerosLike(diffusion) : diffusion,
        };
      }),
    discretize: (x, t) =>
      tf.tidy(() => {
        const { f, G } = base.discretize(x, t);
        const s = score(x, t);
        checkOutput('diffusion.Sde.reverse', 'score', s, x.shape);
        const g2 = tf.reshape(tf.square(G), rowShape(x));
        return { f: tf.sub(f, tf.mul(tf.mul(g2, s), k)), G: probabilityFlow ? tf.zerosLike(G) : G };
      }),
  };
}

function gaussianPriorLogp(z: tf.Tensor, variance: number): Float64Array {
  const d = z.dataSync();
  const n = z.shape[0]!;
  const dim = d.length / n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += d[i * dim + j]! ** 2;
    out[i] = (-dim / 2) * Math.log(2 * Math.PI * variance) - s / (2 * variance);
  }
  return out;
}

/** Euler–Maruyama discretization of a forward SDE (score_sde `SDE.discretize`): f = drift·Δt, G = g·√Δt. */
function eulerDiscretize(sdeFn: Sde['sde'], N: number, T: number): Sde['discretize'] {
  return (x, t) =>
    tf.tidy(() => {
      const dt = T / N;
      const { drift, diffusion } = sdeFn(x, t);
      return { f: tf.mul(drift, dt), G: tf.mul(diffusion, Math.sqrt(dt)) };
    });
}

/**
 * Song et al. 2021, eq. 11 (score_sde `VPSDE`): dx = −½β(t)x dt + √β(t) dw, β(t) = β_min + t(β_max − β_min);
 * discretised as DDPM with β_i = linspace(β_min/N, β_max/N, N).
 */
export function vpSde(options: { betaMin?: number; betaMax?: number; N?: number } = {}): Sde {
  const fn = 'diffusion.vpSde';
  assertKnownOptions(fn, options, ['betaMin', 'betaMax', 'N']);
  const { betaMin = 0.1, betaMax = 20, N = 1000 } = options;
  assertNumber(fn, 'options.betaMin', betaMin, { min: 0 });
  assertNumber(fn, 'options.betaMax', betaMax, { exclusiveMin: betaMin });
  assertInteger(fn, 'options.N', N, 2);
  return vpFamily('vp', betaMin, betaMax, N);
}

/**
 * Song et al. 2021, eq. 12 (score_sde `subVPSDE`): dx = −½β(t)x dt + √(β(t)(1 − e^{−2∫β})) dw. Its perturbation
 * std is 1 − e^{2·logMeanCoeff} (the variance is its square), as in the reference.
 */
export function subVpSde(options: { betaMin?: number; betaMax?: number; N?: number } = {}): Sde {
  const fn = 'diffusion.subVpSde';
  assertKnownOptions(fn, options, ['betaMin', 'betaMax', 'N']);
  const { betaMin = 0.1, betaMax = 20, N = 1000 } = options;
  assertNumber(fn, 'options.betaMin', betaMin, { min: 0 });
  assertNumber(fn, 'options.betaMax', betaMax, { exclusiveMin: betaMin });
  assertInteger(fn, 'options.N', N, 2);
  return vpFamily('subvp', betaMin, betaMax, N);
}

function vpFamily(kind: 'vp' | 'subvp', b0: number, b1: number, N: number): Sde {
  const T = 1;
  const discrete = new Float64Array(N);
  for (let i = 0; i < N; i++) discrete[i] = b0 / N + ((b1 - b0) / N) * (N === 1 ? 0 : i / (N - 1));
  const logMean = (t: number) => -0.25 * t * t * (b1 - b0) - 0.5 * t * b0;
  const coefficients = (t: number) => {
    const lm = logMean(t);
    const std = kind === 'vp' ? Math.sqrt(-Math.expm1(2 * lm)) : -Math.expm1(2 * lm);
    return { scale: Math.exp(lm), std };
  };
  const sdeFn: Sde['sde'] = (x, t) => {
    checkXT(`diffusion.${kind}Sde.sde`, x, t);
    return tf.tidy(() => {
      const beta = tf.add(b0, tf.mul(t, b1 - b0)); // [batch]
      const drift = tf.mul(tf.mul(tf.reshape(beta, rowShape(x)), x), -0.5);
      if (kind === 'vp') return { drift, diffusion: tf.sqrt(beta) };
      const discount = tf.sub(1, tf.exp(tf.sub(tf.mul(t, -2 * b0), tf.mul(tf.square(t), b1 - b0))));
      return { drift, diffusion: tf.sqrt(tf.mul(beta, discount)) };
    });
  };
  const discretize: Sde['discretize'] =
    kind === 'vp'
      ? (x, t) => {
          checkXT('diffusion.vpSde.discretize', x, t);
          const idx = timeIndices({ N, T }, t);
          return tf.tidy(() => {
            const beta = Float32Array.from(idx, (i) => discrete[i]!);
            const alpha = Float32Array.from(beta, (b) => Math.sqrt(1 - b));
            const f = tf.sub(tf.mul(tf.reshape(tf.tensor1d(alpha), rowShape(x)), x), x);
            return { f, G: tf.sqrt(tf.tensor1d(beta)) };
          });
        }
      : eulerDiscretize(sdeFn, N, T);
  const self: Sde = {
    kind,
    T,
    N,
    discrete,
    sde: sdeFn,
    discretize,
    marginalCoefficients: coefficients,
    marginalProb: (x, t) => {
      checkXT(`diffusion.${kind}Sde.marginalProb`, x, t);
      return tf.tidy(() => {
        const td = t.dataSync();
        const c = Array.from(td, (v) => coefficients(v));
        const mean = tf.mul(tf.reshape(tf.tensor1d(c.map((v) => v.scale)), rowShape(x)), x);
        return { mean, std: tf.tensor1d(c.map((v) => v.std)) };
      });
    },
    priorSampling: (shape, rng) => rng.normal(shape),
    priorLogp: (z) => gaussianPriorLogp(z, 1),
    reverse: (score, options = {}) => makeReverse(self, score, options.probabilityFlow ?? false),
  };
  return self;
}

/**
 * Song et al. 2021, eq. 9 (score_sde `VESDE`): dx = σ(t)√(2 ln(σ_max/σ_min)) dw, σ(t) = σ_min(σ_max/σ_min)^t;
 * discretised as SMLD with σ_i = exp(linspace(ln σ_min, ln σ_max, N)).
 */
export function veSde(options: { sigmaMin?: number; sigmaMax?: number; N?: number } = {}): Sde {
  const fn = 'diffusion.veSde';
  assertKnownOptions(fn, options, ['sigmaMin', 'sigmaMax', 'N']);
  const { sigmaMin = 0.01, sigmaMax = 50, N = 1000 } = options;
  assertNumber(fn, 'options.sigmaMin', sigmaMin, { exclusiveMin: 0 });
  assertNumber(fn, 'options.sigmaMax', sigmaMax, { exclusiveMin: sigmaMin });
  assertInteger(fn, 'options.N', N, 2);
  const T = 1;
  const discrete = new Float64Array(N);
  for (let i = 0; i < N; i++)
    discrete[i] = Math.exp(Math.log(sigmaMin) + ((Math.log(sigmaMax) - Math.log(sigmaMin)) * i) / (N - 1));
  const sigmaAt = (t: number) => sigmaMin * (sigmaMax / sigmaMin) ** t;
  const gFactor = Math.sqrt(2 * (Math.log(sigmaMax) - Math.log(sigmaMin)));
  const self: Sde = {
    kind: 've',
    T,
    N,
    discrete,
    sde: (x, t) => {
      checkXT('diffusion.veSde.sde', x, t);
      return tf.tidy(() => ({
        drift: tf.zerosLike(x),
        diffusion: tf.mul(tf.mul(sigmaMin, tf.pow(sigmaMax / sigmaMin, t)), gFactor),
      }));
    },
    discretize: (x, t) => {
      checkXT('diffusion.veSde.discretize', x, t);
      const idx = timeIndices({ N, T }, t);
      return tf.tidy(() => {
        const g = Float32Array.from(idx, (i) =>
          Math.sqrt(discrete[i]! ** 2 - (i === 0 ? 0 : discrete[i - 1]! ** 2)),
        );
        return { f: tf.zerosLike(x), G: tf.tensor1d(g) };
      });
    },
    marginalCoefficients: (t) => ({ scale: 1, std: sigmaAt(t) }),
    marginalProb: (x, t) => {
      checkXT('diffusion.veSde.marginalProb', x, t);
      return tf.tidy(() => ({ mean: tf.clone(x), std: tf.mul(sigmaMin, tf.pow(sigmaMax / sigmaMin, t)) }));
    },
    priorSampling: (shape, rng) => rng.normal(shape, 0, sigmaMax),
    priorLogp: (z) => gaussianPriorLogp(z, sigmaMax * sigmaMax),
    reverse: (score, options = {}) => makeReverse(self, score, options.probabilityFlow ?? false),
  };
  return self;
}

/**
 * The score of p_t from a denoiser of the unscaled data (Karras et al. 2022, eq. 3 with s(t)): the SDE's kernel
 * x_t = s·(x₀ + σn) with s = scale(t), σ = std(t)/s gives ∇log p_t(x) = (D(x/s; σ) − x/s)/(s·σ²).
 */
export function scoreFromDenoiser(sde: Pick<Sde, 'marginalCoefficients'>, denoiser: Denoiser): ScoreFn {
  assertFunction('diffusion.scoreFromDenoiser', 'denoiser', denoiser);
  return (x, t) =>
    tf.tidy(() => {
      const c = Array.from(t.dataSync(), (v) => sde.marginalCoefficients(v));
      const s = tf.reshape(tf.tensor1d(c.map((v) => v.scale)), rowShape(x));
      const sigma = tf.tensor1d(c.map((v) => v.std / v.scale));
      const sigma2 = tf.reshape(tf.square(sigma), rowShape(x));
      const xs = tf.div(x, s);
      const d = denoiser(xs, sigma);
      return tf.div(tf.sub(d, xs), tf.mul(s, sigma2));
    });
}

export type Predictor = 'euler-maruyama' | 'reverse-diffusion' | 'ancestral' | 'none';
export type Corrector = 'langevin' | 'ald' | 'none';

export interface PcSamplerOptions {
  predictor?: Predictor;
  corrector?: Corrector;
  snr?: number;
  correctorSteps?: number;
  eps?: number;
  probabilityFlow?: boolean;
  noise?: NoiseFn;
  rng?: Rng;
  /** Called after each of the N steps with the current x. */
  callback?: (info: { i: number; t: number; x: tf.Tensor }) => void;
}

/**
 * Song et al. 2021, Algorithms 2–3 (score_sde `get_pc_sampler`): for t in linspace(T, ε, N), a corrector
 * (Langevin with signal-to-noise ratio `snr`, or annealed Langevin) then a predictor (Euler–Maruyama on the
 * reverse SDE, reverse diffusion, or ancestral sampling).
 *
 * - xInit: `[batch, ...dims]`, a draw from the prior (e.g. `sde.priorSampling`). Returns `{ x, xMean }`.
 */
export function pcSampler(
  sde: Sde,
  score: ScoreFn,
  xInit: tf.Tensor,
  options: PcSamplerOptions = {},
): { x: tf.Tensor; xMean: tf.Tensor } {
  const fn = 'diffusion.pcSampler';
  assertSde(fn, sde);
  assertFunction(fn, 'score', score);
  assertSamples(fn, 'xInit', xInit);
  assertKnownOptions(fn, options, [
    'predictor',
    'corrector',
    'snr',
    'correctorSteps',
    'eps',
    'probabilityFlow',
    'noise',
    'rng',
    'callback',
  ]);
  const {
    predictor = 'euler-maruyama',
    corrector = 'none',
    snr = 0.16,
    correctorSteps = 1,
    eps = 1e-3,
    probabilityFlow = false,
  } = options;
  assertOneOf(fn, 'options.predictor', predictor, [
    'euler-maruyama',
    'reverse-diffusion',
    'ancestral',
    'none',
  ] as const);
  assertOneOf(fn, 'options.corrector', corrector, ['langevin', 'ald', 'none'] as const);
  assertNumber(fn, 'options.snr', snr, { min: 0 });
  assertInteger(fn, 'options.correctorSteps', correctorSteps, 0);
  assertNumber(fn, 'options.eps', eps, { exclusiveMin: 0, max: sde.T });
  if (predictor === 'ancestral' && sde.kind === 'subvp') {
    throw new ValueError(
      `${fn}: options.predictor 'ancestral' is defined for the VP and VE SDEs only, got a sub-VP SDE`,
    );
  }
  if (predictor === 'ancestral' && probabilityFlow) {
    throw new ValueError(`${fn}: options.probabilityFlow is not supported with predictor 'ancestral'`);
  }
  const randn = noiseSource(fn, options.noise, options.rng);
  const shape = xInit.shape.slice();
  const n = shape[0]!;
  const rsde = sde.reverse(score, { probabilityFlow });
  let calls = 0;

  // Per-step constant: α_i of the VP discretization (Langevin step scaling), 1 for VE.
  const alphaAt = (t: number) => {
    if (sde.kind === 've') return 1;
    const i = Math.trunc((t * (sde.N - 1)) / sde.T);
    return 1 - sde.discrete[i]!;
  };

  const correct = (x: tf.Tensor, t: number, vt: tf.Tensor): [tf.Tensor, tf.Tensor] => {
    let xm = x;
    for (let k = 0; k < correctorSteps; k++) {
      const grad = score(x, vt);
      const z = randn(shape, calls++);
      let step: number;
      if (corrector === 'langevin') {
        const gradNorm = tf.mean(tf.sqrt(tf.sum(tf.square(tf.reshape(grad, [n, -1])), 1))).dataSync()[0]!;
        const noiseNorm = tf.mean(tf.sqrt(tf.sum(tf.square(tf.reshape(z, [n, -1])), 1))).dataSync()[0]!;
        step = ((snr * noiseNorm) / gradNorm) ** 2 * 2 * alphaAt(t);
      } else {
        const std = sde.marginalCoefficients(t).std;
        step = (snr * std) ** 2 * 2 * alphaAt(t);
      }
      xm = tf.add(x, tf.mul(grad, step));
      x = tf.add(xm, tf.mul(z, Math.sqrt(step * 2)));
    }
    return [x, xm];
  };

  const predict = (x: tf.Tensor, t: number, vt: tf.Tensor): [tf.Tensor, tf.Tensor] => {
    if (predictor === 'euler-maruyama') {
      const dt = -1 / rsde.N;
      const z = randn(shape, calls++);
      const { drift, diffusion } = rsde.sde(x, vt);
      const xm = tf.add(x, tf.mul(drift, dt));
      return [tf.add(xm, tf.mul(tf.mul(tf.reshape(diffusion, rowShape(x)), Math.sqrt(-dt)), z)), xm];
    }
    if (predictor === 'reverse-diffusion') {
      const { f, G } = rsde.discretize(x, vt);
      const z = randn(shape, calls++);
      const xm = tf.sub(x, f);
      return [tf.add(xm, tf.mul(tf.reshape(G, rowShape(x)), z)), xm];
    }
    // Ancestral sampling (Song et al. 2021, Appendix F).
    const i = Math.trunc((t * (sde.N - 1)) / sde.T);
    const s = score(x, vt);
    if (sde.kind === 've') {
      const sigma = sde.discrete[i]!;
      const adj = i === 0 ? 0 : sde.discrete[i - 1]!;
      const xm = tf.add(x, tf.mul(s, sigma ** 2 - adj ** 2));
      const std = Math.sqrt((adj ** 2 * (sigma ** 2 - adj ** 2)) / sigma ** 2);
      return [tf.add(xm, tf.mul(randn(shape, calls++), std)), xm];
    }
    const beta = sde.discrete[i]!;
    const xm = tf.div(tf.add(x, tf.mul(s, beta)), Math.sqrt(1 - beta));
    return [tf.add(xm, tf.mul(randn(shape, calls++), Math.sqrt(beta))), xm];
  };

  let x = xInit;
  let xMean = xInit;
  for (let i = 0; i < sde.N; i++) {
    const t = sde.N === 1 ? sde.T : sde.T + ((eps - sde.T) * i) / (sde.N - 1);
    const prevX = x;
    const prevMean = xMean;
    [x, xMean] = tf.tidy(() => {
      const vt = tf.fill([n], t);
      let cur: [tf.Tensor, tf.Tensor] = [prevX, prevMean];
      if (corrector !== 'none') cur = correct(cur[0], t, vt);
      if (predictor !== 'none') cur = predict(cur[0], t, vt);
      return cur[0] === cur[1] ? [cur[0], tf.clone(cur[1])] : cur;
    });
    release(prevX, [xInit, x, xMean]);
    release(prevMean, [xInit, x, xMean]);
    options.callback?.({ i, t, x });
  }
  if (x === xInit) x = tf.clone(xInit);
  if (xMean === xInit) xMean = tf.clone(xInit);
  return { x, xMean };
}

function assertSde(fn: string, sde: unknown): asserts sde is Sde {
  const s = sde as Sde;
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.sde !== 'function' ||
    typeof s.marginalCoefficients !== 'function'
  ) {
    throw new ValueError(
      argumentMessage(fn, 'sde', 'an SDE from vpSde(), subVpSde() or veSde()', String(sde)),
    );
  }
}

/** Flattens a tensor to float64 and back. */
function toHost64(t: tf.Tensor): Float64Array {
  return Float64Array.from(t.dataSync());
}

/**
 * Song et al. 2021, Section 4.3 (score_sde `get_ode_sampler`): integrates the probability-flow ODE from T to ε with
 * adaptive RK45 (Dormand–Prince) in float64 on the host, the drift in float32 tfjs.
 *
 * - xInit: `[batch, ...dims]` prior draw. Returns `{ x, nfe }`; with `denoise`, one reverse-diffusion step at ε.
 */
export function odeSampler(
  sde: Sde,
  score: ScoreFn,
  xInit: tf.Tensor,
  options: { rtol?: number; atol?: number; eps?: number; denoise?: boolean } = {},
): { x: tf.Tensor; nfe: number } {
  const fn = 'diffusion.odeSampler';
  assertSde(fn, sde);
  assertFunction(fn, 'score', score);
  assertSamples(fn, 'xInit', xInit);
  assertKnownOptions(fn, options, ['rtol', 'atol', 'eps', 'denoise']);
  const { rtol = 1e-5, atol = 1e-5, eps = 1e-3, denoise = false } = options;
  assertNumber(fn, 'options.rtol', rtol, { exclusiveMin: 0 });
  assertNumber(fn, 'options.atol', atol, { exclusiveMin: 0 });
  assertNumber(fn, 'options.eps', eps, { exclusiveMin: 0, max: sde.T });
  const shape = xInit.shape.slice();
  const rsde = sde.reverse(score, { probabilityFlow: true });
  const drift = (t: number, y: Float64Array) =>
    hostTidy(() => {
      const x = tf.tensor(Float32Array.from(y), shape);
      return toHost64(rsde.sde(x, tf.fill([shape[0]!], t)).drift);
    });
  const res = solveRk45(drift, sde.T, eps, toHost64(xInit), { rtol, atol });
  let x = tf.tensor(Float32Array.from(res.y), shape);
  if (denoise) {
    const prev = x;
    x = tf.tidy(() => {
      const r = sde.reverse(score, { probabilityFlow: false });
      return tf.sub(prev, r.discretize(prev, tf.fill([shape[0]!], eps)).f);
    });
    prev.dispose();
  }
  return { x, nfe: res.nfe + (denoise ? 1 : 0) };
}

export interface LikelihoodOptions {
  trace?: 'rademacher' | 'gaussian' | 'exact';
  /** The Hutchinson probe ε `[batch, ...dims]` (fixed along the ODE, as in the reference). */
  noise?: tf.Tensor;
  rng?: Rng;
  rtol?: number;
  atol?: number;
  eps?: number;
}

/** The full result of {@link likelihood}. */
export interface LikelihoodResult {
  /** log p(x) in nats per row. */
  logp: Float64Array;
  /** −log₂ p(x)/D per row (bits per dimension, without any dequantization offset). */
  bitsPerDim: Float64Array;
  /** log p_T(z) and ∫ div f̃ dt per row. */
  priorLogp: Float64Array;
  deltaLogp: Float64Array;
  /** The latent z(T) `[batch, ...dims]` and the number of drift evaluations. */
  z: tf.Tensor;
  nfe: number;
}

/**
 * Song et al. 2021, Appendix D.2 (score_sde `get_likelihood_fn`): log p₀(x) = log p_T(z(T)) + ∫_ε^T ∇·f̃(x(t), t) dt
 * along the probability-flow ODE, with the divergence by Hutchinson's estimator εᵀ(∂f̃/∂x)ε (Rademacher or
 * Gaussian ε), or exactly (one gradient per dimension).
 */
export function likelihood(
  sde: Sde,
  score: ScoreFn,
  x: tf.Tensor,
  options: LikelihoodOptions = {},
): LikelihoodResult {
  const fn = 'diffusion.logLikelihood';
  assertSde(fn, sde);
  assertFunction(fn, 'score', score);
  assertSamples(fn, 'x', x);
  assertKnownOptions(fn, options, ['trace', 'noise', 'rng', 'rtol', 'atol', 'eps']);
  const { trace = 'rademacher', rtol = 1e-5, atol = 1e-5, eps = 1e-5 } = options;
  assertOneOf(fn, 'options.trace', trace, ['rademacher', 'gaussian', 'exact'] as const);
  assertNumber(fn, 'options.rtol', rtol, { exclusiveMin: 0 });
  assertNumber(fn, 'options.atol', atol, { exclusiveMin: 0 });
  assertNumber(fn, 'options.eps', eps, { exclusiveMin: 0, max: sde.T });
  const shape = x.shape.slice();
  const n = shape[0]!;
  const size = x.size;
  const dim = size / n;
  let probe: tf.Tensor | null = null;
  if (options.noise !== undefined) {
    assertTensor(fn, 'options.noise', options.noise);
    checkOutput(fn, 'options.noise', options.noise, shape);
    if (trace !== 'exact') probe = options.noise; // the exact trace needs no probe
  } else if (trace !== 'exact') {
    if (options.rng !== undefined && typeof options.rng.normal !== 'function') {
      throw new ValueError(
        argumentMessage(fn, 'options.rng', 'an Rng from createRng(seed)', String(options.rng)),
      );
    }
    const gen = options.rng ?? createRng(0);
    probe =
      trace === 'gaussian'
        ? gen.normal(shape)
        : tf.tensor(
            Float32Array.from(gen.uniformData(size), (u) => (u < 0.5 ? -1 : 1)),
            shape,
          );
  }
  const rsde = sde.reverse(score, { probabilityFlow: true });
  const driftOf = (xt: tf.Tensor, t: tf.Tensor) => rsde.sde(xt, t).drift;
  const basis: tf.Tensor[] = [];
  if (trace === 'exact') {
    for (let j = 0; j < dim; j++) {
      const e = new Float32Array(size);
      for (let i = 0; i < n; i++) e[i * dim + j] = 1;
      basis.push(tf.tensor(e, shape));
    }
  }
  const probes = trace === 'exact' ? basis : [probe!];
  const rhs = (t: number, y: Float64Array) =>
    hostTidy(() => {
      const xt = tf.tensor(Float32Array.from(y.subarray(0, size)), shape);
      const vt = tf.fill([n], t);
      const out = new Float64Array(size + n);
      out.set(toHost64(driftOf(xt, vt)), 0);
      const div = new Float64Array(n);
      for (const p of probes) {
        const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(driftOf(xx, vt), p)))(xt);
        const d = rowSum(tf.mul(g, p)).dataSync();
        for (let i = 0; i < n; i++) div[i]! += d[i]!;
      }
      out.set(div, size);
      return out;
    });
  const y0 = new Float64Array(size + n);
  y0.set(toHost64(x), 0);
  let res: ReturnType<typeof solveRk45>;
  try {
    res = solveRk45(rhs, eps, sde.T, y0, { rtol, atol });
  } finally {
    for (const b of basis) b.dispose();
    if (probe && probe !== options.noise) probe.dispose();
  }
  const z = tf.tensor(Float32Array.from(res.y.subarray(0, size)), shape);
  const priorLogp = sde.priorLogp(z);
  const deltaLogp = Float64Array.from(res.y.subarray(size));
  const logp = priorLogp.map((v, i) => v + deltaLogp[i]!);
  const bitsPerDim = logp.map((v) => -v / Math.LN2 / dim);
  return { logp, bitsPerDim, priorLogp, deltaLogp, z, nfe: res.nfe };
}

/** log p(x) in nats per row by the probability-flow ODE ({@link likelihood}; score_sde `get_likelihood_fn`). */
export function logLikelihood(
  sde: Sde,
  score: ScoreFn,
  x: tf.Tensor,
  options: LikelihoodOptions = {},
): Float64Array {
  const r = likelihood(sde, score, x, options);
  r.z.dispose();
  return r.logp;
}
