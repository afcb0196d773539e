import { initBackend, testing } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ablationSampler,
  type Denoiser,
  edmPrecond,
  edmSampler,
  exponentialSigmas,
  gaussianMixtureDenoiser,
  iddpmPrecond,
  karrasSigmas,
  type NoiseFn,
  polyexponentialSigmas,
  sampleDpm2,
  sampleDpmpp2m,
  sampleDpmpp2mSde,
  sampleEuler,
  sampleEulerAncestral,
  sampleHeun,
  sampleLms,
  vePrecond,
  vpPrecond,
  vpSigmas,
} from '../src/index.js';
import fixture from './fixtures/diffusion.json' with { type: 'json' };

type Arr = testing.FixtureArray;
const data = (a: unknown) => testing.fixtureData(a as Arr);
const tensor = (a: unknown) => testing.fixtureTensor(a as Arr);
const rel = (out: tf.Tensor, ref: unknown) => testing.relativeError(out.dataSync(), data(ref));
const errors: Record<string, number> = {};

/** Noise injected from the fixture: the i-th call returns the i-th recorded draw. */
const fromFixture =
  (draws: unknown[]): NoiseFn =>
  (shape, i) => {
    expect(i).toBeLessThan(draws.length);
    const z = tensor(draws[i]);
    expect(z.shape).toEqual(shape);
    return z;
  };

describe('schedules (k-diffusion get_sigmas_*)', () => {
  it('karras, exponential, vp within 1e-6', () => {
    const k = fixture.kdiffusion_sigmas;
    errors.karras = testing.relativeError(karrasSigmas(10, 0.002, 80), data(k.karras));
    errors.exponential = testing.relativeError(exponentialSigmas(10, 0.002, 80), data(k.exponential));
    errors.vp = testing.relativeError(vpSigmas(10), data(k.vp));
    expect(errors.karras).toBeLessThan(1e-6);
    expect(errors.exponential).toBeLessThan(1e-6);
    expect(errors.vp).toBeLessThan(1e-6);
    expect(karrasSigmas(10, 0.002, 80)[10]).toBe(0);
  });

  it('polyexponential with ρ = 1 is the exponential schedule; larger ρ spends more steps at low σ', () => {
    const exp = exponentialSigmas(10, 0.002, 80);
    expect(testing.relativeError(polyexponentialSigmas(10, 0.002, 80, 1), exp)).toBeLessThan(1e-14);
    const p2 = polyexponentialSigmas(10, 0.002, 80, 2);
    expect(p2[0]).toBeCloseTo(80, 10);
    expect(p2[9]).toBeCloseTo(0.002, 12);
    for (let i = 1; i < 9; i++) expect(p2[i]!).toBeLessThan(exp[i]!);
  });
});

describe('preconditionings (networks.py *Precond)', () => {
  const cases = [
    ['VPPrecond', vpPrecond()],
    ['VEPrecond', vePrecond()],
    ['iDDPMPrecond', iddpmPrecond()],
    ['EDMPrecond', edmPrecond()],
  ] as const;
  for (const [name, pre] of cases) {
    it(`${name}: c_skip, c_out, c_in, c_noise within 1e-6`, () => {
      const ref = (fixture.precond as Record<string, Record<string, unknown>>)[name]!;
      const sig = data(ref.sigma);
      const coeffs = Array.from(sig, (s) => pre.coefficients(s));
      for (const [key, field] of [
        ['c_skip', 'cSkip'],
        ['c_out', 'cOut'],
        ['c_in', 'cIn'],
        ['c_noise', 'cNoise'],
      ] as const) {
        const e = testing.relativeError(
          coeffs.map((c) => c[field]),
          data(ref[key]),
        );
        errors[`${name}.${key}`] = e;
        expect(e, `${name}.${key}`).toBeLessThan(1e-6);
      }
      if (ref.sigma_max !== null)
        expect(Math.abs(pre.sigmaMax - (ref.sigma_max as number)) / (ref.sigma_max as number)).toBeLessThan(
          1e-6,
        );
    });
  }
});

describe.each(['cpu', 'wasm'] as const)('samplers against the fixture (%s)', (backend) => {
  let denoiser: Denoiser;
  let latents: tf.Tensor;
  beforeAll(async () => {
    await initBackend(backend);
    denoiser = gaussianMixtureDenoiser(fixture.gmm);
    latents = tensor(fixture.latents);
  });

  it('edm_sampler at every step count and with churn + injected noise', () => {
    for (const [i, run] of fixture.edm_runs.entries()) {
      if (run.sampler !== 'edm_sampler') continue;
      const r = run as typeof run & {
        S_min?: number;
        S_max?: number;
        S_noise?: number;
        noise_per_step?: unknown[];
      };
      const before = tf.memory().numTensors;
      const out = edmSampler(denoiser, latents, {
        numSteps: r.num_steps,
        sigmaMin: r.sigma_min,
        sigmaMax: r.sigma_max,
        rho: r.rho,
        sChurn: r.S_churn,
        sMin: r.S_min ?? 0,
        sMax: r.S_max ?? Infinity,
        sNoise: r.S_noise ?? 1,
        ...(r.noise_per_step ? { noise: fromFixture(r.noise_per_step) } : {}),
      });
      expect(tf.memory().numTensors).toBe(before + 1);
      const e = rel(out, r.out);
      errors[`edm_runs[${i}] edm N=${r.num_steps} churn=${r.S_churn}`] = e;
      expect(e, `run ${i}`).toBeLessThan(1e-4);
      out.dispose();
    }
  });

  it('ablation_sampler: the six configurations', () => {
    let count = 0;
    for (const [i, run] of fixture.edm_runs.entries()) {
      if (run.sampler !== 'ablation_sampler') continue;
      const r = run as typeof run & {
        solver: 'euler' | 'heun';
        discretization: 'vp' | 've' | 'iddpm' | 'edm';
        schedule: 'vp' | 've' | 'linear';
        scaling: 'vp' | 'none';
      };
      const before = tf.memory().numTensors;
      const out = ablationSampler(denoiser, latents, {
        solver: r.solver,
        discretization: r.discretization,
        schedule: r.schedule,
        scaling: r.scaling,
        numSteps: r.num_steps,
      });
      expect(tf.memory().numTensors).toBe(before + 1);
      const e = rel(out, r.out);
      errors[`edm_runs[${i}] ${r.solver}/${r.discretization}/${r.schedule}/${r.scaling} N=${r.num_steps}`] =
        e;
      expect(e, `run ${i}`).toBeLessThan(1e-4);
      out.dispose();
      count++;
    }
    expect(count).toBe(6);
  });

  it('the seven k-diffusion runs', () => {
    const samplers = {
      sample_euler: sampleEuler,
      sample_heun: sampleHeun,
      sample_dpm_2: sampleDpm2,
      sample_lms: sampleLms,
      sample_dpmpp_2m: sampleDpmpp2m,
      sample_euler_ancestral: sampleEulerAncestral,
      sample_dpmpp_2m_sde: sampleDpmpp2mSde,
    } as const;
    expect(fixture.kdiffusion_x_init).toBe('latents * 80');
    const x = tf.mul(latents, 80);
    for (const run of fixture.kdiffusion_runs) {
      const r = run as typeof run & { eta?: number; noise_calls?: unknown[] };
      const sigmas = data((fixture.kdiffusion_sigmas as Record<string, unknown>)[r.sigmas]);
      const sampler = samplers[r.sampler as keyof typeof samplers] as (
        d: Denoiser,
        x: tf.Tensor,
        s: Float64Array,
        o?: object,
      ) => tf.Tensor;
      const before = tf.memory().numTensors;
      let calls = 0;
      const opts = r.noise_calls
        ? {
            eta: r.eta,
            noise: ((shape: number[], j: number) => {
              calls++;
              return fromFixture(r.noise_calls!)(shape, j);
            }) as NoiseFn,
          }
        : {};
      const out = sampler(denoiser, x, sigmas, opts);
      expect(tf.memory().numTensors).toBe(before + 1);
      // The recorder stored one draw per σ; only steps whose next σ is > 0 call the noise sampler (9 of 10 here).
      if (r.noise_calls) expect(calls).toBe(sigmas.filter((s, k) => k > 0 && s > 0).length);
      const e = rel(out, r.out);
      errors[`kdiffusion ${r.sampler}`] = e;
      expect(e, r.sampler).toBeLessThan(1e-4);
      out.dispose();
    }
    x.dispose();
  });

  it('reports the measured errors', () => {
    // Printed so the README's table is measured, not guessed.
    console.log(backend, JSON.stringify(errors, null, 1));
    expect(Object.keys(errors).length).toBeGreaterThan(10);
  });
});
