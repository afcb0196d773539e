/**
 * Karras et al. 2022, Figure 2a, with a TRAINED network: one small residual MLP trained in the VP formulation (VP
 * preconditioning and VPLoss, EDM Table 1 and `training/loss.py`) on the fixture mixture, then sampled from the
 * same latents by the original VP sampler (Euler, VP time steps, VP σ(t) and s(t)) and EDM's sampler (Heun, EDM
 * time steps with ρ = 7 in [0.002, 80], σ(t) = t, s(t) = 1: `generate.py --solver=heun --disc=edm
 * --schedule=linear --scaling=none`). The samples are compared with the TRUE data distribution (the exact mixture
 * components' means and covariances), the FID stand-in of this package.
 */

import { createRng } from '@lab/tensor';
import { type BenchCase, type BenchSuite, defineSuite } from '@lab/tooling/bench';
import * as tf from '@tensorflow/tfjs-core';
import {
  ablationSampler,
  createMlpDenoiser,
  type Denoiser,
  diffusionLoss,
  type GaussianMixtureSpec,
  gaussianMixture,
  type MlpDenoiserModel,
  mlpDenoiser,
  trainDenoiser,
  vpFormulation,
} from '../src/index.js';
import {
  bootstrapStdErr,
  componentFrechetExact,
  type ExactDistributionMeasures,
  FIXTURE_MIXTURE,
  nfeToReach,
  plateauNfe,
} from './metrics.js';

/** The two samplers of Figure 2a, as `generate.py`'s ablation flags. */
export const FIGURE_2A = {
  /** "Our reimplementation" of the original VP sampler: `--solver=euler --disc=vp --schedule=vp --scaling=vp`. */
  'vp-euler': {
    nfe: (steps: number) => steps,
    run: (D: Denoiser, z: tf.Tensor, steps: number) =>
      ablationSampler(D, z, {
        solver: 'euler',
        discretization: 'vp',
        schedule: 'vp',
        scaling: 'vp',
        numSteps: steps,
      }),
  },
  /** "+ Our σ(t) & s(t)" (EDM's sampler): `--solver=heun --disc=edm --schedule=linear --scaling=none`. */
  'edm-heun': {
    nfe: (steps: number) => 2 * steps - 1,
    run: (D: Denoiser, z: tf.Tensor, steps: number) =>
      ablationSampler(D, z, {
        solver: 'heun',
        discretization: 'edm',
        schedule: 'linear',
        scaling: 'none',
        numSteps: steps,
      }),
  },
} as const;

type SamplerKey = keyof typeof FIGURE_2A;

/** Sizes of the trained-network experiment (full and `--quick`). */
export interface TrainedSetup {
  /** Suffix of this network's measure keys ('' for the main network, whose samplers are also timed). */
  label: string;
  spec: GaussianMixtureSpec;
  /** Latents sampled per configuration (measured), and per timed run. */
  batch: number;
  timedBatch: number;
  /** Training: exact mixture draws in the pool, Adam steps, MLP width and residual blocks. */
  pool: number;
  trainSteps: number;
  hidden: number;
  blocks: number;
  /** Bootstrap resamplings per standard error. */
  reps: number;
  /** NFE budgets (one case each, the x axis) → VP Euler steps and EDM Heun steps (0: not run at that budget). */
  grid: { budget: number; vp: number; edm: number }[];
  /** Steps of each sampler that define its plateau (1024 and 1023 NFE). */
  plateau: Record<SamplerKey, number>;
  /** Seeds of the network's initialisation, the training pool, the training draws and the latents. */
  seeds: { network: number; pool: number; train: number; latents: number };
}

const SEEDS = { network: 1, pool: 2, train: 3, latents: 2022 };

/** The experiment's sizes; `overrides` for other seeds or networks (scratch studies). */
export function trainedSetup(
  spec: GaussianMixtureSpec,
  quick: boolean,
  overrides: Partial<TrainedSetup> = {},
): TrainedSetup {
  return { ...trainedSetupDefaults(spec, quick), ...overrides };
}

function trainedSetupDefaults(spec: GaussianMixtureSpec, quick: boolean): TrainedSetup {
  return quick
    ? {
        label: '',
        spec,
        batch: 256,
        timedBatch: 32,
        pool: 2048,
        trainSteps: 150,
        hidden: 32,
        blocks: 1,
        reps: 20,
        grid: [
          { budget: 8, vp: 8, edm: 5 },
          { budget: 32, vp: 32, edm: 17 },
        ],
        // Quick: the plateau is taken at 512 (VP) and 255 (EDM) NFE.
        plateau: { 'vp-euler': 512, 'edm-heun': 128 },
        seeds: SEEDS,
      }
    : {
        label: '',
        spec,
        batch: 2048,
        timedBatch: 256,
        pool: 8192,
        trainSteps: 1500,
        hidden: 64,
        blocks: 2,
        reps: 200,
        grid: [
          { budget: 8, vp: 8, edm: 5 },
          { budget: 16, vp: 16, edm: 9 },
          { budget: 32, vp: 32, edm: 17 },
          { budget: 64, vp: 64, edm: 32 },
          { budget: 128, vp: 128, edm: 64 },
          { budget: 256, vp: 256, edm: 128 },
          { budget: 512, vp: 512, edm: 0 },
          { budget: 1024, vp: 1024, edm: 512 },
        ],
        plateau: { 'vp-euler': 1024, 'edm-heun': 512 },
        seeds: SEEDS,
      };
}

/** M of the VP preconditioning: c_noise = (M − 1)·t. */
const VP_M = 1000;

/**
 * The network F of the experiment: the package's residual MLP, whose Fourier time embedding (frequencies
 * 2π·N(0, 1)) is fed c_noise/(M − 1) = t ∈ [0, 1] instead of VP's raw c_noise ∈ [0, 999]. DDPM++ embeds the raw
 * c_noise with positional frequencies down to 1e-4 for that range; the MLP's unit-scale frequencies on [0, 999]
 * hash t almost randomly (measured: training loss 0.489 instead of 0.457 and a 6× (EDM) to 35× (VP) worse fd
 * plateau). The preconditioning, loss and sampler see the standard VP c_noise.
 */
function timeScaledMlp(raw: MlpDenoiserModel): MlpDenoiserModel {
  return {
    apply: (xIn, cNoise) => tf.tidy(() => raw.apply(xIn, tf.div(cNoise, VP_M - 1))),
    variables: raw.variables,
    dispose: () => raw.dispose(),
  };
}

interface PointMeasures extends ExactDistributionMeasures {
  nfe: number;
  /** Bootstrap standard error of fd. */
  fdSe: number;
  samples: Float32Array;
}

/** Trains the network once, keeps the latents, memoises samples and their measures. */
export class TrainedContext {
  private model: MlpDenoiserModel | undefined;
  D: Denoiser | undefined;
  latents: tf.Tensor | undefined;
  private timedLatents: tf.Tensor | undefined;
  private memo = new Map<string, PointMeasures>();
  readonly training: Record<string, number> = {};
  readonly dim: number;
  constructor(readonly setup: TrainedSetup) {
    this.dim = setup.spec.means[0]!.length;
  }

  /** Bootstrap uniforms, one stream per call site so results do not depend on evaluation order. */
  uniforms(seed: number): (n: number) => Float32Array {
    const rng = createRng(seed);
    return (n) => rng.uniformData(n);
  }

  open(): void {
    if (this.D) return;
    const { spec, pool, trainSteps, hidden, blocks, batch, timedBatch, seeds } = this.setup;
    const form = vpFormulation({ M: VP_M });
    const mixture = gaussianMixture(spec);
    const raw = createMlpDenoiser({ dim: this.dim, hidden, blocks, rng: createRng(seeds.network) });
    const model = timeScaledMlp(raw);
    const data = mixture.sample(pool, createRng(seeds.pool)).x;
    const t0 = performance.now();
    const losses = trainDenoiser(form, model, data, {
      steps: trainSteps,
      batchSize: 256,
      learningRate: 4e-3,
      ema: trainSteps >= 1000 ? 0.995 : 0.95,
      rng: createRng(seeds.train),
    });
    this.training.trainSeconds = (performance.now() - t0) / 1000;
    const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
    this.training['loss:first50Steps'] = mean(losses.slice(0, 50));
    this.training['loss:last10pct'] = mean(losses.slice(-Math.max(1, Math.floor(trainSteps / 10))));
    // The VP loss of the trained network and of the exact denoiser on the same 16384 (σ, y, n) draws.
    const check = createRng(4);
    const y = mixture.sample(16384, check).x;
    const sigma = form.sampleTrainingSigma(16384, check);
    const noise = check.normal(y.shape);
    const netLoss = diffusionLoss(form, model.apply, y, { sigma, noise });
    this.training['loss:network'] = netLoss.dataSync()[0]!;
    this.training['loss:exactDenoiser'] = tf
      .tidy(() => {
        const s = tf.tensor1d(Float32Array.from(sigma));
        const x = tf.add(y, tf.mul(noise, tf.reshape(s, [-1, 1])));
        const err = tf.sum(tf.square(tf.sub(mixture.denoiser(x, s), y)), 1);
        return tf.mean(tf.div(err, tf.square(s)));
      })
      .dataSync()[0]!;
    // Sampling floors of the measure: the training pool, and a fresh exact sample of `batch` rows.
    this.training['fd:trainingPool'] = componentFrechetExact(spec, data.dataSync()).fd;
    const fresh = mixture.sample(batch, createRng(5)).x;
    this.training['fd:exactSample'] = componentFrechetExact(spec, fresh.dataSync()).fd;
    tf.dispose([data, y, noise, netLoss, fresh]);
    this.model = model;
    this.D = mlpDenoiser(form, model);
    this.latents = createRng(seeds.latents).normal([batch, this.dim]);
    this.timedLatents = createRng(2023).normal([timedBatch, this.dim]);
  }

  /** One timed run of a sampler on the small timed batch. */
  timed(key: SamplerKey, steps: number) {
    const s = FIGURE_2A[key];
    return {
      name: `${key === 'vp-euler' ? 'VP Euler' : 'EDM Heun'} (${s.nfe(steps)} NFE)`,
      work: { amount: this.setup.timedBatch, unit: 'samples' },
      run: () => {
        s.run(this.D!, this.timedLatents!, steps).dispose();
      },
    };
  }

  point(key: SamplerKey, steps: number): PointMeasures {
    const id = `${key}/${steps}`;
    if (!this.memo.has(id)) {
      const s = FIGURE_2A[key];
      const x = s.run(this.D!, this.latents!, steps);
      const samples = x.dataSync() as Float32Array;
      x.dispose();
      const m = componentFrechetExact(this.setup.spec, samples);
      const fdSe = bootstrapStdErr(
        this.setup.batch,
        this.setup.reps,
        this.uniforms(100 + steps),
        (rows) => componentFrechetExact(this.setup.spec, samples, rows).fd,
      );
      this.memo.set(id, { ...m, nfe: s.nfe(steps), fdSe, samples });
    }
    return this.memo.get(id)!;
  }

  /** Paired bootstrap error of fd(a) − fd(b) (same latents, same resampled rows). */
  pairedSe(a: PointMeasures, b: PointMeasures, seed: number): number {
    const spec = this.setup.spec;
    return bootstrapStdErr(
      this.setup.batch,
      this.setup.reps,
      this.uniforms(seed),
      (rows) =>
        componentFrechetExact(spec, a.samples, rows).fd - componentFrechetExact(spec, b.samples, rows).fd,
    );
  }

  /** fd of the exact mixture denoiser sampled by the same sampler from the same latents (no network error). */
  exactDenoiserFd(key: SamplerKey, steps: number): number {
    const x = FIGURE_2A[key].run(gaussianMixture(this.setup.spec).denoiser, this.latents!, steps);
    const fd = componentFrechetExact(this.setup.spec, x.dataSync()).fd;
    x.dispose();
    return fd;
  }

  close(): void {
    this.model?.dispose();
    tf.dispose([this.latents!, this.timedLatents!].filter(Boolean));
    this.model = undefined;
    this.D = undefined;
    this.latents = undefined;
    this.timedLatents = undefined;
    this.memo.clear();
  }
}

/** The headline measures of one trained network (keys prefixed by the network's label, if any). */
function headlineMeasures(ctx: TrainedContext): Record<string, number> {
  const setup = ctx.setup;
  const out: Record<string, number> = { batch: setup.batch, ...ctx.training };
  const vp = ctx.point('vp-euler', 512);
  const edm = ctx.point('edm-heun', 18);
  for (const [name, p] of [
    ['vpEuler512', vp],
    ['edmHeun35', edm],
  ] as const) {
    out[`${name}:fd`] = p.fd;
    out[`${name}:fdSe`] = p.fdSe;
    out[`${name}:fdGlobal`] = p.fdGlobal;
    out[`${name}:modeTV`] = p.modeTV;
  }
  // The headline: < 1 (or a difference within noise) means EDM Heun at 35 NFE matches VP Euler at 512.
  out['headline:fdRatio'] = edm.fd / vp.fd;
  out['headline:fdDiff'] = edm.fd - vp.fd;
  out['headline:fdDiffSe'] = ctx.pairedSe(edm, vp, 7);
  out['headline:fdGlobalRatio'] = edm.fdGlobal / vp.fdGlobal;
  // The EDM Heun NFE whose fd equals VP Euler's at 512 NFE (log-log interpolated on the grid; -1: not reached).
  const edmCurve = [...new Set([...setup.grid.map((g) => g.edm), 18, setup.plateau['edm-heun']])]
    .filter((n) => n > 0)
    .sort((a, b) => a - b)
    .map((n) => ctx.point('edm-heun', n));
  out['headline:edmNfeMatchingVpEuler512'] = nfeToReach(
    edmCurve.map((p) => ({ nfe: p.nfe, value: p.fd })),
    vp.fd,
  );
  // The network's plateau: each sampler at ~1024 NFE, and where each curve reaches it.
  const plateaus = {} as Record<SamplerKey, PointMeasures>;
  for (const key of ['vp-euler', 'edm-heun'] as const) {
    const pl = ctx.point(key, setup.plateau[key]);
    plateaus[key] = pl;
    out[`plateau:${key}:fd`] = pl.fd;
    out[`plateau:${key}:fdSe`] = pl.fdSe;
    out[`plateau:${key}:nfe`] = pl.nfe;
  }
  const common = plateaus['edm-heun'];
  for (const key of ['vp-euler', 'edm-heun'] as const) {
    const steps = [
      ...setup.grid.map((g) => (key === 'vp-euler' ? g.vp : g.edm)),
      key === 'edm-heun' ? 18 : 512,
      setup.plateau[key],
    ].filter((n) => n > 0);
    const curve = [...new Set(steps)]
      .sort((a, b) => a - b)
      .map((n, i) => {
        const p = ctx.point(key, n);
        return { nfe: p.nfe, value: p.fd, p, i };
      });
    // Strict: within 2 paired bootstrap s.e. of the plateau (indistinguishable from it on these latents).
    const paired = (target: PointMeasures, seed: number) =>
      curve.map((c) => ({ ...c, se: ctx.pairedSe(c.p, target, seed + c.i) }));
    out[`plateauNfe:${key}:own2se`] = plateauNfe(paired(plateaus[key], 300), plateaus[key].fd);
    out[`plateauNfe:${key}:vsEdmPlateau2se`] = plateauNfe(paired(common, 400), common.fd);
    // FID-like: within 5% of the plateau.
    const rel = (target: number) => curve.map((c) => ({ ...c, se: 0.025 * target }));
    out[`plateauNfe:${key}:own5pct`] = plateauNfe(rel(plateaus[key].fd), plateaus[key].fd);
    out[`plateauNfe:${key}:vsEdmPlateau5pct`] = plateauNfe(rel(common.fd), common.fd);
  }
  out['plateau:vpMinusEdm'] = plateaus['vp-euler'].fd - common.fd;
  out['plateau:vpMinusEdmSe'] = ctx.pairedSe(plateaus['vp-euler'], common, 8);
  // The same two samplers on the exact denoiser (sampler error alone, same latents, same measure).
  out['exactDenoiser:vpEuler512:fd'] = ctx.exactDenoiserFd('vp-euler', 512);
  out['exactDenoiser:edmHeun35:fd'] = ctx.exactDenoiserFd('edm-heun', 18);
  if (!setup.label) return out;
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [`${setup.label}:${k}`, v]));
}

/**
 * The cases of the suite for one mixture: one case per NFE budget (the x axis; every network's fd per sampler in
 * `measure`, the first network's samplers timed) and the headline case. `setups` share the grid, the latents'
 * size and the plateau steps (exported for scratch studies with other seeds and networks).
 */
export function trainedCases(mixtureKey: string, setups: TrainedSetup[]): BenchCase[] {
  const contexts = setups.map((s) => new TrainedContext(s));
  const main = contexts[0]!;
  const quick = main.setup.batch < 1024;
  const open = () => {
    for (const c of contexts) c.open();
  };
  const cases: BenchCase[] = [];
  for (const g of main.setup.grid) {
    const variants = [main.timed('vp-euler', g.vp)];
    if (g.edm > 0) variants.push(main.timed('edm-heun', g.edm));
    cases.push({
      name: `${mixtureKey}, trained VP networks: NFE≈${g.budget}`,
      params: { mixture: mixtureKey, network: 'trained-vp', nfe: g.budget },
      setup: open,
      variants,
      measure: () => {
        const out: Record<string, number> = {};
        for (const ctx of contexts) {
          const suffix = ctx.setup.label ? `/${ctx.setup.label}` : '';
          for (const [key, steps] of [
            ['vp-euler', g.vp],
            ['edm-heun', g.edm],
          ] as const) {
            if (steps === 0) continue;
            const p = ctx.point(key, steps);
            out[`fd:${key}${suffix}`] = p.fd;
            out[`fdSe:${key}${suffix}`] = p.fdSe;
            out[`fdGlobal:${key}${suffix}`] = p.fdGlobal;
            out[`modeTV:${key}${suffix}`] = p.modeTV;
            out[`nfe:${key}${suffix}`] = p.nfe;
          }
        }
        return out;
      },
      samples: quick ? 3 : 2,
    });
  }
  cases.push({
    name: `${mixtureKey}, trained VP networks: headline, EDM Heun 35 NFE vs VP Euler 512 NFE`,
    params: { mixture: mixtureKey, network: 'trained-vp', headline: true },
    setup: open,
    teardown: () => {
      for (const c of contexts) c.close();
    },
    variants: [main.timed('vp-euler', 512), main.timed('edm-heun', 18)],
    measure: () => Object.assign({}, ...contexts.map(headlineMeasures)),
    samples: quick ? 3 : 2,
  });
  return cases;
}

/** The suite's networks: the main one (2 blocks × 64, 1500 steps) and, in full runs, a small one (1 × 32, 300). */
export function trainedSetups(spec: GaussianMixtureSpec, quick: boolean): TrainedSetup[] {
  const main = trainedSetup(spec, quick);
  if (quick) return [main];
  return [main, { ...main, label: 'small-net', hidden: 32, blocks: 1, trainSteps: 300 }];
}

/** The fixture mixture (see metrics.ts). */
export const FIXTURE: GaussianMixtureSpec = FIXTURE_MIXTURE;

export const trainedHeadline: BenchSuite = defineSuite({
  id: 'diffusion/trained-headline',
  title: "EDM's headline with trained networks (Figure 2a: VP Euler vs EDM Heun, fd vs NFE)",
  description:
    'Two residual MLPs trained with the VP preconditioning and VPLoss (EDM Table 1) on 8192 draws of the fixture mixture, fixed seeds: the main one (2 blocks × 64, 1500 Adam steps, EMA 0.995) and a small one (1 × 32, 300 steps, EMA 0.95; keys ending in /small-net or prefixed small-net:), whose larger error plays the role of the paper’s network error. ' +
    'Each is sampled from the same 2048 latents by the original VP sampler (Euler, VP steps, ε_s = 1e-3) and EDM’s (Heun, ρ = 7, σ ∈ [0.002, 80], σ(t) = t, s(t) = 1); only the main network’s samplers are timed (256 latents). ' +
    'fd is the FID stand-in against the TRUE distribution: Σₖ πₖ·Fréchet distance² between the Gaussian fit of the samples in mixture component k and that component’s exact N(μₖ, sₖ²I) (fdSe: bootstrap s.e.; fdGlobal: one Gaussian fit vs the exact mixture moments; modeTV: mode-weight error). ' +
    'The headline case gives, per network, fd(EDM Heun, 35 NFE)/fd(VP Euler, 512 NFE), their difference with a paired bootstrap s.e., the plateau (each sampler at ~1024 NFE), the NFE from which each curve stays within 2 paired s.e. or 5% of it, and the same two samplers on the exact denoiser.',
  cases: ({ quick }) => trainedCases('fixture', trainedSetups(FIXTURE, quick)),
  charts: [
    {
      title: 'Trained VP networks, fixture mixture: fd vs NFE per sampler (and network)',
      x: 'nfe',
      y: 'fd',
      logX: true,
      logY: true,
      where: { network: 'trained-vp' },
    },
  ],
});
