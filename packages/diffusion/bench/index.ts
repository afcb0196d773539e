/**
 * Benchmarks of @lab/diffusion: Karras et al. 2022, Figure 2 reproduced on an analytic Gaussian mixture (error of
 * each sampler against the exact probability-flow ODE solution versus the number of denoiser evaluations), and
 * sampler throughput.
 */

import { createRng } from '@lab/tensor';
import { type BenchCase, type BenchSuite, defineSuite } from '@lab/tooling/bench';
import * as tf from '@tensorflow/tfjs-core';
import {
  ablationSampler,
  type Denoiser,
  edmSampler,
  type GaussianMixtureSpec,
  gaussianMixtureDenoiser,
  karrasSigmas,
  sampleDpm2,
  sampleDpmpp2m,
  sampleEuler,
  sampleEulerAncestral,
  sampleHeun,
  sampleLms,
} from '../src/index.js';
import {
  componentFrechet,
  componentFrechetStdErr,
  FIXTURE_MIXTURE,
  nfeToReach,
  perSampleDistance,
  rmsAndMedian,
} from './metrics.js';
import { trainedHeadline } from './trained.js';

/** The mixture of the reference fixture (3 isotropic components in 2-D). */
export const BENCH_MIXTURE: GaussianMixtureSpec = FIXTURE_MIXTURE;

type Config = {
  key: string;
  /** σ at which the ODE starts (the reference solve starts there too). */
  sigmaMax: number;
  /** Steps for a budget of `nfe` evaluations. */
  steps: (nfe: number) => number;
  nfe: (steps: number) => number;
  run: (D: Denoiser, latents: tf.Tensor, steps: number) => tf.Tensor;
};

const euler = { steps: (n: number) => n, nfe: (n: number) => n };
const heun = { steps: (n: number) => Math.max(2, Math.round((n + 1) / 2)), nfe: (n: number) => 2 * n - 1 };
const VP_SIGMA_MAX = Math.sqrt(Math.expm1(0.5 * 19.9 + 0.1));
const kd = (sampler: typeof sampleEuler) => (D: Denoiser, z: tf.Tensor, n: number) =>
  tf.tidy(() => sampler(D, tf.mul(z, 80), karrasSigmas(n, 0.002, 80)));

/** Figure 2's four configurations (ablation_sampler) and the k-diffusion samplers on Karras σ (0.002 … 80). */
export const CONFIGS: Config[] = [
  {
    key: 'vp-euler',
    sigmaMax: VP_SIGMA_MAX,
    ...euler,
    run: (D, z, n) =>
      ablationSampler(D, z, {
        solver: 'euler',
        discretization: 'vp',
        schedule: 'vp',
        scaling: 'vp',
        numSteps: n,
      }),
  },
  {
    key: 've-euler',
    sigmaMax: 100,
    ...euler,
    run: (D, z, n) =>
      ablationSampler(D, z, {
        solver: 'euler',
        discretization: 've',
        schedule: 've',
        scaling: 'none',
        numSteps: n,
      }),
  },
  {
    key: 'iddpm-ddim',
    sigmaMax: 81,
    ...euler,
    run: (D, z, n) =>
      ablationSampler(D, z, {
        solver: 'euler',
        discretization: 'iddpm',
        schedule: 'linear',
        scaling: 'none',
        numSteps: n,
      }),
  },
  { key: 'edm-heun', sigmaMax: 80, ...heun, run: (D, z, n) => edmSampler(D, z, { numSteps: n }) },
  { key: 'k-euler', sigmaMax: 80, ...euler, run: kd(sampleEuler) },
  { key: 'k-heun', sigmaMax: 80, ...heun, run: kd(sampleHeun) },
  { key: 'k-dpm2', sigmaMax: 80, ...heun, run: kd(sampleDpm2) },
  { key: 'k-lms', sigmaMax: 80, ...euler, run: kd(sampleLms) },
  { key: 'k-dpmpp2m', sigmaMax: 80, ...euler, run: kd(sampleDpmpp2m) },
];

/**
 * The "image-like" mixture: 8 equally weighted isotropic components in 16 dimensions, means drawn from N(0, 0.5²)
 * (seed 11), component std 0.05, so σ_data ≈ 0.5 per coordinate as for EDM's images scaled to [−1, 1], with modes
 * ~57 component stds apart (narrow, well separated, like the classes of an image data set).
 */
export function imageLikeMixture(): GaussianMixtureSpec {
  const dim = 16;
  const k = 8;
  const z = createRng(11).normalData(k * dim);
  return {
    weights: new Array(k).fill(1 / k),
    means: Array.from({ length: k }, (_, c) => Array.from({ length: dim }, (_, j) => 0.5 * z[c * dim + j]!)),
    stds: new Array(k).fill(0.05),
  };
}

/** The exact ODE solution from latents·σmax: Heun with `steps` Karras steps (ρ = 7) down to 1e-4, then to 0. */
export function referenceSolution(
  D: Denoiser,
  latents: tf.Tensor,
  sigmaMax: number,
  steps: number,
): tf.Tensor {
  return tf.tidy(() => sampleHeun(D, tf.mul(latents, sigmaMax), karrasSigmas(steps, 1e-4, sigmaMax)));
}

/** Root-mean-square distance per sample, √(mean_i ‖a_i − b_i‖²). */
export function rmsError(a: tf.Tensor, b: tf.Tensor): number {
  return rmsAndMedian(perSampleDistance(a.dataSync(), b.dataSync(), a.size / a.shape[0]!)).rms;
}

/** One configuration's errors against the reference solution from the same latents. */
export interface ErrorMetrics {
  nfe: number;
  /** √(mean ‖x_i − ref_i‖²), the definition. */
  rms: number;
  /** Median ‖x_i − ref_i‖. */
  median: number;
  /** Σₖ πₖ·Fréchet distance² per mixture component (see `componentFrechet`). */
  fd: number;
  /** Samples that end in another mixture component than their reference. */
  switched: number;
  /** The samples, `[batch·dim]` (for the bootstrap). */
  samples: Float32Array;
}

interface MixtureSetup {
  key: 'fixture' | 'image-like';
  spec: GaussianMixtureSpec;
  batch: number;
  refSteps: number;
  configs: string[];
  budgets: number[];
  /** EDM Heun step counts tried (in order) to find the NFE that matches VP Euler at 512. */
  ladder: number[];
}

function mixtureSetups(quick: boolean): MixtureSetup[] {
  const all = CONFIGS.map((c) => c.key);
  const ladder = quick ? [18, 32, 64, 128] : [18, 24, 32, 48, 64, 96, 128, 192, 256];
  return [
    {
      key: 'fixture',
      spec: BENCH_MIXTURE,
      batch: quick ? 64 : 1024,
      refSteps: quick ? 300 : 2000,
      configs: all,
      budgets: quick ? [8, 35] : [8, 16, 35, 64, 128, 256, 512],
      ladder,
    },
    {
      key: 'image-like',
      spec: imageLikeMixture(),
      batch: quick ? 64 : 1024,
      refSteps: quick ? 300 : 2000,
      configs: ['vp-euler', 'edm-heun', 'k-dpmpp2m'],
      budgets: quick ? [35] : [16, 35, 64, 128, 256, 512],
      ladder,
    },
  ];
}

/** Latents, reference solutions and memoised sampler errors of one mixture, shared by its cases. */
class ErrorContext {
  readonly D: Denoiser;
  readonly dim: number;
  latents: tf.Tensor | undefined;
  private refs = new Map<string, { t: tf.Tensor; host: Float32Array }>();
  private memo = new Map<string, ErrorMetrics>();
  constructor(readonly setup: MixtureSetup) {
    this.D = gaussianMixtureDenoiser(setup.spec);
    this.dim = setup.spec.means[0]!.length;
  }
  open(): void {
    this.latents ??= createRng(2022).normal([this.setup.batch, this.dim]);
  }
  reference(sigmaMax: number, steps = this.setup.refSteps): Float32Array {
    const key = `${sigmaMax}/${steps}`;
    if (!this.refs.has(key)) {
      const t = referenceSolution(this.D, this.latents!, sigmaMax, steps);
      this.refs.set(key, { t, host: t.dataSync() as Float32Array });
    }
    return this.refs.get(key)!.host;
  }
  errors(key: string, steps: number): ErrorMetrics {
    const id = `${key}/${steps}`;
    if (!this.memo.has(id)) {
      const c = CONFIGS.find((cfg) => cfg.key === key)!;
      const x = c.run(this.D, this.latents!, steps);
      const samples = x.dataSync() as Float32Array;
      x.dispose();
      const ref = this.reference(c.sigmaMax);
      const { rms, median } = rmsAndMedian(perSampleDistance(samples, ref, this.dim));
      const { fd, switched } = componentFrechet(this.setup.spec, samples, ref);
      this.memo.set(id, { nfe: c.nfe(steps), rms, median, fd, switched, samples });
    }
    return this.memo.get(id)!;
  }
  close(): void {
    for (const r of this.refs.values()) r.t.dispose();
    this.refs.clear();
    this.memo.clear();
    this.latents?.dispose();
    this.latents = undefined;
  }
}

const METRICS = ['rms', 'median', 'fd'] as const;

function errorCases(quick: boolean): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const setup of mixtureSetups(quick)) {
    const ctx = new ErrorContext(setup);
    const vp = CONFIGS.find((c) => c.key === 'vp-euler')!;
    const edm = CONFIGS.find((c) => c.key === 'edm-heun')!;
    const timed = (c: Config, nfe: number) => ({
      name: `${c.key} (${c.nfe(c.steps(nfe))} NFE)`,
      work: { amount: setup.batch, unit: 'samples' },
      run: () => {
        c.run(ctx.D, ctx.latents!, c.steps(nfe)).dispose();
      },
    });
    for (const nfe of setup.budgets) {
      cases.push({
        name: `${setup.key}: NFE≈${nfe}`,
        params: { mixture: setup.key, nfe },
        setup: () => ctx.open(),
        variants: [timed(vp, nfe), timed(edm, nfe)],
        measure: () => {
          const out: Record<string, number> = {};
          for (const key of setup.configs) {
            const c = CONFIGS.find((cfg) => cfg.key === key)!;
            const e = ctx.errors(key, c.steps(nfe));
            for (const m of METRICS) out[`${m}:${key}`] = e[m];
            out[`switched:${key}`] = e.switched;
            out[`nfe:${key}`] = e.nfe;
          }
          return out;
        },
        samples: 3,
      });
    }
    cases.push({
      name: `${setup.key}: headline, EDM Heun 35 NFE vs VP Euler 512 NFE`,
      params: { mixture: setup.key, headline: true },
      setup: () => ctx.open(),
      teardown: () => ctx.close(),
      variants: [timed(vp, 512), timed(edm, 35)],
      measure: () => {
        const out: Record<string, number> = { batch: setup.batch, dim: ctx.dim };
        const v = ctx.errors('vp-euler', 512);
        const e = ctx.errors('edm-heun', 18);
        for (const m of [...METRICS, 'switched'] as const) {
          out[`vpEuler512:${m}`] = v[m];
          out[`edmHeun35:${m}`] = e[m];
        }
        // The headline ratios (< 1 means EDM Heun at 35 NFE is more accurate than VP Euler at 512 NFE).
        for (const m of METRICS) out[`headline:${m}`] = e[m] / v[m];
        // Sampling noise of the FID stand-in: bootstrap over the paired rows.
        const rng = createRng(5);
        const reps = quick ? 10 : 50;
        out['fdStdErr:vpEuler512'] = componentFrechetStdErr(
          setup.spec,
          v.samples,
          ctx.reference(vp.sigmaMax),
          reps,
          (n) => rng.uniformData(n),
        );
        out['fdStdErr:edmHeun35'] = componentFrechetStdErr(
          setup.spec,
          e.samples,
          ctx.reference(edm.sigmaMax),
          reps,
          (n) => rng.uniformData(n),
        );
        // The EDM Heun NFE that matches VP Euler at 512, per metric (-1: not reached on the ladder).
        const points: ErrorMetrics[] = [];
        for (const steps of setup.ladder) {
          points.push(ctx.errors('edm-heun', steps));
          if (METRICS.every((m) => points.some((p) => p[m] <= v[m]))) break;
        }
        for (const m of METRICS)
          out[`matchNfe:${m}`] = nfeToReach(
            points.map((p) => ({ nfe: p.nfe, value: p[m] })),
            v[m],
          );
        // Convergence of the reference: the same solve with half the steps (Heun: error ≈ 4× smaller at full).
        const half = ctx.reference(edm.sigmaMax, setup.refSteps / 2);
        out['referenceHalfSteps:rms'] = rmsAndMedian(
          perSampleDistance(half, ctx.reference(edm.sigmaMax), ctx.dim),
        ).rms;
        return out;
      },
      samples: 3,
    });
  }
  return cases;
}

const errorVsNfe = defineSuite({
  id: 'diffusion/error-vs-nfe',
  title: 'Sampler error vs NFE on analytic mixtures (EDM Figure 2 and its headline)',
  description:
    "Karras et al. 2022's four Figure 2 configurations (VP Euler, VE Euler, iDDPM+DDIM, EDM Heun) and k-diffusion samplers on exact Gaussian-mixture denoisers: the 2-D fixture mixture (σ_data ≈ 2) and an image-like one (16-D, 8 modes, σ_data ≈ 0.5, component std 0.05), 1024 samples each (64 with --quick), against the exact probability-flow ODE solution from the same latents (Heun, 2000 Karras steps; `referenceHalfSteps` shows its convergence). " +
    "Measures: rms (the issue's per-trajectory error), median, switched (samples ending in another mode), and fd, the FID stand-in: FID is the Fréchet distance between Gaussian fits of generated and reference features; here it is taken in data space per mixture component (a single Gaussian fit is blind to the mode structure) against the exact ODE outputs of the same latents, weighted by the reference mode fractions, so the sampling noise of the latents cancels (its bootstrap error is fdStdErr); an assignment W2 is bounded by the rms for paired samples (measured equal to it to 4 digits at n = 512) and a cross-entropy against the exact density rewards under-dispersed samplers, so neither was used. " +
    'The headline cases give, per metric, EDM Heun at 35 NFE over VP Euler at 512 NFE (< 1: EDM wins) and the EDM Heun NFE that matches VP Euler at 512; their timed variants show the cost side.',
  cases: ({ quick }) => errorCases(quick),
  charts: [
    {
      title: 'Fixture mixture: RMS error vs NFE',
      x: 'nfe',
      y: 'rms',
      logX: true,
      logY: true,
      where: { mixture: 'fixture' },
    },
    {
      title: 'Fixture mixture: per-component Fréchet distance vs NFE',
      x: 'nfe',
      y: 'fd',
      logX: true,
      logY: true,
      where: { mixture: 'fixture' },
    },
    {
      title: 'Image-like mixture: RMS error vs NFE',
      x: 'nfe',
      y: 'rms',
      logX: true,
      logY: true,
      where: { mixture: 'image-like' },
    },
    {
      title: 'Image-like mixture: per-component Fréchet distance vs NFE',
      x: 'nfe',
      y: 'fd',
      logX: true,
      logY: true,
      where: { mixture: 'image-like' },
    },
  ],
});

function throughputCases(quick: boolean): BenchCase[] {
  const D = gaussianMixtureDenoiser(BENCH_MIXTURE);
  const batches = quick ? [256] : [1024, 8192];
  return batches.map((batch) => {
    let z: tf.Tensor | undefined;
    let x: tf.Tensor | undefined;
    const sig = karrasSigmas(18, 0.002, 80);
    const variant = (name: string, run: () => tf.Tensor, nfe: number) => ({
      name: `${name} (${nfe} NFE)`,
      work: { amount: batch, unit: 'samples' },
      run: () => {
        run().dispose();
      },
    });
    return {
      name: `batch ${batch}, 18 steps`,
      params: { batch },
      setup: () => {
        z = createRng(1).normal([batch, 2]);
        x = tf.mul(z, 80);
      },
      teardown: () => {
        tf.dispose([z!, x!]);
      },
      variants: [
        variant('edmSampler (Heun)', () => edmSampler(D, z!, { numSteps: 18 }), 35),
        variant('sampleEuler', () => sampleEuler(D, x!, sig), 18),
        variant('sampleDpmpp2m', () => sampleDpmpp2m(D, x!, sig), 18),
        variant('sampleLms', () => sampleLms(D, x!, sig), 18),
        variant('sampleEulerAncestral', () => sampleEulerAncestral(D, x!, sig, { rng: createRng(3) }), 18),
      ],
      measure: () => {
        const t0 = performance.now();
        D(x!, tf.fill([batch], 1)).dispose();
        return { 'msPerDenoiserCall:mixture': performance.now() - t0 };
      },
    };
  });
}

const throughput = defineSuite({
  id: 'diffusion/sampler-throughput',
  title: 'Sampler throughput on the analytic mixture denoiser',
  description:
    'Samples per second of the EDM sampler (baseline) and the k-diffusion samplers at 18 steps; the denoiser is the exact mixture posterior mean, so the ratios show the per-step overhead of each solver.',
  cases: ({ quick }) => throughputCases(quick),
  charts: [{ title: 'Throughput', x: 'batch', y: 'throughput', logX: true }],
});

export const suites: BenchSuite[] = [errorVsNfe, trainedHeadline, throughput];
