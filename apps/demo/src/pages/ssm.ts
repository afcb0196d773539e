/**
 * @lab/ssm demo: HiPPO online function approximation (Gu et al. 2020) — draw a signal and watch the LegS /
 * LegT / LagT coefficients evolve and the reconstruction follow; the S4D convolution kernel for each
 * initialization (Gu et al. 2022); a Mamba block (Gu & Dao 2023) generating step by step with step().
 */
import {
  hippoProject,
  hippoReconstruct,
  type HippoOnlineMeasure,
  Mamba,
  s4dInitA,
  s4dKernel,
} from '@lab/ssm';
import { createRng } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { DemoPage } from '../page.js';
import { el } from '../ui.js';

const SNIPPET = `import { hippoProject, hippoReconstruct, s4dKernel, selectiveScan, Mamba } from '@lab/ssm';

// HiPPO: coefficients after every sample ([L, N]) and the memory they hold
const c = hippoProject(signal, 'legt', { N: 32, dt: 1 / signal.length, theta: 0.25 });
const memory = hippoReconstruct(c.subarray((L - 1) * 32), 'legt', 200, { theta: 0.25 });

// Mamba's selective scan (fused WebAssembly SIMD kernel, differentiable)
const { out, lastState } = selectiveScan(u, delta, A, B, C, { D, z, deltaBias, deltaSoftplus: true, returnLastState: true });

// A PyTorch mamba_ssm block, then token-by-token decoding
const block = Mamba.fromStateDict({ dModel: 768, dState: 16 }, stateDict);
let state = block.initState(1);
({ y, state } = block.step(x, state));`;

const L = 400;
const N = 32;

/** The preset signal: two sines and a step, sampled at L points over t ∈ [0, 1). */
function presetSignal(): Float64Array {
  return Float64Array.from({ length: L }, (_, k) => {
    const t = k / L;
    return (
      0.6 * Math.sin(2 * Math.PI * 3 * t) +
      0.3 * Math.sin(2 * Math.PI * 11 * t) +
      (t > 0.55 && t < 0.7 ? 0.5 : 0)
    );
  });
}

interface Plot {
  canvas: HTMLCanvasElement;
  ctx: CanvasRenderingContext2D;
  w: number;
  h: number;
  pad: number;
}

function makePlot(width: number, height: number, label: string): Plot {
  const canvas = el('canvas', { width: String(width), height: String(height), 'aria-label': label });
  canvas.style.border = '1px solid #ccc';
  canvas.style.display = 'block';
  const ctx = canvas.getContext('2d')!;
  return { canvas, ctx, w: width, h: height, pad: 36 };
}

/** Axes with labels: x over [x0, x1] (xLabel), y over [y0, y1] (yLabel). */
function axes(p: Plot, x0: number, x1: number, y0: number, y1: number, xLabel: string, yLabel: string): void {
  const { ctx, w, h, pad } = p;
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = '#888';
  ctx.fillStyle = '#444';
  ctx.font = '11px sans-serif';
  ctx.beginPath();
  ctx.moveTo(pad, 8);
  ctx.lineTo(pad, h - pad);
  ctx.lineTo(w - 8, h - pad);
  ctx.stroke();
  ctx.fillText(xLabel, w / 2 - 30, h - 6);
  ctx.fillText(x0.toFixed(2), pad - 4, h - pad + 14);
  ctx.fillText(x1.toFixed(2), w - 40, h - pad + 14);
  const fmt = (v: number) => (v !== 0 && Math.abs(v) < 0.1 ? v.toExponential(0) : v.toFixed(1));
  ctx.fillText(fmt(y1), 2, 14);
  ctx.fillText(fmt(y0), 2, h - pad);
  ctx.save();
  ctx.translate(10, h / 2 + 20);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(yLabel, 0, 0);
  ctx.restore();
}

function line(
  p: Plot,
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  x0: number,
  x1: number,
  y0: number,
  y1: number,
  color: string,
): void {
  const { ctx, w, h, pad } = p;
  const sx = (x: number) => pad + ((x - x0) / (x1 - x0)) * (w - pad - 8);
  const sy = (y: number) => h - pad - ((y - y0) / (y1 - y0)) * (h - pad - 8);
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  for (let i = 0; i < xs.length; i++) {
    const X = sx(xs[i]!);
    const Y = sy(Math.max(y0, Math.min(y1, ys[i]!)));
    if (i === 0) ctx.moveTo(X, Y);
    else ctx.lineTo(X, Y);
  }
  ctx.stroke();
}

let timer: ReturnType<typeof setInterval> | undefined;

export const page: DemoPage = {
  id: 'ssm',
  title: 'State space models: HiPPO, S4D, Mamba',
  summary:
    'Online function approximation with HiPPO, S4D convolution kernels, and a Mamba block decoding step by step.',
  references: 'Gu et al. 2020 (HiPPO), Gu et al. 2022 (S4, S4D), Gu & Dao 2023 (Mamba)',

  async mount(root: HTMLElement) {
    root.append(
      el(
        'p',
        {},
        'HiPPO keeps a running projection c(t) of the input history onto a polynomial basis: dc/dt = A c + B f(t). ' +
          'LegS (scaled Legendre) remembers the whole history, LegT and FouT a sliding window θ, LagT an exponentially fading past. ' +
          'Draw on the signal with the mouse; the time slider replays the online projection and the reconstruction from the N = 32 coefficients held at that moment.',
      ),
    );
    const controls = el('div');
    const measureSelect = el('select', { 'data-main-control': '', 'aria-label': 'HiPPO measure' });
    for (const [value, label] of [
      ['legt', 'LegT (window θ = 0.25)'],
      ['legs', 'LegS (whole history)'],
      ['lagt', 'LagT (fading memory)'],
      ['fout', 'FouT (Fourier, window θ = 0.25)'],
    ] as const) {
      measureSelect.append(el('option', { value }, label));
    }
    const timeSlider = el('input', {
      type: 'range',
      min: '1',
      max: String(L),
      value: String(L),
      'aria-label': 'time step',
    });
    const playButton = el('button', {}, 'Play');
    const resetButton = el('button', {}, 'Reset signal');
    controls.append('Measure: ', measureSelect, ' time: ', timeSlider, ' ', playButton, ' ', resetButton);
    root.append(controls);

    const output = el('div', { 'data-main-output': '' });
    const signalPlot = makePlot(640, 220, 'signal and reconstruction');
    const coefPlot = makePlot(640, 150, 'HiPPO coefficients');
    output.append(signalPlot.canvas, coefPlot.canvas);
    root.append(output);

    let signal: Float64Array = presetSignal();
    let coefficients: Float64Array = new Float64Array(0);
    const projectOptions = { N, dt: 1 / L, theta: 0.25, timescale: 20 };
    const options = { ...projectOptions, span: 0.2 };

    const recompute = () => {
      const m = measureSelect.value as HippoOnlineMeasure;
      coefficients = hippoProject(signal, m, projectOptions);
    };

    const draw = () => {
      const m = measureSelect.value as HippoOnlineMeasure;
      const k = Number(timeSlider.value) - 1;
      const t = k / L;
      axes(signalPlot, 0, 1, -1.5, 1.5, 'time t (s)', 'f(t)');
      const ts = Float64Array.from({ length: L }, (_, i) => i / L);
      line(signalPlot, ts, signal, 0, 1, -1.5, 1.5, '#bbb');
      line(signalPlot, ts.subarray(0, k + 1), signal.subarray(0, k + 1), 0, 1, -1.5, 1.5, '#222');
      const c = coefficients.subarray(k * N, (k + 1) * N);
      const points = 200;
      const rec = hippoReconstruct(c, m, points, options);
      const start = m === 'legs' ? 0 : m === 'lagt' ? t - 0.2 : t - 0.25;
      const xs = Float64Array.from({ length: points }, (_, i) => start + (i / (points - 1)) * (t - start));
      line(signalPlot, xs, rec, 0, 1, -1.5, 1.5, '#d62728');
      signalPlot.ctx.fillStyle = '#d62728';
      signalPlot.ctx.fillText(`reconstruction from c(t) at t = ${t.toFixed(3)} s`, 60, 20);
      let cmax = 1e-6;
      for (const v of c) cmax = Math.max(cmax, Math.abs(v));
      axes(coefPlot, 0, N - 1, -cmax, cmax, 'coefficient index n', 'c_n(t)');
      const bw = (coefPlot.w - coefPlot.pad - 8) / N;
      const mid = coefPlot.pad + 0;
      for (let n = 0; n < N; n++) {
        const hgt = (c[n]! / cmax) * ((coefPlot.h - coefPlot.pad - 8) / 2);
        coefPlot.ctx.fillStyle = '#1f77b4';
        const y0 = (coefPlot.h - coefPlot.pad + 8) / 2;
        coefPlot.ctx.fillRect(mid + n * bw + 1, hgt > 0 ? y0 - hgt : y0, bw - 2, Math.abs(hgt));
      }
    };

    let drawing = false;
    const paint = (ev: MouseEvent) => {
      const r = signalPlot.canvas.getBoundingClientRect();
      const x = (ev.clientX - r.left - signalPlot.pad) / (signalPlot.w - signalPlot.pad - 8);
      const y = 1.5 - (3 * (ev.clientY - r.top - 8)) / (signalPlot.h - signalPlot.pad - 8);
      const i = Math.round(x * L);
      for (let j = Math.max(0, i - 3); j <= Math.min(L - 1, i + 3); j++)
        signal[j] = Math.max(-1.5, Math.min(1.5, y));
    };
    signalPlot.canvas.addEventListener('mousedown', (ev) => {
      drawing = true;
      paint(ev);
    });
    signalPlot.canvas.addEventListener('mousemove', (ev) => {
      if (drawing) {
        paint(ev);
        draw();
      }
    });
    window.addEventListener('mouseup', () => {
      if (drawing) {
        drawing = false;
        recompute();
        draw();
      }
    });
    measureSelect.addEventListener('change', () => {
      recompute();
      draw();
    });
    timeSlider.addEventListener('input', draw);
    resetButton.addEventListener('click', () => {
      signal = presetSignal();
      recompute();
      draw();
    });
    playButton.addEventListener('click', () => {
      if (timer) {
        clearInterval(timer);
        timer = undefined;
        playButton.textContent = 'Play';
        return;
      }
      playButton.textContent = 'Pause';
      timeSlider.value = '1';
      timer = setInterval(() => {
        const next = Number(timeSlider.value) + 4;
        timeSlider.value = String(Math.min(L, next));
        draw();
        if (next >= L) {
          clearInterval(timer);
          timer = undefined;
          playButton.textContent = 'Play';
        }
      }, 30);
    });
    recompute();
    draw();
    await new Promise((r) => setTimeout(r, 0));

    // S4D kernels for each initialization.
    root.append(
      el('h3', {}, 'S4D convolution kernels'),
      el(
        'p',
        {},
        'K[l] = 2 Re Σ_n C_n (exp(ΔA_n) − 1)/A_n · exp(ΔA_n l): one channel, N = 64, Δ = 0.01, C = 1, for the three initializations of A.',
      ),
    );
    const kernelPlot = makePlot(640, 200, 'S4D kernels');
    root.append(kernelPlot.canvas);
    const Lk = 256;
    const kernels: Float64Array[] = (['lin', 'inv', 'real'] as const).map((init) => {
      const k32 = tf.tidy(() => {
        const { logAReal, AImag } = s4dInitA(init, 1, 64);
        const C = tf.concat([tf.ones([1, 32, 1]), tf.zeros([1, 32, 1])], 2);
        const K = s4dKernel(
          {
            logDt: tf.tensor1d([Math.log(0.01)]),
            C,
            logAReal: tf.tensor2d(logAReal, [1, 32]),
            AImag: tf.tensor2d(AImag, [1, 32]),
          },
          Lk,
        );
        return Float32Array.from(K.dataSync());
      });
      return Float64Array.from(k32);
    });
    let kmax = 1e-6;
    for (const k of kernels) for (const v of k) kmax = Math.max(kmax, Math.abs(v));
    axes(kernelPlot, 0, Lk - 1, -kmax, kmax, 'lag l (steps)', 'K[l]');
    const lags = Float64Array.from({ length: Lk }, (_, i) => i);
    const colors = ['#1f77b4', '#ff7f0e', '#2ca02c'];
    for (const [i, k] of kernels.entries()) line(kernelPlot, lags, k, 0, Lk - 1, -kmax, kmax, colors[i]!);
    kernelPlot.ctx.fillStyle = '#333';
    ['S4D-Lin', 'S4D-Inv', 'S4D-Real'].forEach((name, i) => {
      kernelPlot.ctx.fillStyle = colors[i]!;
      kernelPlot.ctx.fillText(name, kernelPlot.w - 90, 20 + 14 * i);
    });

    // A Mamba block decoding step by step.
    root.append(
      el('h3', {}, 'Mamba block, step by step'),
      el(
        'p',
        {},
        'A freshly initialized Mamba block (dModel = 16, N = 16) decodes 64 steps of a sine input with step(): constant work per token, state = conv_state + ssm_state. Shown: the first output channel per step.',
      ),
    );
    const mambaPlot = makePlot(640, 180, 'Mamba step outputs');
    const mambaInfo = el('p');
    root.append(mambaPlot.canvas, mambaInfo);
    const block = Mamba.create({ dModel: 16, dState: 16 }, createRng(1));
    let state = block.initState(1);
    const outputs: number[] = [];
    const t0 = performance.now();
    for (let s = 0; s < 64; s++) {
      const x = tf.tidy(() => tf.mul(tf.ones([1, 1, 16]), Math.sin(s / 5)));
      const r = block.step(x, state);
      tf.dispose([x, state.convState, state.ssmState]);
      state = r.state;
      outputs.push(r.y.dataSync()[0]!);
      r.y.dispose();
      if (s % 16 === 15) await new Promise((res) => setTimeout(res, 0));
    }
    const ms = performance.now() - t0;
    tf.dispose([state.convState, state.ssmState]);
    block.dispose();
    let ymax = 1e-6;
    for (const v of outputs) ymax = Math.max(ymax, Math.abs(v));
    axes(mambaPlot, 0, 63, -ymax, ymax, 'step', 'y[0]');
    line(
      mambaPlot,
      outputs.map((_, i) => i),
      outputs,
      0,
      63,
      -ymax,
      ymax,
      '#9467bd',
    );
    mambaInfo.textContent = `64 steps in ${ms.toFixed(0)} ms (${((64 / ms) * 1000).toFixed(0)} tokens/s on this backend).`;

    root.append(el('pre', {}, SNIPPET));
  },

  unmount() {
    if (timer) clearInterval(timer);
    timer = undefined;
  },
};
