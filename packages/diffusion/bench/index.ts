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
  gaussianMixtureDenoiser,
  karrasSigmas,
  sampleDpm2,
  sampleDpmpp2m,
  sampleEuler,
  sampleEulerAncestral,
  sampleHeun,
  sampleLms,
} from '../src/index.js';

/** The mixture of the reference fixture (3 isotropic components in 2-D). */
export const BENCH_MIXTURE = {
  weights: [0.5, 0.3, 0.2],
  means: [
    [-2, 0],
    [2, 1],
    [0, -2.5],
  ],
  stds: [0.3, 0.5, 0.2],
};

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
  const x = a.dataSync();
  const y = b.dataSync();
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i]! - y[i]!) ** 2;
  return Math.sqrt(s / a.shape[0]!);
}

function errorCases(quick: boolean): BenchCase[] {
  const D = gaussianMixtureDenoiser(BENCH_MIXTURE);
  const batch = quick ? 32 : 256;
  const refSteps = quick ? 300 : 2000;
  const budgets = quick ? [8, 32] : [8, 16, 35, 64, 128, 256, 512];
  let latents: tf.Tensor | undefined;
  const refs = new Map<number, tf.Tensor>();
  const reference = (sigmaMax: number) => {
    if (!refs.has(sigmaMax)) refs.set(sigmaMax, referenceSolution(D, latents!, sigmaMax, refSteps));
    return refs.get(sigmaMax)!;
  };
  const timed = CONFIGS.filter((c) => ['vp-euler', 'edm-heun', 'k-dpmpp2m'].includes(c.key));
  return budgets.map((nfe, index) => ({
    name: `NFE≈${nfe}`,
    params: { nfe },
    setup: () => {
      latents ??= createRng(2022).normal([batch, 2]);
    },
    teardown: () => {
      if (index === budgets.length - 1) {
        for (const r of refs.values()) r.dispose();
        refs.clear();
        latents?.dispose();
        latents = undefined;
      }
    },
    measure: () => {
      const out: Record<string, number> = {};
      for (const c of CONFIGS) {
        const steps = c.steps(nfe);
        const x = c.run(D, latents!, steps);
        out[`error:${c.key}`] = rmsError(x, reference(c.sigmaMax));
        out[`nfe:${c.key}`] = c.nfe(steps);
        x.dispose();
      }
      if (nfe === budgets[budgets.length - 1]) {
        // The paper's headline: EDM Heun at 35 NFE against the original VP sampler at this budget (< 1 = EDM wins).
        const edm = CONFIGS.find((c) => c.key === 'edm-heun')!;
        const x = edm.run(D, latents!, 18);
        out['headline:edmHeun35OverVpEuler'] = rmsError(x, reference(edm.sigmaMax)) / out['error:vp-euler']!;
        x.dispose();
      }
      return out;
    },
    variants: timed.map((c) => ({
      name: `${c.key} (${c.nfe(c.steps(nfe))} NFE)`,
      work: { amount: batch, unit: 'samples' },
      run: () => {
        c.run(D, latents!, c.steps(nfe)).dispose();
      },
    })),
    samples: quick ? 3 : 5,
  }));
}

const errorVsNfe = defineSuite({
  id: 'diffusion/error-vs-nfe',
  title: 'Sampler error vs NFE on an analytic mixture (EDM Figure 2)',
  description:
    'RMS distance to the exact probability-flow ODE solution (Heun, 2000 steps) for the VP, VE, iDDPM+DDIM and EDM configurations of Karras et al. 2022 and the k-diffusion samplers, versus denoiser evaluations; timed variants compare the original VP Euler sampler with EDM Heun and DPM++ 2M at the same budget.',
  cases: ({ quick }) => errorCases(quick),
  charts: [{ title: 'RMS error vs NFE', x: 'nfe', y: 'error', logX: true, logY: true }],
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

export const suites: BenchSuite[] = [errorVsNfe, throughput];
