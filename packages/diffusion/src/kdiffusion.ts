/**
 * The samplers of crowsonkb/k-diffusion (`k_diffusion/sampling.py`), on any σ schedule, for a denoiser D(x; σ):
 * Euler, Euler ancestral, Heun, DPM-2, DPM-2 ancestral, LMS, DPM++ 2S ancestral, DPM++ 2M, DPM++ 2M SDE, DPM++ SDE
 * (Karras et al. 2022; Lu et al. 2022, DPM-Solver and DPM-Solver++).
 *
 * Every sampler: `sampleX(denoiser, x, sigmas, options)`, x `[batch, ...dims]` already at σ₀ (e.g. latents·σ₀),
 * sigmas `[n + 1]` (decreasing, final 0); returns `[batch, ...dims]` at σₙ.
 */

import {
  assertInteger,
  assertKnownOptions,
  assertNumber,
  assertOneOf,
  type Rng,
  ValueError,
} from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { brownianTreeNoise, type SigmaNoiseSampler } from './brownian.js';
import { integrate } from './quadrature.js';
import type { Denoiser, NoiseFn, StepCallback } from './types.js';
import {
  assertFunction,
  assertSamples,
  checkOutput,
  denoise,
  noiseSource,
  release,
  toSigmas,
} from './util.js';

/** Options of the deterministic samplers (Euler, Heun, DPM-2 take the churn knobs of Algorithm 2). */
export interface KSamplerOptions {
  sChurn?: number;
  sTmin?: number;
  sTmax?: number;
  sNoise?: number;
  noise?: NoiseFn;
  rng?: Rng;
  callback?: StepCallback;
}

/**
 * Options of the ancestral / SDE samplers. `noise(shape, j)` is the j-th call of k-diffusion's noise_sampler;
 * `noiseSampler(σ, σ')` is k-diffusion's own form (e.g. {@link brownianTreeNoise}). Without either, normals come from
 * `rng`, except for the DPM++ SDE samplers, which default (as k-diffusion) to a Brownian tree seeded from `rng`.
 */
export interface AncestralOptions {
  eta?: number;
  sNoise?: number;
  noise?: NoiseFn;
  noiseSampler?: SigmaNoiseSampler;
  rng?: Rng;
  callback?: StepCallback;
}

type Prepared = {
  fn: string;
  sigmas: Float64Array;
  randn: NoiseFn;
  shape: number[];
  /** The next noise draw for the step σ → σ' (counts calls for `noise`). */
  draw: (sigma: number, sigmaNext: number) => tf.Tensor;
};

function prepare(
  fn: string,
  denoiser: Denoiser,
  x: tf.Tensor,
  sigmas: unknown,
  options: object,
  keys: string[],
  brownianDefault = false,
): Prepared {
  assertFunction(fn, 'denoiser', denoiser);
  assertSamples(fn, 'x', x);
  const s = toSigmas(fn, 'sigmas', sigmas);
  assertKnownOptions(fn, options, keys);
  const o = options as KSamplerOptions & AncestralOptions;
  if (o.sNoise !== undefined) assertNumber(fn, 'options.sNoise', o.sNoise, { min: 0 });
  if (o.eta !== undefined) assertNumber(fn, 'options.eta', o.eta, { min: 0 });
  if (o.callback !== undefined) assertFunction(fn, 'options.callback', o.callback);
  if (o.noiseSampler !== undefined) assertFunction(fn, 'options.noiseSampler', o.noiseSampler);
  const shape = x.shape.slice();
  const randn = noiseSource(fn, o.noise, o.rng);
  let calls = 0;
  let sampler = o.noiseSampler;
  if (sampler === undefined && o.noise === undefined && brownianDefault) {
    const positive = Array.from(s).filter((v) => v > 0);
    const seed = o.rng ? o.rng.uint32Data(1)[0]! : 0;
    if (positive.length > 0 && Math.max(...positive) > Math.min(...positive)) {
      sampler = brownianTreeNoise(shape, {
        sigmaMin: Math.min(...positive),
        sigmaMax: Math.max(...positive),
        seed,
      });
    }
  }
  const chosen = sampler;
  const draw = chosen
    ? (sigma: number, sigmaNext: number) => {
        const z = chosen(sigma, sigmaNext);
        checkOutput(fn, `noiseSampler(${sigma}, ${sigmaNext})`, z, shape);
        return z;
      }
    : () => randn(shape, calls++);
  return { fn, sigmas: s, randn, shape, draw };
}

/** k-diffusion `to_d`: the ODE derivative (x − D)/σ. */
function toD(x: tf.Tensor, sigma: number, denoised: tf.Tensor): tf.Tensor {
  return tf.div(tf.sub(x, denoised), sigma);
}

/**
 * k-diffusion `get_ancestral_step`: σ_up = min(σ_to, η·√(σ_to²(σ_from² − σ_to²)/σ_from²)), σ_down = √(σ_to² − σ_up²).
 */
export function ancestralStep(
  sigmaFrom: number,
  sigmaTo: number,
  eta = 1,
): { sigmaDown: number; sigmaUp: number } {
  if (!eta) return { sigmaDown: sigmaTo, sigmaUp: 0 };
  const sigmaUp = Math.min(
    sigmaTo,
    eta * Math.sqrt((sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2),
  );
  return { sigmaDown: Math.sqrt(sigmaTo ** 2 - sigmaUp ** 2), sigmaUp };
}

const DET_KEYS = ['sChurn', 'sTmin', 'sTmax', 'sNoise', 'noise', 'rng', 'callback'];
const ANC_KEYS = ['eta', 'sNoise', 'noise', 'noiseSampler', 'rng', 'callback'];

function churnParams(fn: string, o: KSamplerOptions) {
  const { sChurn = 0, sTmin = 0, sTmax = Infinity, sNoise = 1 } = o;
  assertNumber(fn, 'options.sChurn', sChurn, { min: 0 });
  assertNumber(fn, 'options.sTmin', sTmin, { min: 0 });
  assertNumber(fn, 'options.sTmax', sTmax, { min: 0, finite: false });
  return { sChurn, sTmin, sTmax, sNoise };
}

/** Runs `steps` iterations of `body`, each in tf.tidy, releasing the previous state (never the caller's x). */
function loop<S extends tf.Tensor[]>(
  input: tf.Tensor,
  init: S,
  n: number,
  body: (i: number, state: S) => S,
): tf.Tensor {
  let state = init;
  for (let i = 0; i < n; i++) {
    const prev = state;
    state = tf.tidy(() => body(i, prev));
    for (const t of prev) if (t && !state.includes(t)) release(t, [input]);
  }
  for (let j = 1; j < state.length; j++) if (state[j]) release(state[j], [input, state[0]!]);
  return state[0]!;
}

/** One churned start (Algorithm 2, lines 4–6) shared by Euler, Heun and DPM-2. */
function churn(p: Prepared, o: ReturnType<typeof churnParams>, x: tf.Tensor, i: number) {
  const { sigmas } = p;
  const steps = sigmas.length - 1;
  const gamma =
    o.sChurn > 0 && o.sTmin <= sigmas[i]! && sigmas[i]! <= o.sTmax
      ? Math.min(o.sChurn / steps, Math.SQRT2 - 1)
      : 0;
  const sigmaHat = sigmas[i]! * (gamma + 1);
  if (gamma > 0) {
    // Injected noise is indexed by step (k-diffusion draws randn_like(x) at every step, used when γ > 0).
    const eps = p.randn(p.shape, i);
    x = tf.add(x, tf.mul(eps, o.sNoise * Math.sqrt(sigmaHat ** 2 - sigmas[i]! ** 2)));
  }
  return { x, sigmaHat };
}

/** Karras et al. 2022, Algorithm 2 with Euler steps (k-diffusion `sample_euler`). NFE = n. */
export function sampleEuler(
  denoiser: Denoiser,
  x: tf.Tensor,
  sigmas: ArrayLike<number>,
  options: KSamplerOptions = {},
): tf.Tensor {
  const p = prepare('diffusion.sampleEuler', denoiser, x, sigmas, options, DET_KEYS);
  const o = churnParams(p.fn, options);
  const s = p.sigmas;
  return loop(x, [x], s.length - 1, (i, [xc]) => {
    const { x: xh, sigmaHat } = churn(p, o, xc!, i);
    const denoised = denoise(p.fn, denoiser, xh, sigmaHat);
    options.callback?.({ i, x: xh, sigma: s[i]!, sigmaHat, denoised });
    return [tf.add(xh, tf.mul(toD(xh, sigmaHat, denoised), s[i + 1]! - sigmaHat))];
  });
}

/** Karras et al. 2022, Algorithm 2 (k-diffusion `sample_heun`): Heun steps, Euler into σ = 0. NFE = 2n − 1. */
export function sampleHeun(
  denoiser: Denoiser,
  x: tf.Tensor,
  sigmas: ArrayLike<number>,
  options: KSamplerOptions = {},
): tf.Tensor {
  const p = prepare('diffusion.sampleHeun', denoiser, x, sigmas, options, DET_KEYS);
  const o = churnParams(p.fn, options);
  const s = p.sigmas;
  return loop(x, [x], s.length - 1, (i, [xc]) => {
    const { x: xh, sigmaHat } = churn(p, o, xc!, i);
    const denoised = denoise(p.fn, denoiser, xh, sigmaHat);
    options.callback?.({ i, x: xh, sigma: s[i]!, sigmaHat, denoised });
    const d = toD(xh, sigmaHat, denoised);
    const dt = s[i + 1]! - sigmaHat;
    if (s[i + 1] === 0) return [tf.add(xh, tf.mul(d, dt))];
    const x2 = tf.add(xh, tf.mul(d, dt));
    const d2 = toD(x2, s[i + 1]!, denoise(p.fn, denoiser, x2, s[i + 1]!));
    return [tf.add(xh, tf.mul(tf.add(d, d2), dt / 2))];
  });
}

/** DPM-Solver-2 in Karras et al.'s form (k-diffusion `sample_dpm_2`): midpoint in log σ. NFE = 2n − 1. */
export function sampleDpm2(
  denoiser: Denoiser,
  x: tf.Tensor,
  sigmas: ArrayLike<number>,
  options: KSamplerOptions = {},
): tf.Tensor {
  const p = prepare('diffusion.sampleDpm2', denoiser, x, sigmas, options, DET_KEYS);
  const o = churnParams(p.fn, options);
  const s = p.sigmas;
  return loop(x, [x], s.length - 1, (i, [xc]) => {
    const { x: xh, sigmaHat } = churn(p, o, xc!, i);
    const denoised = denoise(p.fn, denoiser, xh, sigmaHat);
    options.callback?.({ i, x: xh, sigma: s[i]!, sigmaHat, denoised });
    const d = toD(xh, sigmaHat, denoised);
    if (s[i + 1] === 0) return [tf.add(xh, tf.mul(d, s[i + 1]! - sigmaHat))];
    const sigmaMid = Math.exp(0.5 * (Math.log(sigmaHat) + Math.log(s[i + 1]!)));
    const x2 = tf.add(xh, tf.mul(d, sigmaMid - sigmaHat));
    const d2 = toD(x2, sigmaMid, denoise(p.fn, denoiser, x2, sigmaMid));
    return [tf.add(xh, tf.mul(d2, s[i + 1]! - sigmaHat))];
  });
}

/** Ancestral sampling with Euler steps (k-diffusion `sample_euler_ancestral`). Noise drawn when σ_{i+1} > 0. */
export function sampleEulerAncestral(
  denoiser: Denoiser,
  x: tf.Tensor,
  sigmas: ArrayLike<number>,
  options: AncestralOptions = {},
): tf.Tensor {
  const p = prepare('diffusion.sampleEulerAncestral', denoiser, x, sigmas, options, ANC_KEYS);
  const { eta = 1, sNoise = 1 } = options;
  const s = p.sigmas;
  return loop(x, [x], s.length - 1, (i, [xc]) => {
    const denoised = denoise(p.fn, denoiser, xc!, s[i]!);
    const { sigmaDown, sigmaUp } = ancestralStep(s[i]!, s[i + 1]!, eta);
    options.callback?.({ i, x: xc!, sigma: s[i]!, sigmaHat: s[i]!, denoised });
    let xn = tf.add(xc!, tf.mul(toD(xc!, s[i]!, denoised), sigmaDown - s[i]!));
    if (s[i + 1]! > 0) xn = tf.add(xn, tf.mul(p.draw(s[i]!, s[i + 1]!), sNoise * sigmaUp));
    return [xn];
  });
}

/** Ancestral sampling with DPM-Solver-2 steps (k-diffusion `sample_dpm_2_ancestral`); noise drawn when σ_down > 0. */
export function sampleDpm2Ancestral(
  denoiser: Denoiser,
  x: tf.Tensor,
  sigmas: ArrayLike<number>,
  options: AncestralOptions = {},
): tf.Tensor {
  const p = prepare('diffusion.sampleDpm2Ancestral', denoiser, x, sigmas, options, ANC_KEYS);
  const { eta = 1, sNoise = 1 } = options;
  const s = p.sigmas;
  return loop(x, [x], s.length - 1, (i, [xc]) => {
    const denoised = denoise(p.fn, denoiser, xc!, s[i]!);
    const { sigmaDown, sigmaUp } = ancestralStep(s[i]!, s[i + 1]!, eta);
    options.callback?.({ i, x: xc!, sigma: s[i]!, sigmaHat: s[i]!, denoised });
    const d = toD(xc!, s[i]!, denoised);
    if (sigmaDown === 0) return [tf.add(xc!, tf.mul(d, sigmaDown - s[i]!))];
    const sigmaMid = Math.exp(0.5 * (Math.log(s[i]!) + Math.log(sigmaDown)));
    const x2 = tf.add(xc!, tf.mul(d, sigmaMid - s[i]!));
    const d2 = toD(x2, sigmaMid, denoise(p.fn, denoiser, x2, sigmaMid));
    const xn = tf.add(xc!, tf.mul(d2, sigmaDown - s[i]!));
    // As k-diffusion: noise is added only after a DPM-Solver-2 step (σ_down > 0).
    return [tf.add(xn, tf.mul(p.draw(s[i]!, s[i + 1]!), sNoise * sigmaUp))];
  });
}

/**
 * k-diffusion `linear_multistep_coeff`: ∫_{σᵢ}^{σᵢ₊₁} Πₖ≠ⱼ (τ − σᵢ₋ₖ)/(σᵢ₋ⱼ − σᵢ₋ₖ) dτ (Lagrange basis of the
 * last `order` points), by adaptive Gauss–Kronrod quadrature as scipy.integrate.quad.
 */
export function linearMultistepCoeff(order: number, t: ArrayLike<number>, i: number, j: number): number {
  if (order - 1 > i)
    throw new ValueError(`diffusion.linearMultistepCoeff: order ${order} too high for step ${i}`);
  const basis = (tau: number) => {
    let prod = 1;
    for (let k = 0; k < order; k++) {
      if (j === k) continue;
      prod *= (tau - t[i - k]!) / (t[i - j]! - t[i - k]!);
    }
    return prod;
  };
  return integrate(basis, t[i]!, t[i + 1]!, { epsrel: 1e-4 }).value;
}

/** Linear multistep (Adams–Bashforth in σ) of `order` (k-diffusion `sample_lms`). NFE = n. */
export function sampleLms(
  denoiser: Denoiser,
  x: tf.Tensor,
  sigmas: ArrayLike<number>,
  options: { order?: number; callback?: StepCallback } = {},
): tf.Tensor {
  const p = prepare('diffusion.sampleLms', denoiser, x, sigmas, options, ['order', 'callback']);
  const { order = 4 } = options;
  assertInteger(p.fn, 'options.order', order, 1);
  const s = p.sigmas;
  const ds: tf.Tensor[] = [];
  const out = loop(x, [x], s.length - 1, (i, [xc]) => {
    const denoised = denoise(p.fn, denoiser, xc!, s[i]!);
    options.callback?.({ i, x: xc!, sigma: s[i]!, sigmaHat: s[i]!, denoised });
    const d = tf.keep(toD(xc!, s[i]!, denoised));
    ds.push(d);
    if (ds.length > order) ds.shift()!.dispose();
    const cur = Math.min(i + 1, order);
    let xn = xc!;
    for (let j = 0; j < cur; j++)
      xn = tf.add(xn, tf.mul(ds[ds.length - 1 - j]!, linearMultistepCoeff(cur, s, i, j)));
    return [xn];
  });
  for (const d of ds) d.dispose();
  return out;
}

/** DPM-Solver++(2S) with ancestral noise (k-diffusion `sample_dpmpp_2s_ancestral`). */
export function sampleDpmpp2sAncestral(
  denoiser: Denoiser,
  x: tf.Tensor,
  sigmas: ArrayLike<number>,
  options: AncestralOptions = {},
): tf.Tensor {
  const p = prepare('diffusion.sampleDpmpp2sAncestral', denoiser, x, sigmas, options, ANC_KEYS);
  const { eta = 1, sNoise = 1 } = options;
  const s = p.sigmas;
  return loop(x, [x], s.length - 1, (i, [xc]) => {
    const denoised = denoise(p.fn, denoiser, xc!, s[i]!);
    const { sigmaDown, sigmaUp } = ancestralStep(s[i]!, s[i + 1]!, eta);
    options.callback?.({ i, x: xc!, sigma: s[i]!, sigmaHat: s[i]!, denoised });
    let xn: tf.Tensor;
    if (sigmaDown === 0) {
      xn = tf.add(xc!, tf.mul(toD(xc!, s[i]!, denoised), sigmaDown - s[i]!));
    } else {
      const t = -Math.log(s[i]!);
      const tNext = -Math.log(sigmaDown);
      const h = tNext - t;
      const sMid = t + 0.5 * h;
      const x2 = tf.sub(tf.mul(xc!, Math.exp(-sMid) / Math.exp(-t)), tf.mul(denoised, Math.expm1(-0.5 * h)));
      const denoised2 = denoise(p.fn, denoiser, x2, Math.exp(-sMid));
      xn = tf.sub(tf.mul(xc!, Math.exp(-tNext) / Math.exp(-t)), tf.mul(denoised2, Math.expm1(-h)));
    }
    if (s[i + 1]! > 0) xn = tf.add(xn, tf.mul(p.draw(s[i]!, s[i + 1]!), sNoise * sigmaUp));
    return [xn];
  });
}

/** DPM-Solver++(2M) (Lu et al. 2022; k-diffusion `sample_dpmpp_2m`). NFE = n. */
export function sampleDpmpp2m(
  denoiser: Denoiser,
  x: tf.Tensor,
  sigmas: ArrayLike<number>,
  options: { callback?: StepCallback } = {},
): tf.Tensor {
  const p = prepare('diffusion.sampleDpmpp2m', denoiser, x, sigmas, options, ['callback']);
  const s = p.sigmas;
  const tFn = (sigma: number) => -Math.log(sigma);
  return loop(x, [x, null as unknown as tf.Tensor], s.length - 1, (i, [xc, old]) => {
    const denoised = denoise(p.fn, denoiser, xc!, s[i]!);
    options.callback?.({ i, x: xc!, sigma: s[i]!, sigmaHat: s[i]!, denoised });
    const t = tFn(s[i]!);
    const tNext = tFn(s[i + 1]!);
    const h = tNext - t;
    const ratio = s[i + 1]! / s[i]!; // σ_fn(t_next)/σ_fn(t)
    const phi = -Math.expm1(-h); // 1 − e^{−h}; 1 when σ_{i+1} = 0
    let dd: tf.Tensor = denoised;
    if (old && s[i + 1]! !== 0) {
      const hLast = t - tFn(s[i - 1]!);
      const r = hLast / h;
      dd = tf.sub(tf.mul(denoised, 1 + 1 / (2 * r)), tf.mul(old, 1 / (2 * r)));
    }
    return [tf.add(tf.mul(xc!, ratio), tf.mul(dd, phi)), denoised];
  });
}

/**
 * DPM-Solver++(2M) SDE (k-diffusion `sample_dpmpp_2m_sde`, midpoint or Heun correction). One noise call per step
 * whose σ_{i+1} > 0 (k-diffusion's default is a Brownian tree; here iid normals or the injected `noise`).
 */
export function sampleDpmpp2mSde(
  denoiser: Denoiser,
  x: tf.Tensor,
  sigmas: ArrayLike<number>,
  options: AncestralOptions & { solverType?: 'midpoint' | 'heun' } = {},
): tf.Tensor {
  const p = prepare(
    'diffusion.sampleDpmpp2mSde',
    denoiser,
    x,
    sigmas,
    options,
    [...ANC_KEYS, 'solverType'],
    true,
  );
  const { eta = 1, sNoise = 1, solverType = 'midpoint' } = options;
  assertOneOf(p.fn, 'options.solverType', solverType, ['midpoint', 'heun'] as const);
  const s = p.sigmas;
  let hLast = Number.NaN;
  return loop(x, [x, null as unknown as tf.Tensor], s.length - 1, (i, [xc, old]) => {
    const denoised = denoise(p.fn, denoiser, xc!, s[i]!);
    options.callback?.({ i, x: xc!, sigma: s[i]!, sigmaHat: s[i]!, denoised });
    if (s[i + 1] === 0) return [denoised, denoised];
    const t = -Math.log(s[i]!);
    const sN = -Math.log(s[i + 1]!);
    const h = sN - t;
    const etaH = eta * h;
    const phi = -Math.expm1(-h - etaH);
    let xn = tf.add(tf.mul(xc!, (s[i + 1]! / s[i]!) * Math.exp(-etaH)), tf.mul(denoised, phi));
    if (old) {
      const r = hLast / h;
      const coeff = solverType === 'heun' ? (phi / (-h - etaH) + 1) * (1 / r) : 0.5 * phi * (1 / r);
      xn = tf.add(xn, tf.mul(tf.sub(denoised, old), coeff));
    }
    if (eta) {
      xn = tf.add(
        xn,
        tf.mul(p.draw(s[i]!, s[i + 1]!), s[i + 1]! * Math.sqrt(-Math.expm1(-2 * etaH)) * sNoise),
      );
    }
    hLast = h;
    return [xn, denoised];
  });
}

/** DPM-Solver++ (stochastic, 2nd order, substep ratio r; k-diffusion `sample_dpmpp_sde`). Two noise calls per step. */
export function sampleDpmppSde(
  denoiser: Denoiser,
  x: tf.Tensor,
  sigmas: ArrayLike<number>,
  options: AncestralOptions & { r?: number } = {},
): tf.Tensor {
  const p = prepare('diffusion.sampleDpmppSde', denoiser, x, sigmas, options, [...ANC_KEYS, 'r'], true);
  const { eta = 1, sNoise = 1, r = 0.5 } = options;
  assertNumber(p.fn, 'options.r', r, { exclusiveMin: 0, max: 1 });
  const s = p.sigmas;
  const sigmaFn = (t: number) => Math.exp(-t);
  const tFn = (sigma: number) => -Math.log(sigma);
  return loop(x, [x], s.length - 1, (i, [xc]) => {
    const denoised = denoise(p.fn, denoiser, xc!, s[i]!);
    options.callback?.({ i, x: xc!, sigma: s[i]!, sigmaHat: s[i]!, denoised });
    if (s[i + 1] === 0) return [tf.add(xc!, tf.mul(toD(xc!, s[i]!, denoised), s[i + 1]! - s[i]!))];
    const t = tFn(s[i]!);
    const tNext = tFn(s[i + 1]!);
    const h = tNext - t;
    const sMid = t + h * r;
    const fac = 1 / (2 * r);
    // Step 1
    const a1 = ancestralStep(sigmaFn(t), sigmaFn(sMid), eta);
    const s1 = tFn(a1.sigmaDown);
    let x2 = tf.sub(tf.mul(xc!, sigmaFn(s1) / sigmaFn(t)), tf.mul(denoised, Math.expm1(t - s1)));
    x2 = tf.add(x2, tf.mul(p.draw(sigmaFn(t), sigmaFn(sMid)), sNoise * a1.sigmaUp));
    const denoised2 = denoise(p.fn, denoiser, x2, sigmaFn(sMid));
    // Step 2
    const a2 = ancestralStep(sigmaFn(t), sigmaFn(tNext), eta);
    const t2 = tFn(a2.sigmaDown);
    const dd = tf.add(tf.mul(denoised, 1 - fac), tf.mul(denoised2, fac));
    let xn = tf.sub(tf.mul(xc!, sigmaFn(t2) / sigmaFn(t)), tf.mul(dd, Math.expm1(t - t2)));
    xn = tf.add(xn, tf.mul(p.draw(sigmaFn(t), sigmaFn(tNext)), sNoise * a2.sigmaUp));
    return [xn];
  });
}
