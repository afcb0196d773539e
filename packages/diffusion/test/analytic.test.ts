import { createRng, initBackend, testing } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ablationSampler,
  annealedLangevin,
  brownianTreeNoise,
  type Denoiser,
  DiffusionScheduler,
  ddimSampler,
  ddimSigmas,
  ddpmSampler,
  denoiserScore,
  edmFormulation,
  edmPrecond,
  edmSampler,
  exponentialSigmas,
  flowMatchingFormulation,
  formulation,
  formulationSampler,
  type GaussianMixture,
  gaussianMixture,
  geometricSigmas,
  iddpmFormulation,
  iddpmLevels,
  iddpmPrecond,
  integrate,
  karrasSigmas,
  likelihood,
  logLikelihood,
  odeSampler,
  pcSampler,
  sampleDpm2Ancestral,
  sampleDpmpp2m,
  sampleDpmpp2mSde,
  sampleDpmpp2sAncestral,
  sampleDpmppSde,
  sampleEuler,
  sampleEulerAncestral,
  sampleHeun,
  sampleLms,
  scoreFromDenoiser,
  solveRk45,
  subVpSde,
  veFormulation,
  veSde,
  vpFormulation,
  vpSde,
} from '../src/index.js';
import fixture from './fixtures/diffusion.json';

const GMM = fixture.gmm;

const host = (t: tf.Tensor) => Float64Array.from(t.dataSync());

/** Mean, covariance and nearest-mode weights of `[n, 2]` samples. */
function stats(x: tf.Tensor, mix: GaussianMixture) {
  const d = host(x);
  const n = d.length / 2;
  const mean = [0, 0];
  for (let i = 0; i < n; i++) {
    mean[0]! += d[2 * i]! / n;
    mean[1]! += d[2 * i + 1]! / n;
  }
  const cov = [0, 0, 0, 0];
  const modes = new Array(mix.means.length).fill(0);
  for (let i = 0; i < n; i++) {
    const a = d[2 * i]! - mean[0]!;
    const b = d[2 * i + 1]! - mean[1]!;
    cov[0]! += (a * a) / n;
    cov[1]! += (a * b) / n;
    cov[2]! += (a * b) / n;
    cov[3]! += (b * b) / n;
    let best = 0;
    let bd = Infinity;
    mix.means.forEach((m, k) => {
      const dd = (d[2 * i]! - m[0]!) ** 2 + (d[2 * i + 1]! - m[1]!) ** 2;
      if (dd < bd) {
        bd = dd;
        best = k;
      }
    });
    modes[best]! += 1 / n;
  }
  return { mean, cov, modes };
}

function expectMatchesMixture(x: tf.Tensor, mix: GaussianMixture, label: string) {
  const s = stats(x, mix);
  const ref = mix.moments();
  expect(Number.isFinite(s.mean[0]!), label).toBe(true);
  for (let j = 0; j < 2; j++)
    expect(Math.abs(s.mean[j]! - ref.mean[j]!), `${label} mean[${j}]`).toBeLessThan(0.15);
  for (let j = 0; j < 4; j++) {
    expect(Math.abs(s.cov[j]! - ref.covariance[j]!), `${label} cov[${j}]`).toBeLessThan(
      0.12 * (1 + Math.abs(ref.covariance[j]!)),
    );
  }
  s.modes.forEach((w, k) => {
    expect(Math.abs(w - mix.weights[k]!), `${label} mode ${k}`).toBeLessThan(0.04);
  });
}

describe('numerical building blocks', () => {
  it('Gauss–Kronrod quadrature integrates polynomials exactly and smooth functions to tolerance', () => {
    expect(integrate((x) => 3 * x * x - 2 * x + 1, -1, 2).value).toBeCloseTo(9 - 3 + 3, 12);
    expect(integrate(Math.sin, 0, Math.PI).value).toBeCloseTo(2, 10);
    expect(integrate((x) => 1 / Math.sqrt(x + 1e-3), 0, 1, { epsrel: 1e-10 }).value).toBeCloseTo(
      2 * (Math.sqrt(1.001) - Math.sqrt(0.001)),
      8,
    );
  });

  it("RK45 (Dormand–Prince) solves y' = −y and a rotation to tolerance, backwards in time too", () => {
    const r = solveRk45((_, y) => y.map((v) => -v), 0, 2, Float64Array.of(1), { rtol: 1e-8, atol: 1e-10 });
    expect(Math.abs(r.y[0]! - Math.exp(-2))).toBeLessThan(1e-8);
    const rot = solveRk45((_, y) => Float64Array.of(-y[1]!, y[0]!), Math.PI, 0, Float64Array.of(-1, 0), {
      rtol: 1e-8,
      atol: 1e-10,
    });
    expect(Math.abs(rot.y[0]! - 1)).toBeLessThan(1e-6);
    expect(Math.abs(rot.y[1]!)).toBeLessThan(1e-6);
    expect(r.nfe).toBeGreaterThan(6);
  });
});

describe('Brownian tree noise (k-diffusion BrownianTreeNoiseSampler)', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });
  it('increments add up along the path, are standard normal, and do not depend on the step grid', () => {
    const tree = brownianTreeNoise([4000], { sigmaMin: 0.01, sigmaMax: 80, seed: 3 });
    const [a, b, c] = [50, 7.3, 0.2];
    const ab = tree(a, b).dataSync();
    const bc = tree(b, c).dataSync();
    const ac = tree(a, c).dataSync();
    let mean = 0;
    let sq = 0;
    for (let i = 0; i < ac.length; i++) {
      const sum = ab[i]! * Math.sqrt(a - b) + bc[i]! * Math.sqrt(b - c);
      expect(Math.abs(sum - ac[i]! * Math.sqrt(a - c))).toBeLessThan(1e-3);
      mean += ac[i]! / ac.length;
      sq += ac[i]! ** 2 / ac.length;
    }
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(sq - 1)).toBeLessThan(0.07);
    // Deterministic in the seed, different across seeds.
    const again = brownianTreeNoise([4000], { sigmaMin: 0.01, sigmaMax: 80, seed: 3 })(a, c).dataSync();
    expect(Array.from(again)).toEqual(Array.from(ac));
    const other = brownianTreeNoise([4000], { sigmaMin: 0.01, sigmaMax: 80, seed: 4 })(a, c).dataSync();
    expect(testing.maxAbsError(other, ac)).toBeGreaterThan(0.5);
  });
});

describe.each(['cpu', 'wasm'] as const)('analytic checks (%s)', (backend) => {
  let mix: GaussianMixture;
  let D: Denoiser;
  beforeAll(async () => {
    await initBackend(backend);
    mix = gaussianMixture(GMM);
    D = mix.denoiser;
  });

  it('the mixture denoiser is the posterior mean: Tweedie matches the gradient of the exact log-density', () => {
    const x = tf.tensor2d([0.3, -0.7, 1.9, 1.2, -2.2, 0.1], [3, 2]);
    const sigma = 0.8;
    const score = mix.score(x, sigma);
    const h = 1e-4;
    const xd = host(x);
    const s = host(score);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 2; j++) {
        const p = Float64Array.from(xd);
        const m = Float64Array.from(xd);
        p[2 * i + j]! += h;
        m[2 * i + j]! -= h;
        const fd = (mix.logDensity(p, sigma)[i]! - mix.logDensity(m, sigma)[i]!) / (2 * h);
        expect(Math.abs(fd - s[2 * i + j]!)).toBeLessThan(2e-3 * (1 + Math.abs(fd)));
      }
    }
    tf.dispose([x, score]);
  });

  it('single Gaussian: the probability-flow ODE has a closed form; Heun error falls ~4x per doubling, Euler ~2x', () => {
    const g = gaussianMixture({ weights: [1], means: [[0.5, -1]], stds: [0.7] });
    const rng = createRng(3);
    const z = rng.normal([64, 2]);
    const smax = 80;
    const x0 = tf.mul(z, smax);
    // x(σ) − μ ∝ √(s² + σ²): x(0) = μ + (x(σmax) − μ)·s/√(s² + σmax²).
    const exact = tf.tidy(() =>
      tf.add(tf.mul(tf.sub(x0, tf.tensor1d([0.5, -1])), 0.7 / Math.hypot(0.7, smax)), tf.tensor1d([0.5, -1])),
    );
    const err = (sampler: typeof sampleEuler, n: number) => {
      // Geometric steps down to a small σ, then the exact map from there: isolates the solver's order.
      const sig = exponentialSigmas(n, 0.01, smax);
      const s = sig.subarray(0, n);
      const out = sampler(g.denoiser, x0, s);
      const sEnd = s[n - 1]!;
      const mapped = tf.tidy(() =>
        tf.add(
          tf.mul(tf.sub(out, tf.tensor1d([0.5, -1])), 0.7 / Math.hypot(0.7, sEnd)),
          tf.tensor1d([0.5, -1]),
        ),
      );
      const e = testing.relativeError(host(mapped), host(exact));
      tf.dispose([out, mapped]);
      return e;
    };
    const euler = [16, 32, 64].map((n) => err(sampleEuler, n));
    const heun = [16, 32, 64].map((n) => err(sampleHeun, n));
    expect(euler[0]! / euler[1]!).toBeGreaterThan(1.7);
    expect(euler[0]! / euler[1]!).toBeLessThan(2.4);
    expect(euler[1]! / euler[2]!).toBeGreaterThan(1.8);
    expect(heun[0]! / heun[1]!).toBeGreaterThan(3.3);
    expect(heun[1]! / heun[2]!).toBeGreaterThan(3.5);
    expect(heun[2]!).toBeLessThan(euler[2]! / 10);
    tf.dispose([z, x0, exact]);
  });

  it('deterministic k-diffusion samplers converge to the exact ODE solution', () => {
    const rng = createRng(5);
    const z = rng.normal([32, 2]);
    const x = tf.mul(z, 80);
    const ref = sampleHeun(D, x, karrasSigmas(400, 0.002, 80));
    const sig = karrasSigmas(32, 0.002, 80);
    for (const [name, s] of [
      ['heun', sampleHeun],
      ['lms', sampleLms],
      ['dpmpp2m', sampleDpmpp2m],
    ] as const) {
      const out = s(D, x, sig);
      expect(testing.relativeError(host(out), host(ref)), name).toBeLessThan(0.02);
      out.dispose();
    }
    tf.dispose([z, x, ref]);
  });

  // One test per sampler (1000 samples each): every stochastic sampler reproduces the mixture's mean,
  // covariance and mode weights at σ = 0, and leaves no tensor behind.
  const stochastic: [string, (z: tf.Tensor, x: tf.Tensor, sig: Float64Array) => tf.Tensor][] = [
    ['euler ancestral', (_z, x, sig) => sampleEulerAncestral(D, x, sig, { rng: createRng(1) })],
    ['dpm2 ancestral', (_z, x, sig) => sampleDpm2Ancestral(D, x, sig, { rng: createRng(2) })],
    ['dpm++ 2s ancestral', (_z, x, sig) => sampleDpmpp2sAncestral(D, x, sig, { rng: createRng(3) })],
    ['dpm++ sde', (_z, x, sig) => sampleDpmppSde(D, x, sig, { rng: createRng(4) })],
    ['dpm++ 2m sde', (_z, x, sig) => sampleDpmpp2mSde(D, x, sig, { rng: createRng(5) })],
    ['euler churn', (_z, x, sig) => sampleEuler(D, x, sig, { sChurn: 30, rng: createRng(6) })],
    [
      'edm churn',
      (z) =>
        edmSampler(D, z, {
          numSteps: 32,
          sChurn: 40,
          sMin: 0.05,
          sMax: 50,
          sNoise: 1.003,
          rng: createRng(7),
        }),
    ],
    ['ddpm', (z) => ddpmSampler(D, z, { T: 200, rng: createRng(8) })],
    ['ddim eta=1', (z) => ddimSampler(D, z, { numSteps: 60, eta: 1, rng: createRng(9) })],
  ];
  it.each(stochastic)('%s reproduces the mixture mean, covariance and mode weights at σ = 0', (label, run) => {
    const n = 1000;
    const rng = createRng(11);
    const z = rng.normal([n, 2]);
    const x = tf.mul(z, 80);
    const sig = karrasSigmas(40, 0.002, 80);
    const before = tf.memory().numTensors;
    const out = run(z, x, sig);
    expect(tf.memory().numTensors, `${label} leaks`).toBe(before + 1);
    expectMatchesMixture(out, mix, label);
    out.dispose();
    tf.dispose([z, x]);
  });

  it('injected noise makes stochastic samplers reproducible; different draws differ', () => {
    const z = createRng(2).normal([8, 2]);
    const x = tf.mul(z, 80);
    const sig = karrasSigmas(8, 0.002, 80);
    const a = sampleEulerAncestral(D, x, sig, { rng: createRng(42) });
    const b = sampleEulerAncestral(D, x, sig, { rng: createRng(42) });
    const c = sampleEulerAncestral(D, x, sig, { rng: createRng(43) });
    const draws: number[] = [];
    const d = sampleEulerAncestral(D, x, sig, {
      noise: (shape, j) => {
        draws.push(j);
        return createRng(100 + j).normal(shape);
      },
    });
    expect(host(a)).toEqual(host(b));
    expect(testing.maxAbsError(host(a), host(c))).toBeGreaterThan(1e-3);
    expect(draws).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // Churn noise is indexed by step: only steps with σ in [sTmin, sTmax] draw.
    const churned: number[] = [];
    const e = sampleEuler(D, x, sig, {
      sChurn: 10,
      sTmin: 0.05,
      sTmax: 30,
      noise: (shape, i) => {
        churned.push(i);
        return createRng(200 + i).normal(shape);
      },
    });
    const expected = Array.from(sig.subarray(0, 8), (s, i) => (s >= 0.05 && s <= 30 ? i : -1)).filter(
      (i) => i >= 0,
    );
    expect(churned).toEqual(expected);
    expect(expected.length).toBeGreaterThan(2);
    e.dispose();
    tf.dispose([z, x, a, b, c, d]);
  });

  it('DDIM(η = 0) equals Euler in σ on the DDIM steps (linear and cosine schedules)', () => {
    const z = createRng(4).normal([16, 2]);
    for (const schedule of ['linear', 'cosine'] as const) {
      const ddim = ddimSampler(D, z, { numSteps: 25, schedule });
      const sig = ddimSigmas({ numSteps: 25, schedule });
      const x = tf.mul(z, Math.sqrt(1 + sig[0]! ** 2));
      const euler = sampleEuler(D, x, sig);
      expect(testing.relativeError(host(ddim), host(euler)), schedule).toBeLessThan(1e-4);
      tf.dispose([ddim, x, euler]);
    }
    z.dispose();
  });

  it('flow-matching Euler equals EDM Euler under x_t = (1 − t)x̂, σ = t/(1 − t); VP formulation = ablation VP', () => {
    const z = createRng(6).normal([16, 2]);
    const flow = flowMatchingFormulation();
    const a = formulationSampler(flow, D, z, { solver: 'euler', numSteps: 20 });
    const sig = flow.sigmaSteps(20);
    const x = tf.mul(z, sig[0]!);
    const b = sampleEuler(D, x, sig);
    expect(testing.relativeError(host(a), host(b))).toBeLessThan(1e-4);
    const vp = formulationSampler(vpFormulation(), D, z, { solver: 'euler', numSteps: 24 });
    const ab = ablationSampler(D, z, {
      solver: 'euler',
      discretization: 'vp',
      schedule: 'vp',
      scaling: 'vp',
      numSteps: 24,
    });
    expect(testing.relativeError(host(vp), host(ab))).toBeLessThan(1e-5);
    tf.dispose([z, a, x, b, vp, ab]);
  });

  it("formulations: σ⁻¹(σ(t)) = t, σ' and s' match finite differences, step grids end at 0, λ and p_train are sane", () => {
    for (const name of ['vp', 've', 'iddpm', 'edm', 'flow'] as const) {
      const f = formulation(name);
      const t = f.timeSteps(10);
      expect(t.length).toBe(11);
      expect(t[10]).toBe(0);
      const sig = f.sigmaSteps(10);
      for (let i = 0; i < 10; i++) {
        expect(sig[i]!, name).toBeGreaterThan(sig[i + 1]!);
        expect(Math.abs(f.sigmaInv(f.sigma(t[i]!)) - t[i]!) / t[i]!, name).toBeLessThan(1e-9);
      }
      const tm = t[4]!;
      const h = 1e-6 * tm;
      expect(
        Math.abs((f.sigma(tm + h) - f.sigma(tm - h)) / (2 * h) - f.sigmaDeriv(tm)) / f.sigmaDeriv(tm),
        name,
      ).toBeLessThan(1e-5);
      expect(Math.abs((f.s(tm + h) - f.s(tm - h)) / (2 * h) - f.sDeriv(tm)), name).toBeLessThan(1e-5);
      const draws = f.sampleTrainingSigma(2000, createRng(1));
      expect(
        draws.every((v) => v > 0 && Number.isFinite(v)),
        name,
      ).toBe(true);
      expect(f.lossWeight(1), name).toBeGreaterThan(0);
    }
    // EDM: ln σ ~ N(−1.2, 1.2²).
    const lnS = Array.from(edmFormulation().sampleTrainingSigma(4000, createRng(2)), Math.log);
    const m = lnS.reduce((a, b) => a + b, 0) / lnS.length;
    expect(Math.abs(m + 1.2)).toBeLessThan(0.06);
    // VE and iDDPM grids match the ablation sampler's discretizations.
    expect(veFormulation().sigmaSteps(5)[0]).toBeCloseTo(100, 10);
    expect(iddpmFormulation().sigmaSteps(5)[4]).toBeGreaterThan(0.002);
  });

  it('the scheduler API reproduces the k-diffusion samplers step by step', () => {
    const z = createRng(8).normal([16, 2]);
    const sigmas = edmFormulation().sigmaSteps(12);
    const x0 = tf.mul(z, sigmas[0]!);
    const pairs = [
      ['euler', sampleEuler],
      ['heun', sampleHeun],
      ['dpmpp-2m', sampleDpmpp2m],
    ] as const;
    // A raw network F whose preconditioned D is the exact mixture denoiser.
    const pre = edmPrecond();
    const F = (xIn: tf.Tensor, cNoise: tf.Tensor) =>
      tf.tidy(() => {
        const sigma = tf.exp(tf.mul(cNoise, 4));
        const c = Array.from(sigma.dataSync(), (s) => pre.coefficients(s));
        const x = tf.div(xIn, tf.reshape(tf.tensor1d(c.map((v) => v.cIn)), [-1, 1]));
        const d = D(x, sigma);
        return tf.div(
          tf.sub(d, tf.mul(x, tf.reshape(tf.tensor1d(c.map((v) => v.cSkip)), [-1, 1]))),
          tf.reshape(tf.tensor1d(c.map((v) => v.cOut)), [-1, 1]),
        );
      });
    for (const [solver, ref] of pairs) {
      const sched = new DiffusionScheduler({ formulation: edmFormulation(), solver });
      sched.setTimesteps(12);
      let x = sched.initNoise(z);
      for (const t of sched.timesteps) {
        const out = F(sched.scaleModelInput(x, t), tf.fill([16], t.cNoise));
        const { prevSample, denoised } = sched.step(out, t, x);
        tf.dispose([x, out, denoised]);
        x = prevSample;
      }
      const expected = ref(D, x0, sigmas);
      expect(testing.relativeError(host(x), host(expected)), solver).toBeLessThan(1e-4);
      sched.reset();
      tf.dispose([x, expected]);
    }
    tf.dispose([z, x0]);
  });

  it('scheduler euler-ancestral with injected noise equals sampleEulerAncestral; iDDPM rounding snaps EDM steps to u_j', () => {
    const z = createRng(9).normal([8, 2]);
    const form = edmFormulation();
    const sigmas = form.sigmaSteps(10);
    const noise = (shape: number[], j: number) => createRng(500 + j).normal(shape);
    const sched = new DiffusionScheduler({
      formulation: form,
      solver: 'euler-ancestral',
      predictionType: 'sample',
      noise,
    });
    sched.setTimesteps(10);
    let x = sched.initNoise(z);
    for (const t of sched.timesteps) {
      const out = D(x, tf.fill([8], t.sigma));
      const { prevSample, denoised } = sched.step(out, t, x);
      tf.dispose([x, out, denoised]);
      x = prevSample;
    }
    const x0 = tf.mul(z, sigmas[0]!);
    const ref = sampleEulerAncestral(D, x0, sigmas, { noise });
    expect(testing.relativeError(host(x), host(ref))).toBeLessThan(1e-5);
    // edm_sampler with an iDDPM network: every time step is one of the network's discrete levels.
    const pre = iddpmPrecond();
    const levels = new Set(Array.from(iddpmLevels()));
    const seen: number[] = [];
    const wrapped = Object.assign((xx: tf.Tensor, s: tf.Tensor) => D(xx, s), {
      roundSigma: pre.roundSigma,
      sigmaMin: pre.sigmaMin,
      sigmaMax: pre.sigmaMax,
    });
    const out = edmSampler(wrapped, z, { numSteps: 6, callback: (info) => seen.push(info.sigmaHat) });
    expect(seen.length).toBe(6);
    for (const s of seen) expect(levels.has(s)).toBe(true);
    tf.dispose([z, x, x0, ref, out]);
  });

  it('score SDEs: VP discretization is DDPM, marginals are consistent, sub-VP std is 1 − e^{2·logMean}', () => {
    const vp = vpSde();
    const x = tf.tensor2d([1, -2, 0.5, 3], [2, 2]);
    const t = tf.tensor1d([0.5, 0.5]);
    const { f, G } = vp.discretize(x, t);
    const i = Math.trunc(0.5 * 999);
    const beta = vp.discrete[i]!;
    expect(
      testing.maxAbsError(
        host(f),
        host(x).map((v) => (Math.sqrt(1 - beta) - 1) * v),
      ),
    ).toBeLessThan(1e-6);
    expect(host(G)[0]).toBeCloseTo(Math.sqrt(beta), 6);
    const c = vp.marginalCoefficients(0.5);
    expect(c.scale ** 2 + c.std ** 2).toBeCloseTo(1, 10);
    const sub = subVpSde().marginalCoefficients(0.5);
    expect(sub.std).toBeCloseTo(1 - c.scale ** 2, 10);
    const ve = veSde();
    expect(ve.marginalCoefficients(1).std).toBeCloseTo(50, 10);
    const { drift, diffusion } = ve.sde(x, t);
    expect(host(drift).every((v) => v === 0)).toBe(true);
    expect(host(diffusion)[0]).toBeCloseTo(0.01 * 5000 ** 0.5 * Math.sqrt(2 * Math.log(5000)), 2);
    tf.dispose([x, t, f, G, drift, diffusion]);
  });

  it('predictor–corrector samplers reproduce the mixture statistics (VP reverse diffusion + Langevin, VE EM + ALD, VP ancestral)', () => {
    const n = 1000;
    for (const [label, sde, predictor, corrector] of [
      ['vp rd+langevin', vpSde({ N: 80 }), 'reverse-diffusion', 'langevin'],
      ['ve em+ald', veSde({ N: 100 }), 'euler-maruyama', 'ald'],
      ['vp ancestral', vpSde({ N: 80 }), 'ancestral', 'none'],
      ['subvp em', subVpSde({ N: 100 }), 'euler-maruyama', 'none'],
    ] as const) {
      const rng = createRng(21);
      const x0 = sde.priorSampling([n, 2], rng);
      const before = tf.memory().numTensors;
      const { x, xMean } = pcSampler(sde, scoreFromDenoiser(sde, D), x0, {
        predictor,
        corrector,
        snr: 0.16,
        rng: createRng(22),
      });
      expect(tf.memory().numTensors, label).toBe(before + 2);
      expectMatchesMixture(xMean, mix, label);
      tf.dispose([x, xMean, x0]);
    }
  });

  it('the adaptive probability-flow ODE sampler agrees with a fine Heun solve of the same ODE (VE) and counts NFE', () => {
    const sde = veSde();
    const score = scoreFromDenoiser(sde, D);
    const x0 = sde.priorSampling([8, 2], createRng(30));
    const { x, nfe } = odeSampler(sde, score, x0, { rtol: 1e-5, atol: 1e-5 });
    const sEnd = sde.marginalCoefficients(1e-3).std;
    const ref = sampleHeun(D, x0, karrasSigmas(400, sEnd, 50).subarray(0, 400));
    expect(testing.relativeError(host(x), host(ref))).toBeLessThan(2e-3);
    expect(nfe).toBeGreaterThan(20);
    tf.dispose([x, x0, ref]);
  });

  it('fixed-step probability-flow ODE (pcSampler, probabilityFlow) converges to the adaptive RK45 solution', () => {
    const sde = veSde({ N: 400 });
    const score = scoreFromDenoiser(sde, D);
    const x0 = sde.priorSampling([8, 2], createRng(31));
    const { x: adaptive } = odeSampler(sde, score, x0);
    const { x, xMean } = pcSampler(sde, score, x0, { predictor: 'euler-maruyama', probabilityFlow: true });
    // Euler with 400 steps in t: first order, so a loose bound; the noise term is zero on the ODE.
    expect(testing.relativeError(host(x), host(xMean))).toBe(0);
    expect(testing.relativeError(host(x), host(adaptive))).toBeLessThan(3e-2);
    tf.dispose([adaptive, x, xMean, x0]);
  });

  it('likelihood by the probability-flow ODE is within 1% of the exact mixture log-density (exact trace, Rademacher, Gaussian)', () => {
    const sde = vpSde();
    const score = scoreFromDenoiser(sde, D);
    const { x } = mix.sample(12, createRng(40));
    const exact = mix.logDensity(x);
    const meanExact = exact.reduce((a, b) => a + b, 0) / exact.length;
    const res = likelihood(sde, score, x, { trace: 'exact' });
    const meanEst = res.logp.reduce((a, b) => a + b, 0) / res.logp.length;
    expect(Math.abs(meanEst - meanExact) / Math.abs(meanExact)).toBeLessThan(0.01);
    for (let i = 0; i < exact.length; i++) expect(Math.abs(res.logp[i]! - exact[i]!)).toBeLessThan(0.05);
    expect(res.bitsPerDim[0]).toBeCloseTo(-res.logp[0]! / Math.LN2 / 2, 10);
    res.z.dispose();
    x.dispose();
    // Hutchinson estimates are unbiased: the mean error over rows is within 3 standard errors of 0.
    const big = mix.sample(48, createRng(42)).x;
    const exactBig = mix.logDensity(big);
    for (const trace of ['rademacher', 'gaussian'] as const) {
      const lp = logLikelihood(sde, score, big, { trace, rng: createRng(41) });
      const errs = Array.from(lp, (v, i) => v - exactBig[i]!);
      const m = errs.reduce((a, b) => a + b, 0) / errs.length;
      const sd = Math.sqrt(errs.reduce((a, b) => a + (b - m) ** 2, 0) / (errs.length - 1));
      expect(Math.abs(m), trace).toBeLessThan(3 * (sd / Math.sqrt(errs.length)) + 0.01);
    }
    big.dispose();
  });

  it('annealed Langevin dynamics samples a Gaussian (code and paper conventions agree when ε = 2·stepLr)', () => {
    const g = gaussianMixture({ weights: [1], means: [[1, -1]], stds: [0.5] });
    const sigmas = geometricSigmas(5, 0.05, 10);
    const x0 = createRng(50).uniform([800, 2], -5, 5);
    const a = annealedLangevin(denoiserScore(g.denoiser), x0, {
      sigmas,
      stepsPerLevel: 30,
      stepLr: 2e-3,
      rng: createRng(51),
    });
    const b = annealedLangevin(denoiserScore(g.denoiser), x0, {
      sigmas,
      stepsPerLevel: 30,
      stepLr: 4e-3,
      convention: 'paper',
      rng: createRng(51),
    });
    expect(testing.relativeError(host(a), host(b))).toBeLessThan(1e-5);
    const s = stats(a, g);
    expect(Math.abs(s.mean[0]! - 1)).toBeLessThan(0.08);
    expect(Math.abs(s.mean[1]! + 1)).toBeLessThan(0.08);
    expect(Math.abs(s.cov[0]! - 0.25 - 0.05 ** 2)).toBeLessThan(0.06);
    tf.dispose([x0, a, b]);
  });
});
