/**
 * @lab/diffusion demo: sample 2-D data live with any formulation of Karras et al. 2022 (VP, VE, iDDPM, EDM, flow
 * matching) and any sampler (EDM Heun, Euler, k-diffusion's DPM++ and ancestral samplers), watch the trajectories,
 * and train the small MLP denoiser in the browser to sample from it.
 */
import {
  createMlpDenoiser,
  type Denoiser,
  type Formulation,
  formulation,
  formulationSampler,
  gaussianMixture,
  type MlpDenoiserModel,
  mlpDenoiser,
  type StepInfo,
  sampleDpm2,
  sampleDpmpp2m,
  sampleDpmpp2mSde,
  sampleEulerAncestral,
  sampleLms,
} from '@lab/diffusion';
import { createRng } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { DemoPage } from '../page.js';
import type { TrainEvent, TrainRequest } from '../workers/diffusion-train.worker.js';
import { absoluteWasmPaths } from '../workers/urls.js';
import { el } from '../ui.js';

let trainer: Worker | undefined;

const SNIPPET = `import { edmSampler, gaussianMixtureDenoiser, karrasSigmas, sampleDpmpp2m } from '@lab/diffusion';

const D = gaussianMixtureDenoiser({ weights: [0.5, 0.3, 0.2], means: [[-2, 0], [2, 1], [0, -2.5]], stds: [0.3, 0.5, 0.2] });
const latents = tf.randomNormal([512, 2]);
const x = edmSampler(D, latents, { numSteps: 18 });                          // Karras et al. 2022, Algorithm 2
const y = sampleDpmpp2m(D, latents.mul(80), karrasSigmas(18, 0.002, 80));   // k-diffusion DPM++ 2M`;

const MIXTURE = {
  weights: [0.5, 0.3, 0.2],
  means: [
    [-2, 0],
    [2, 1],
    [0, -2.5],
  ],
  stds: [0.3, 0.5, 0.2],
};

type SamplerName = 'heun' | 'euler' | 'dpmpp-2m' | 'lms' | 'dpm2' | 'euler-ancestral' | 'dpmpp-2m-sde';
const SAMPLERS: { value: SamplerName; label: string; nfe: (n: number) => number }[] = [
  { value: 'heun', label: 'Heun (EDM Algorithm 1)', nfe: (n) => 2 * n - 1 },
  { value: 'euler', label: 'Euler (DDIM-like)', nfe: (n) => n },
  { value: 'dpmpp-2m', label: 'DPM-Solver++ 2M', nfe: (n) => n },
  { value: 'lms', label: 'Linear multistep (order 4)', nfe: (n) => n },
  { value: 'dpm2', label: 'DPM-Solver-2', nfe: (n) => 2 * n - 1 },
  { value: 'euler-ancestral', label: 'Euler ancestral (stochastic)', nfe: (n) => n },
  { value: 'dpmpp-2m-sde', label: 'DPM++ 2M SDE (stochastic)', nfe: (n) => n },
];
const FORMULATIONS: Formulation['name'][] = ['edm', 'vp', 've', 'iddpm', 'flow'];
const N_SAMPLES = 600;
const N_TRACKS = 40;
const VIEW = 4.5;

function select<T extends string>(options: { value: T; label: string }[], initial: T): HTMLSelectElement {
  const s = el('select');
  for (const o of options) {
    const opt = el('option', { value: o.value }, o.label);
    if (o.value === initial) opt.selected = true;
    s.append(opt);
  }
  return s;
}

/** Runs a sampler; records each sample's path scaled to unit variance, x/√(1 + σ²). */
function runSampler(
  D: Denoiser,
  form: Formulation,
  sampler: SamplerName,
  steps: number,
  latents: tf.Tensor,
): { samples: Float32Array; tracks: Float32Array[] } {
  const tracks: Float32Array[] = [];
  const record = (info: StepInfo) => {
    const scale = 1 / Math.sqrt(1 + info.sigma * info.sigma);
    const xs = tf.tidy(() => tf.mul(tf.slice(info.x, [0, 0], [N_TRACKS, 2]), scale));
    tracks.push(xs.dataSync() as Float32Array);
    xs.dispose();
  };
  let out: tf.Tensor;
  if (sampler === 'heun' || sampler === 'euler') {
    // Formulation-space ODE: the callback sees x̂·s(t); rescale to x̂ first.
    out = formulationSampler(form, D, latents, {
      solver: sampler,
      numSteps: steps,
      callback: (info) => {
        const t = form.sigmaInv(info.sigma);
        const xs = tf.div(info.x, form.s(t));
        record({ ...info, x: xs });
        xs.dispose();
      },
    });
  } else {
    const sigmas = form.sigmaSteps(steps);
    const x0 = tf.mul(latents, sigmas[0]!);
    const rng = createRng(7);
    const opts = { callback: record };
    if (sampler === 'dpmpp-2m') out = sampleDpmpp2m(D, x0, sigmas, opts);
    else if (sampler === 'lms') out = sampleLms(D, x0, sigmas, opts);
    else if (sampler === 'dpm2') out = sampleDpm2(D, x0, sigmas, opts);
    else if (sampler === 'euler-ancestral') out = sampleEulerAncestral(D, x0, sigmas, { ...opts, rng });
    else out = sampleDpmpp2mSde(D, x0, sigmas, { ...opts, rng });
    x0.dispose();
  }
  const final = tf.slice(out, [0, 0], [N_TRACKS, 2]);
  tracks.push(final.dataSync() as Float32Array);
  final.dispose();
  const samples = out.dataSync() as Float32Array;
  out.dispose();
  return { samples, tracks };
}

function draw(
  canvas: HTMLCanvasElement,
  data: Float32Array | null,
  result: { samples: Float32Array; tracks: Float32Array[] },
): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width, height } = canvas;
  const pad = 40;
  const sx = (v: number) => pad + ((v + VIEW) / (2 * VIEW)) * (width - 2 * pad);
  const sy = (v: number) => height - pad - ((v + VIEW) / (2 * VIEW)) * (height - 2 * pad);
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  // Axes with ticks (data units).
  ctx.strokeStyle = '#888';
  ctx.fillStyle = '#444';
  ctx.font = '11px sans-serif';
  ctx.beginPath();
  ctx.moveTo(pad, height - pad);
  ctx.lineTo(width - pad, height - pad);
  ctx.moveTo(pad, pad);
  ctx.lineTo(pad, height - pad);
  ctx.stroke();
  for (let v = -4; v <= 4; v += 2) {
    ctx.fillText(String(v), sx(v) - 4, height - pad + 14);
    ctx.fillText(String(v), pad - 18, sy(v) + 4);
  }
  ctx.fillText('x₁ (data units)', width / 2 - 30, height - 8);
  ctx.save();
  ctx.translate(12, height / 2 + 30);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('x₂ (data units)', 0, 0);
  ctx.restore();
  if (data) {
    ctx.fillStyle = 'rgba(120,120,120,0.25)';
    for (let i = 0; i < data.length; i += 2) ctx.fillRect(sx(data[i]!) - 1, sy(data[i + 1]!) - 1, 2, 2);
  }
  // Trajectories of the first samples.
  ctx.strokeStyle = 'rgba(40,90,200,0.35)';
  for (let k = 0; k < N_TRACKS; k++) {
    ctx.beginPath();
    result.tracks.forEach((step, s) => {
      const x = sx(step[2 * k]!);
      const y = sy(step[2 * k + 1]!);
      if (s === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
  ctx.fillStyle = 'rgba(200,40,40,0.7)';
  for (let i = 0; i < result.samples.length; i += 2) {
    ctx.fillRect(sx(result.samples[i]!) - 1.5, sy(result.samples[i + 1]!) - 1.5, 3, 3);
  }
}

let disposed = false;
let trained: { model: MlpDenoiserModel; form: Formulation; data: Float32Array } | null = null;

export const page: DemoPage = {
  id: 'diffusion',
  title: 'Diffusion: the EDM design space in 2-D',
  summary:
    'Sample a 2-D mixture with any formulation (VP, VE, iDDPM, EDM, flow matching) and sampler, watch trajectories, and train a small denoiser in the browser.',
  references:
    'Karras et al. 2022 (EDM); Song et al. 2021 (score SDEs); Lu et al. 2022 (DPM-Solver++); Lipman et al. 2023 (flow matching)',
  async mount(root: HTMLElement) {
    disposed = false;
    const intro = el('p');
    intro.innerHTML =
      'A denoiser D(x; σ) estimates the clean sample from x = x₀ + σ·n; sampling integrates the probability-flow ODE ' +
      '<b>dx/dσ = (x − D(x; σ))/σ</b> from σ<sub>max</sub> to 0 (Karras et al. 2022, eq. 3 and Algorithm 1). The ' +
      '"analytic mixture" denoiser is the exact posterior mean of a 3-component Gaussian mixture, so the only error is ' +
      'the solver’s. Red: samples at σ = 0; blue: paths of 40 samples, scaled by 1/√(1 + σ²); grey: the data.';
    const form = select(
      FORMULATIONS.map((f) => ({
        value: f,
        label: { edm: 'EDM', vp: 'VP (DDPM++)', ve: 'VE (NCSN++)', iddpm: 'iDDPM', flow: 'Flow matching' }[f],
      })),
      'edm',
    );
    const sampler = select(SAMPLERS, 'heun');
    const steps = el('input', { type: 'range', min: '2', max: '64', value: '12', 'data-main-control': '' });
    const stepsLabel = el('span');
    const source = select(
      [
        { value: 'mixture', label: 'analytic mixture (exact denoiser)' },
        { value: 'trained', label: 'trained MLP (train it below)' },
      ],
      'mixture',
    );
    const status = el('p', {}, '');
    const canvas = el('canvas', {
      width: '560',
      height: '560',
      'data-main-output': '',
      style: 'border:1px solid #ddd',
    });
    const toy = select(
      [
        { value: 'moons', label: 'two moons' },
        { value: 'mixture', label: '8 Gaussians' },
        { value: 'swiss-roll', label: 'Swiss roll' },
      ],
      'moons',
    );
    const trainButton = el('button', {}, 'Train MLP denoiser (400 steps)');
    const controls = el('div', { style: 'display:flex;gap:12px;flex-wrap:wrap;align-items:center' });
    const label = (text: string, c: HTMLElement) => {
      const l = el('label', {}, `${text} `);
      l.append(c);
      return l;
    };
    controls.append(
      label('formulation', form),
      label('sampler', sampler),
      label('steps', steps),
      stepsLabel,
      label('denoiser', source),
    );
    const trainRow = el('div', { style: 'display:flex;gap:12px;align-items:center;margin-top:8px' });
    trainRow.append(label('toy data', toy), trainButton);
    const code = el('pre', { style: 'background:#f6f6f6;padding:8px;overflow:auto' }, SNIPPET);
    root.append(intro, controls, trainRow, status, canvas, code);

    const mix = gaussianMixture(MIXTURE);
    const dataMixture = mix.sample(800, createRng(1));
    const mixtureData = dataMixture.x.dataSync() as Float32Array;
    dataMixture.x.dispose();
    const latents = createRng(2).normal([N_SAMPLES, 2]);

    const render = async () => {
      if (disposed) return;
      const n = Number(steps.value);
      const f = formulation(form.value as Formulation['name']);
      const s = sampler.value as SamplerName;
      const useTrained = source.value === 'trained' && trained !== null;
      const D = useTrained ? mlpDenoiser(trained!.form, trained!.model) : mix.denoiser;
      const nfe = SAMPLERS.find((o) => o.value === s)!.nfe(n);
      stepsLabel.textContent = `${n} steps, ${nfe} denoiser evaluations`;
      await new Promise((r) => setTimeout(r, 0));
      const t0 = performance.now();
      const result = runSampler(D, f, s, n, latents);
      draw(canvas, useTrained ? trained!.data : mixtureData, result);
      status.textContent = `${useTrained ? 'trained MLP' : 'analytic mixture'} · ${f.name} · σ from ${f.sigmaSteps(n)[0]!.toFixed(1)} to 0 · ${(performance.now() - t0).toFixed(0)} ms`;
    };

    for (const c of [form, sampler, steps, source]) {
      c.addEventListener('input', () => void render());
      c.addEventListener('change', () => void render());
    }
    trainButton.addEventListener('click', () => {
      trainButton.disabled = true;
      status.textContent = 'training in a Web Worker …';
      trainer?.terminate();
      trainer = new Worker(new URL('../workers/diffusion-train.worker.ts', import.meta.url), {
        type: 'module',
      });
      const request: TrainRequest = {
        wasmPaths: absoluteWasmPaths(),
        toy: toy.value as TrainRequest['toy'],
        hidden: 64,
        blocks: 1,
        chunks: 8,
        stepsPerChunk: 50,
      };
      trainer.addEventListener('message', async (e: MessageEvent<TrainEvent>) => {
        const ev = e.data;
        if (ev.type === 'progress') {
          status.textContent = `training in a Web Worker: step ${ev.step}/${ev.total}, loss ${ev.loss.toFixed(3)}`;
        } else if (ev.type === 'error') {
          status.textContent = `training failed: ${ev.message}`;
          trainButton.disabled = false;
        } else {
          // The same architecture and seed as in the worker, then the trained weights.
          trained?.model.dispose();
          const model = createMlpDenoiser({
            dim: 2,
            hidden: request.hidden,
            blocks: request.blocks,
            rng: createRng(3),
          });
          model.variables.forEach((v, i) => {
            const w = tf.tensor(ev.weights[i]!, v.shape);
            v.assign(w);
            w.dispose();
          });
          trained = { model, form: formulation('edm'), data: ev.data };
          trainer?.terminate();
          trainer = undefined;
          source.value = 'trained';
          trainButton.disabled = false;
          await render();
        }
      });
      trainer.postMessage(request);
    });
    await render();
  },
  unmount() {
    disposed = true;
    trainer?.terminate();
    trainer = undefined;
    trained?.model.dispose();
    trained = null;
  },
};
