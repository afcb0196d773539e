/**
 * Training (Karras et al. 2022, Section 5 and `training/loss.py`; Lipman et al. 2023, conditional flow matching):
 * the denoising score-matching loss E_{σ,y,n}[λ(σ)·‖D(y + n; σ) − y‖²] of any formulation, a small residual MLP
 * denoiser, 2-D toy data sets and the maximum mean discrepancy used to check samples.
 */

import {
  argumentMessage,
  assertInteger,
  assertKnownOptions,
  assertNumber,
  assertOneOf,
  assertTensor,
  formatShape,
  type Rng,
  ShapeError,
  ValueError,
} from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { Formulation } from './formulations.js';
import type { RawModel } from './precond.js';
import type { Denoiser } from './types.js';
import { assertFunction, assertSamples, checkOutput, rowShape } from './util.js';

/**
 * The loss of one batch (EDM `training/loss.py`): σ ~ p_train (the formulation's), n ~ N(0, σ²I),
 * loss = mean over the batch of λ(σ)·Σ_dims (D(y + n; σ) − y)², D the formulation's preconditioned wrapper of F.
 *
 * - data y: `[batch, ...dims]`; returns a scalar, differentiable w.r.t. the model's variables.
 * - `sigma` `[batch]` and `noise` `[batch, ...dims]` (standard normal) may be given for reproducible losses.
 */
export function diffusionLoss(
  form: Formulation,
  model: RawModel,
  data: tf.Tensor,
  options: { rng?: Rng; sigma?: ArrayLike<number>; noise?: tf.Tensor } = {},
): tf.Scalar {
  const fn = 'diffusion.diffusionLoss';
  assertFunction(fn, 'model', model);
  assertSamples(fn, 'data', data);
  assertKnownOptions(fn, options, ['rng', 'sigma', 'noise']);
  const n = data.shape[0]!;
  let sigma: Float64Array;
  if (options.sigma !== undefined) {
    sigma = Float64Array.from(options.sigma);
    if (sigma.length !== n)
      throw new ShapeError(
        argumentMessage(fn, 'options.sigma', `${n} noise levels (one per row)`, `length ${sigma.length}`),
      );
  } else {
    if (!options.rng)
      throw new ValueError(
        argumentMessage(fn, 'options.rng', 'an Rng (or options.sigma and options.noise)', 'undefined'),
      );
    sigma = form.sampleTrainingSigma(n, options.rng);
  }
  if (options.noise !== undefined) {
    assertTensor(fn, 'options.noise', options.noise);
    checkOutput(fn, 'options.noise', options.noise, data.shape);
  } else if (!options.rng) {
    throw new ValueError(argumentMessage(fn, 'options.rng', 'an Rng (or options.noise)', 'undefined'));
  }
  const weight = Float32Array.from(sigma, (s) => form.lossWeight(s));
  const noise = options.noise ?? options.rng!.normal(data.shape);
  const denoiser = form.precond.wrap(model);
  const loss = tf.tidy(() => {
    const sig = tf.tensor1d(Float32Array.from(sigma));
    const y = tf.add(data, tf.mul(noise, tf.reshape(sig, rowShape(data))));
    const d = denoiser(y, sig);
    const err = tf.sum(tf.reshape(tf.square(tf.sub(d, data)), [n, -1]), 1); // [batch]
    return tf.mean(tf.mul(err, tf.tensor1d(weight))) as tf.Scalar;
  });
  if (noise !== options.noise) noise.dispose();
  return loss;
}

/**
 * Conditional flow matching (Lipman et al. 2023; rectified flow, Liu et al. 2023): t ~ U(0, 1) (or given),
 * x_t = (1 − t)x₀ + tε, loss = mean‖v(x_t, t) − (ε − x₀)‖² summed over dims. v: `(x_t, t [batch]) => [batch, ...dims]`.
 */
export function flowMatchingLoss(
  velocity: (xt: tf.Tensor, t: tf.Tensor) => tf.Tensor,
  data: tf.Tensor,
  options: { rng?: Rng; t?: ArrayLike<number>; noise?: tf.Tensor } = {},
): tf.Scalar {
  const fn = 'diffusion.flowMatchingLoss';
  assertFunction(fn, 'velocity', velocity);
  assertSamples(fn, 'data', data);
  assertKnownOptions(fn, options, ['rng', 't', 'noise']);
  const n = data.shape[0]!;
  if ((options.t === undefined || options.noise === undefined) && !options.rng) {
    throw new ValueError(
      argumentMessage(fn, 'options.rng', 'an Rng (or options.t and options.noise)', 'undefined'),
    );
  }
  const t = options.t !== undefined ? Float32Array.from(options.t) : options.rng!.uniformData(n);
  if (t.length !== n)
    throw new ShapeError(argumentMessage(fn, 'options.t', `${n} times`, `length ${t.length}`));
  const noise = options.noise ?? options.rng!.normal(data.shape);
  const loss = tf.tidy(() => {
    const tt = tf.tensor1d(t);
    const tr = tf.reshape(tt, rowShape(data));
    const xt = tf.add(tf.mul(data, tf.sub(1, tr)), tf.mul(noise, tr));
    const v = velocity(xt, tt);
    checkOutput(fn, 'velocity', v, data.shape);
    return tf.mean(tf.sum(tf.reshape(tf.square(tf.sub(v, tf.sub(noise, data))), [n, -1]), 1)) as tf.Scalar;
  });
  if (noise !== options.noise) noise.dispose();
  return loss;
}

/** A small residual MLP F(c_in·x, c_noise) for `[batch, dim]` data, with a Fourier or positional embedding of c_noise. */
export interface MlpDenoiserModel {
  /** F: xIn `[batch, dim]`, cNoise `[batch]` → `[batch, dim]`. */
  apply: RawModel;
  readonly variables: tf.Variable[];
  dispose(): void;
}

/**
 * A residual MLP: h = W_in·x + W_e·[sin, cos](f·c_noise); `blocks` × (h += W₂·SiLU(W₁·LayerNorm(h))); out = W_out·SiLU(h).
 * Weights He-initialised from `rng`; the output layer starts at zero (so D starts as c_skip·x).
 *
 * The `embedding` frequencies f of c_noise follow NVlabs/edm `training/networks.py`:
 * - `'fourier'` (default): random f ~ 2π·N(0, 1), for noise inputs of order one (EDM's ¼ ln σ, VE's ln(σ/2),
 *   flow matching's t);
 * - `'positional'`: f_i = 10000^(−i/E), the transformer embedding DDPM++ uses, for VP's and iDDPM's c_noise
 *   (999·t and the step index, 0 … 999), which random Fourier frequencies alias.
 */
export function createMlpDenoiser(options: {
  dim?: number;
  hidden?: number;
  blocks?: number;
  embedding?: number;
  noiseEmbedding?: 'fourier' | 'positional';
  rng: Rng;
}): MlpDenoiserModel {
  const fn = 'diffusion.createMlpDenoiser';
  assertKnownOptions(fn, options, ['dim', 'hidden', 'blocks', 'embedding', 'noiseEmbedding', 'rng']);
  const { dim = 2, hidden = 128, blocks = 3, embedding = 16, noiseEmbedding = 'fourier', rng } = options;
  assertOneOf(fn, 'options.noiseEmbedding', noiseEmbedding, ['fourier', 'positional'] as const);
  assertInteger(fn, 'options.dim', dim, 1);
  assertInteger(fn, 'options.hidden', hidden, 1);
  assertInteger(fn, 'options.blocks', blocks, 0);
  assertInteger(fn, 'options.embedding', embedding, 1);
  if (!rng || typeof rng.normal !== 'function')
    throw new ValueError(argumentMessage(fn, 'options.rng', 'an Rng from createRng(seed)', String(rng)));
  const vars: tf.Variable[] = [];
  const weight = (i: number, o: number, scale = Math.sqrt(2 / i)) => {
    const v = tf.tidy(() => tf.variable(tf.mul(rng.normal([i, o]), scale)));
    vars.push(v);
    return v;
  };
  const bias = (o: number) => {
    const v = tf.tidy(() => tf.variable(tf.zeros([o])));
    vars.push(v);
    return v;
  };
  const freqs = tf.keep(
    tf.tidy(() =>
      noiseEmbedding === 'fourier'
        ? tf.mul(rng.normal([1, embedding]), 2 * Math.PI)
        : tf.tensor2d(Array.from({ length: embedding }, (_, i) => 10000 ** (-i / embedding)), [1, embedding]),
    ),
  );
  const wIn = weight(dim, hidden);
  const wEmb = weight(2 * embedding, hidden, Math.sqrt(1 / embedding));
  const bIn = bias(hidden);
  const layers = Array.from({ length: blocks }, () => ({
    w1: weight(hidden, hidden),
    b1: bias(hidden),
    w2: weight(hidden, hidden, Math.sqrt(1 / hidden)),
    b2: bias(hidden),
  }));
  const wOut = weight(hidden, dim, 0);
  const bOut = bias(dim);
  const apply: RawModel = (xIn, cNoise) =>
    tf.tidy(() => {
      const n = xIn.shape[0]!;
      const angle = tf.matMul(tf.reshape(cNoise, [n, 1]), freqs); // [batch, embedding]
      const emb = tf.concat([tf.sin(angle), tf.cos(angle)], 1);
      let h = tf.add(tf.add(tf.matMul(tf.reshape(xIn, [n, dim]), wIn), tf.matMul(emb, wEmb)), bIn);
      for (const l of layers) {
        const { mean, variance } = tf.moments(h, 1, true); // LayerNorm without affine parameters
        const hn = tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5)));
        const a = tf.add(tf.matMul(hn, l.w1), l.b1);
        h = tf.add(h, tf.add(tf.matMul(tf.mul(a, tf.sigmoid(a)), l.w2), l.b2));
      }
      const out = tf.add(tf.matMul(tf.mul(h, tf.sigmoid(h)), wOut), bOut);
      return tf.reshape(out, xIn.shape);
    });
  return {
    apply,
    variables: vars,
    dispose: () => {
      for (const v of vars) v.dispose();
      freqs.dispose();
    },
  };
}

/**
 * Trains F with {@link diffusionLoss} and Adam (Kingma & Ba 2015, β = (0.9, 0.999)), the learning rate decayed by a
 * half cosine to 10% (`schedule: 'cosine'`, default) or constant. With `ema` (e.g. 0.99) an exponential moving
 * average of the weights is kept and written into the model at the end (as EDM samples from its EMA network).
 * `data` is a pool `[n, ...dims]` to draw batches from, or `(step) => batch`. Returns the loss of every step.
 */
export function trainDenoiser(
  form: Formulation,
  model: MlpDenoiserModel,
  data: tf.Tensor | ((step: number) => tf.Tensor),
  options: {
    steps?: number;
    batchSize?: number;
    learningRate?: number;
    schedule?: 'cosine' | 'constant';
    ema?: number;
    rng: Rng;
    onStep?: (step: number, loss: number) => void;
  },
): Float64Array {
  const fn = 'diffusion.trainDenoiser';
  assertKnownOptions(fn, options, ['steps', 'batchSize', 'learningRate', 'schedule', 'ema', 'rng', 'onStep']);
  const { steps = 1000, batchSize = 256, learningRate = 2e-3, schedule = 'cosine', ema = 0, rng } = options;
  assertInteger(fn, 'options.steps', steps, 1);
  assertInteger(fn, 'options.batchSize', batchSize, 1);
  assertNumber(fn, 'options.learningRate', learningRate, { exclusiveMin: 0 });
  assertOneOf(fn, 'options.schedule', schedule, ['cosine', 'constant'] as const);
  assertNumber(fn, 'options.ema', ema, { min: 0, max: 1 });
  if (!rng || typeof rng.normal !== 'function')
    throw new ValueError(argumentMessage(fn, 'options.rng', 'an Rng from createRng(seed)', String(rng)));
  const vars = model.variables;
  const m1 = vars.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
  const m2 = vars.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
  const avg = ema > 0 ? vars.map((v) => tf.tidy(() => tf.variable(tf.clone(v), false))) : [];
  const [b1, b2, epsAdam] = [0.9, 0.999, 1e-8];
  const losses = new Float64Array(steps);
  const pool = typeof data === 'function' ? null : data;
  try {
    for (let step = 0; step < steps; step++) {
      const batch =
        pool === null
          ? (data as (s: number) => tf.Tensor)(step)
          : tf.tidy(() =>
              tf.gather(pool, tf.tensor1d(rng.randintData(batchSize, 0, pool.shape[0]!), 'int32')),
            );
      const { value, grads } = tf.variableGrads(() => diffusionLoss(form, model.apply, batch, { rng }), vars);
      const lr =
        schedule === 'cosine'
          ? learningRate * (0.1 + 0.45 * (1 + Math.cos((Math.PI * step) / steps)))
          : learningRate;
      const c1 = 1 - b1 ** (step + 1);
      const c2 = 1 - b2 ** (step + 1);
      tf.tidy(() => {
        vars.forEach((v, k) => {
          const g = grads[v.name]!;
          m1[k]!.assign(tf.add(tf.mul(m1[k]!, b1), tf.mul(g, 1 - b1)));
          m2[k]!.assign(tf.add(tf.mul(m2[k]!, b2), tf.mul(tf.square(g), 1 - b2)));
          const upd = tf.div(tf.div(m1[k]!, c1), tf.add(tf.sqrt(tf.div(m2[k]!, c2)), epsAdam));
          v.assign(tf.sub(v, tf.mul(upd, lr)));
          if (ema > 0) avg[k]!.assign(tf.add(tf.mul(avg[k]!, ema), tf.mul(v, 1 - ema)));
        });
      });
      losses[step] = value.dataSync()[0]!;
      tf.dispose([value, batch, ...Object.values(grads)]);
      options.onStep?.(step, losses[step]!);
    }
    if (ema > 0) {
      vars.forEach((v, k) => {
        v.assign(avg[k]!);
      });
    }
  } finally {
    tf.dispose([...m1, ...m2, ...avg]);
  }
  return losses;
}

/** The trained denoiser D = the formulation's preconditioning around the model. */
export function mlpDenoiser(form: Formulation, model: MlpDenoiserModel): Denoiser {
  return form.precond.wrap(model.apply);
}

/**
 * 2-D toy data `[n, 2]`: 'mixture' (8 Gaussians on a circle of radius 2, std 0.15),
 * 'moons' (two interleaved half circles, noise 0.05 as scikit-learn's make_moons), 'swiss-roll' (the 2-D Swiss roll
 * t·(cos t, sin t)/5, t ∈ [1.5π, 4.5π], noise 0.05).
 */
export function toyData(kind: 'mixture' | 'moons' | 'swiss-roll', n: number, rng: Rng): tf.Tensor2D {
  const fn = 'diffusion.toyData';
  assertOneOf(fn, 'kind', kind, ['mixture', 'moons', 'swiss-roll'] as const);
  assertInteger(fn, 'n', n, 1);
  const u = rng.uniformData(n);
  const z = rng.normalData(2 * n);
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    let x: number;
    let y: number;
    if (kind === 'mixture') {
      const k = Math.min(7, Math.floor(u[i]! * 8));
      x = 2 * Math.cos((k * Math.PI) / 4) + 0.15 * z[2 * i]!;
      y = 2 * Math.sin((k * Math.PI) / 4) + 0.15 * z[2 * i + 1]!;
    } else if (kind === 'moons') {
      const upper = u[i]! < 0.5;
      const a = Math.PI * (upper ? u[i]! * 2 : (u[i]! - 0.5) * 2);
      x = upper ? Math.cos(a) : 1 - Math.cos(a);
      y = upper ? Math.sin(a) : 0.5 - Math.sin(a);
      x = (x - 0.5) * 1.6 + 0.05 * z[2 * i]!;
      y = (y - 0.25) * 1.6 + 0.05 * z[2 * i + 1]!;
    } else {
      const t = 1.5 * Math.PI * (1 + 2 * u[i]!);
      x = (t * Math.cos(t)) / 5 + 0.05 * z[2 * i]!;
      y = (t * Math.sin(t)) / 5 + 0.05 * z[2 * i + 1]!;
    }
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return tf.tensor2d(out, [n, 2]);
}

/**
 * Maximum mean discrepancy (Gretton et al. 2012, eq. 3): the unbiased U-statistic MMD²_u with a sum of Gaussian
 * kernels exp(−‖a − b‖²/(2h²)) over `bandwidths` (within-set sums exclude the diagonal, so two samples of one
 * distribution give ≈ 0, possibly slightly negative). a: `[n, dim]`, b: `[m, dim]` (n, m ≥ 2); returns MMD²_u.
 */
export function mmd(a: tf.Tensor, b: tf.Tensor, options: { bandwidths?: number[] } = {}): number {
  const fn = 'diffusion.mmd';
  assertTensor(fn, 'a', a);
  assertTensor(fn, 'b', b);
  if (a.rank !== 2 || a.shape[0]! < 2) {
    throw new ShapeError(
      argumentMessage(fn, 'a', 'rank 2 [n, dim] with n >= 2', `shape ${formatShape(a.shape)}`),
    );
  }
  if (b.rank !== 2 || b.shape[0]! < 2 || a.shape[1] !== b.shape[1]) {
    throw new ShapeError(
      argumentMessage(fn, 'b', `rank 2 [m, ${a.shape[1]}] with m >= 2`, `shape ${formatShape(b.shape)}`),
    );
  }
  const { bandwidths = [0.1, 0.2, 0.5, 1, 2] } = options;
  const A = a.dataSync();
  const B = b.dataSync();
  const d = a.shape[1]!;
  const ksum = (X: ArrayLike<number>, nx: number, Y: ArrayLike<number>, ny: number, same: boolean) => {
    let s = 0;
    for (let i = 0; i < nx; i++) {
      for (let j = 0; j < ny; j++) {
        if (same && i === j) continue;
        let d2 = 0;
        for (let k = 0; k < d; k++) d2 += (X[i * d + k]! - Y[j * d + k]!) ** 2;
        for (const h of bandwidths) s += Math.exp(-d2 / (2 * h * h));
      }
    }
    return s;
  };
  const na = a.shape[0]!;
  const nb = b.shape[0]!;
  return (
    ksum(A, na, A, na, true) / (na * (na - 1)) +
    ksum(B, nb, B, nb, true) / (nb * (nb - 1)) -
    (2 * ksum(A, na, B, nb, false)) / (na * nb)
  );
}
