/**
 * The S4D layer (Gu et al. 2022, "On the Parameterization and Initialization of Diagonal State Space Models",
 * as state-spaces/s4 `models/s4/s4d.py` `S4D`): y = GLU(Conv1x1(GELU(K ∗ u + D·u))), with K the S4D kernel.
 * Convolution mode runs the FFT convolution (O(L log L)); recurrent mode runs the diagonal recurrence
 * x_t = Ā x_{t−1} + B̄ u_t, y_t = 2 Re(C x_t) + D u_t step by step. Both carry a state, so a long input can be
 * processed in chunks, and the two modes agree.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertKnownOptions, assertOneOf, assertPositiveInteger, assertRank, assertShape, type Rng, ShapeError } from '@lab/tensor';
import { causalConv } from './fft.js';
import { type S4DInit, s4dInitA, s4dKernel } from './s4d.js';
import { ownVariable } from './variable.js';

export interface S4DConfig {
  /** H, the number of channels. */
  dModel: number;
  /** N, the state size (N/2 complex modes; default 64). */
  dState?: number;
  /** A initialization (default 'lin', as S4DKernel). */
  init?: S4DInit;
  /** Range of the log-uniform Δ initialization (defaults 0.001, 0.1). */
  dtMin?: number;
  dtMax?: number;
}

/** The recurrent state of an S4D layer: [batch, H, N/2, 2] (real, imaginary). */
export type S4DState = tf.Tensor4D;

const NAME = 'ssm.S4D';

const gelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));

/**
 * The output stage of the S4 and S4D layers (state-spaces/s4): GELU, 1×1 convolution to 2H channels (weight
 * [H, 2H] transposed, bias [2H]), GLU. y: [batch, H, L] → [batch, H, L].
 */
export function glu1x1Output(y: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor): tf.Tensor3D {
  const [batch, H, L] = y.shape as [number, number, number];
  const rows = tf.reshape(tf.transpose(gelu(y), [0, 2, 1]), [batch * L, H]);
  const z = tf.add(tf.matMul(rows, weight), bias); // [Bt·L, 2H]
  const [a, b] = tf.split(z, 2, 1) as [tf.Tensor, tf.Tensor];
  return tf.transpose(tf.reshape(tf.mul(a, tf.sigmoid(b)), [batch, L, H]), [0, 2, 1]) as tf.Tensor3D;
}

export class S4D {
  readonly dModel: number;
  readonly dState: number;
  readonly logDt: tf.Variable;
  /** C [H, N/2, 2]. */
  readonly C: tf.Variable;
  readonly logAReal: tf.Variable;
  readonly AImag: tf.Variable;
  /** Skip D [H]. */
  readonly D: tf.Variable;
  /** Output 1×1 convolution to 2H channels for the GLU: weight [H, 2H] (transposed), bias [2H]. */
  readonly outWeight: tf.Variable;
  readonly outBias: tf.Variable;

  private constructor(dModel: number, dState: number, params: Record<string, tf.Tensor>) {
    this.dModel = dModel;
    this.dState = dState;
    this.logDt = ownVariable(params.logDt!);
    this.C = ownVariable(params.C!);
    this.logAReal = ownVariable(params.logAReal!);
    this.AImag = ownVariable(params.AImag!);
    this.D = ownVariable(params.D!);
    this.outWeight = ownVariable(params.outWeight!);
    this.outBias = ownVariable(params.outBias!);
  }

  /**
   * A new layer initialized as state-spaces/s4 S4D: log Δ uniform in [log dtMin, log dtMax], C complex normal
   * (variance 1), A by `init`, D normal, the output Conv1d as PyTorch's default (uniform ±1/√H).
   */
  static create(config: S4DConfig, rng: Rng): S4D {
    assertKnownOptions(`${NAME}.create`, config as unknown as Record<string, unknown>, ['dModel', 'dState', 'init', 'dtMin', 'dtMax']);
    const { dModel: H, dState: N = 64, init = 'lin', dtMin = 0.001, dtMax = 0.1 } = config;
    assertPositiveInteger(`${NAME}.create`, 'config.dModel', H);
    assertPositiveInteger(`${NAME}.create`, 'config.dState', N);
    if (N % 2 !== 0) throw new ShapeError(`${NAME}.create: config.dState must be even (N/2 complex modes), got ${N}`);
    assertOneOf(`${NAME}.create`, 'config.init', init, ['lin', 'inv', 'real']);
    const { logAReal, AImag } = s4dInitA(init, H, N);
    const bound = 1 / Math.sqrt(H);
    const params = tf.tidy(() => ({
      logDt: tf.add(tf.mul(rng.uniform([H]), Math.log(dtMax) - Math.log(dtMin)), Math.log(dtMin)),
      C: tf.mul(rng.normal([H, N / 2, 2]), Math.SQRT1_2),
      logAReal: tf.tensor2d(logAReal, [H, N / 2]),
      AImag: tf.tensor2d(AImag, [H, N / 2]),
      D: rng.normal([H]),
      outWeight: rng.uniform([H, 2 * H], -bound, bound),
      outBias: rng.uniform([2 * H], -bound, bound),
    }));
    return new S4D(H, N, params);
  }

  get variables(): tf.Variable[] {
    return [this.logDt, this.C, this.logAReal, this.AImag, this.D, this.outWeight, this.outBias];
  }

  /** The convolution kernel K [H, L] (ZOH, as S4DKernel). */
  kernel(L: number): tf.Tensor2D {
    return s4dKernel({ logDt: this.logDt, C: this.C, logAReal: this.logAReal, AImag: this.AImag }, L);
  }

  /** A zero state [batch, H, N/2, 2]. */
  initState(batch: number): S4DState {
    assertPositiveInteger(`${NAME}.initState`, 'batch', batch);
    return tf.zeros([batch, this.dModel, this.dState / 2, 2]) as S4DState;
  }

  /** Ā = exp(ΔA) and B̄ = (exp(ΔA) − 1)/A as (re, im) tensors [H, N/2]. */
  private discrete() {
    const dt = tf.reshape(tf.exp(this.logDt), [this.dModel, 1]);
    const aRe = tf.neg(tf.exp(this.logAReal));
    const aIm = this.AImag;
    const mag = tf.exp(tf.mul(aRe, dt));
    const phase = tf.mul(aIm, dt);
    const dARe = tf.mul(mag, tf.cos(phase));
    const dAIm = tf.mul(mag, tf.sin(phase));
    const numRe = tf.sub(dARe, 1);
    const den = tf.add(tf.square(aRe), tf.square(aIm));
    const dBRe = tf.div(tf.add(tf.mul(numRe, aRe), tf.mul(dAIm, aIm)), den);
    const dBIm = tf.div(tf.sub(tf.mul(dAIm, aRe), tf.mul(numRe, aIm)), den);
    const [cRe, cIm] = tf.unstack(this.C, 2) as [tf.Tensor, tf.Tensor];
    return { dARe, dAIm, dBRe, dBIm, cRe, cIm };
  }

  /** The output stage ({@link glu1x1Output}). */
  private output(y: tf.Tensor): tf.Tensor3D {
    return glu1x1Output(y, this.outWeight, this.outBias);
  }

  /**
   * The layer on u [batch, H, L] → [batch, H, L]. mode 'conv' (default) uses the FFT convolution; 'recurrent'
   * runs the recurrence step by step. `state` continues from a previous chunk; `returnState` also returns the
   * state after the last step.
   */
  forward(u: tf.Tensor, options?: { mode?: 'conv' | 'recurrent'; state?: S4DState; returnState?: false }): tf.Tensor3D;
  forward(
    u: tf.Tensor,
    options: { mode?: 'conv' | 'recurrent'; state?: S4DState; returnState: true },
  ): { y: tf.Tensor3D; state: S4DState };
  forward(
    u: tf.Tensor,
    options: { mode?: 'conv' | 'recurrent'; state?: S4DState; returnState?: boolean } = {},
  ): tf.Tensor3D | { y: tf.Tensor3D; state: S4DState } {
    const fn = `${NAME}.forward`;
    assertKnownOptions(fn, options as Record<string, unknown>, ['mode', 'state', 'returnState']);
    const mode = options.mode ?? 'conv';
    assertOneOf(fn, 'options.mode', mode, ['conv', 'recurrent']);
    assertRank(fn, 'u', u, 3, '[batch, H, L]');
    const [batch, H] = u.shape as [number, number, number];
    if (H !== this.dModel) throw new ShapeError(`${fn}: u.shape[1] (${H}) must equal dModel (${this.dModel})`);
    if (options.state) assertShape(fn, 'options.state', options.state, [batch, H, this.dState / 2, 2], '[batch, H, N/2, 2]');
    const out = tf.tidy(() => {
      const { y, state } =
        mode === 'conv' ? this.convMode(u, options.state, !!options.returnState) : this.recurrentMode(u, options.state);
      return { y: this.output(y), state };
    });
    if (options.returnState) return out as { y: tf.Tensor3D; state: S4DState };
    out.state?.dispose();
    return out.y;
  }

  /** One step: u [batch, H] and the state → y [batch, H] and the next state. */
  step(u: tf.Tensor, state: S4DState): { y: tf.Tensor2D; state: S4DState } {
    const fn = `${NAME}.step`;
    assertRank(fn, 'u', u, 2, '[batch, H]');
    const [batch, H] = u.shape as [number, number];
    if (H !== this.dModel) throw new ShapeError(`${fn}: u.shape[1] (${H}) must equal dModel (${this.dModel})`);
    assertShape(fn, 'state', state, [batch, H, this.dState / 2, 2], '[batch, H, N/2, 2]');
    return tf.tidy(() => {
      const r = this.recurrentMode(tf.reshape(u, [batch, H, 1]), state);
      return { y: tf.reshape(this.output(r.y), [batch, H]) as tf.Tensor2D, state: r.state };
    });
  }

  /**
   * SSM part (before the output stage) by FFT: K ∗ u + D u, plus the initial state's free response; the state
   * after the last step only when asked (it costs as much as the kernel).
   */
  private convMode(u: tf.Tensor, state: S4DState | undefined, needState: boolean): { y: tf.Tensor; state?: S4DState } {
    const [batch, H, L] = u.shape as [number, number, number];
    const half = this.dState / 2;
    let y = tf.add(causalConv(u, this.kernel(L)), tf.mul(u, tf.reshape(this.D, [H, 1])));
    if (!state && !needState) return { y };
    const { dARe, dAIm, dBRe, dBIm, cRe, cIm } = this.discrete();
    // Ā^p for p = 0..L as (re, im) [H, N/2, L + 1], in polar form.
    const logMag = tf.mul(0.5, tf.log(tf.add(tf.square(dARe), tf.square(dAIm))));
    const angle = tf.atan2(dAIm, dARe);
    const p = tf.reshape(tf.range(0, L + 1, 1, 'float32'), [1, 1, L + 1]);
    const r = tf.exp(tf.mul(tf.expandDims(logMag, 2), p));
    const powRe = tf.mul(r, tf.cos(tf.mul(tf.expandDims(angle, 2), p)));
    const powIm = tf.mul(r, tf.sin(tf.mul(tf.expandDims(angle, 2), p)));
    const [x0Re, x0Im] = state
      ? (tf.unstack(state, 3) as [tf.Tensor, tf.Tensor])
      : [tf.zeros([batch, H, half]), tf.zeros([batch, H, half])];
    if (state) {
      // y_t += 2 Re Σ_n C_n Ā_n^{t+1} x0_n
      const cxRe = tf.sub(tf.mul(cRe, x0Re), tf.mul(cIm, x0Im)); // [Bt, H, N/2]
      const cxIm = tf.add(tf.mul(cRe, x0Im), tf.mul(cIm, x0Re));
      const pr = tf.slice(powRe, [0, 0, 1], [-1, -1, L]);
      const pi = tf.slice(powIm, [0, 0, 1], [-1, -1, L]);
      const free = tf.sub(tf.mul(tf.expandDims(cxRe, 3), pr), tf.mul(tf.expandDims(cxIm, 3), pi)); // [Bt,H,N/2,L]
      y = tf.add(y, tf.mul(tf.sum(free, 2), 2));
    }
    if (!needState) return { y };
    // x_L = Ā^L x0 + Σ_s Ā^{L−1−s} B̄ u_s: the sum is a product of u with reversed powers [H, L, N/2].
    const revRe = tf.reverse(tf.slice(powRe, [0, 0, 0], [-1, -1, L]), 2); // Ā^{L−1−s}
    const revIm = tf.reverse(tf.slice(powIm, [0, 0, 0], [-1, -1, L]), 2);
    const wRe = tf.sub(tf.mul(revRe, tf.expandDims(dBRe, 2)), tf.mul(revIm, tf.expandDims(dBIm, 2))); // [H,N/2,L]
    const wIm = tf.add(tf.mul(revRe, tf.expandDims(dBIm, 2)), tf.mul(revIm, tf.expandDims(dBRe, 2)));
    const uh = tf.transpose(u, [1, 0, 2]); // [H, Bt, L]
    const sumRe = tf.transpose(tf.matMul(uh, wRe, false, true), [1, 0, 2]); // [Bt, H, N/2]
    const sumIm = tf.transpose(tf.matMul(uh, wIm, false, true), [1, 0, 2]);
    const pLRe = tf.reshape(tf.slice(powRe, [0, 0, L], [-1, -1, 1]), [H, half]);
    const pLIm = tf.reshape(tf.slice(powIm, [0, 0, L], [-1, -1, 1]), [H, half]);
    const xRe = tf.add(tf.sub(tf.mul(pLRe, x0Re), tf.mul(pLIm, x0Im)), sumRe);
    const xIm = tf.add(tf.add(tf.mul(pLRe, x0Im), tf.mul(pLIm, x0Re)), sumIm);
    return { y, state: tf.stack([xRe, xIm], 3) as S4DState };
  }

  /** SSM part step by step: x_t = Ā x_{t−1} + B̄ u_t, y_t = 2 Re(C x_t) + D u_t. */
  private recurrentMode(u: tf.Tensor, state?: S4DState): { y: tf.Tensor; state: S4DState } {
    const [batch, H, L] = u.shape as [number, number, number];
    const half = this.dState / 2;
    const { dARe, dAIm, dBRe, dBIm, cRe, cIm } = this.discrete();
    let [xRe, xIm] = state
      ? (tf.unstack(state, 3) as [tf.Tensor, tf.Tensor])
      : [tf.zeros([batch, H, half]), tf.zeros([batch, H, half])];
    const us = tf.unstack(u, 2); // L × [Bt, H]
    const ys: tf.Tensor[] = [];
    for (let t = 0; t < L; t++) {
      const ut = tf.expandDims(us[t]!, 2); // [Bt, H, 1]
      const nRe = tf.add(tf.sub(tf.mul(dARe, xRe), tf.mul(dAIm, xIm)), tf.mul(dBRe, ut));
      const nIm = tf.add(tf.add(tf.mul(dARe, xIm), tf.mul(dAIm, xRe)), tf.mul(dBIm, ut));
      xRe = nRe;
      xIm = nIm;
      const yt = tf.mul(tf.sum(tf.sub(tf.mul(cRe, xRe), tf.mul(cIm, xIm)), 2), 2); // [Bt, H]
      ys.push(tf.add(yt, tf.mul(us[t]!, this.D)));
    }
    return { y: tf.stack(ys, 2), state: tf.stack([xRe, xIm], 3) as S4DState };
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}
