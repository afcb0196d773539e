/**
 * The S4 layer (Gu et al. 2022, "Efficiently Modeling Long Sequences with Structured State Spaces", as
 * state-spaces/s4 `S4Block` with the `SSKernelNPLR` kernel and HiPPO-LegS initialization):
 * y = GLU(Conv1x1(GELU(K ∗ u + D·u))), with K the trainable NPLR kernel of {@link s4Kernel}. Convolution mode
 * runs the FFT convolution (O(L log L)); recurrent mode runs the dense discretized recurrence z_t = Ā z_{t−1} +
 * B̄ u_t, y_t = C z_t + D u_t (C = C̃ (I − Ā^L)⁻¹, as s4 `_setup_step`). Both carry a state [batch, H, N/2, 2],
 * so long inputs can be processed in chunks, and the two modes agree.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertKnownOptions,
  assertNumber,
  assertOneOf,
  assertPositiveInteger,
  assertRank,
  assertShape,
  type Rng,
  ShapeError,
  ValueError,
} from '@lab/tensor';
import { causalConv } from './fft.js';
import { glu1x1Output } from './s4d-layer.js';
import { retargetCTilde, s4NplrLegSInit } from './nplr.js';
import { type S4KernelParams, s4Kernel, s4NplrDenseHost, s4NplrDiscrete, s4NplrParamsToHost, solveRows } from './s4-kernel.js';
import { ownVariable } from './variable.js';

export interface S4Config {
  /** H, the number of channels. */
  dModel: number;
  /** N, the (even) state size: N/2 complex modes (default 64). */
  dState?: number;
  /** The kernel length C̃ = C (I − Ā^L) is set up for: the longest convolution-mode input (default 1024). */
  lMax?: number;
  /** Range of the log-uniform Δ initialization (defaults 0.001, 0.1, as s4). */
  dtMin?: number;
  dtMax?: number;
}

/** The recurrent state of an S4 layer: [batch, H, N/2, 2] (re, im of the kept modes). */
export type S4State = tf.Tensor4D;

/** Options of {@link S4.forward}. */
export interface S4ForwardOptions {
  /** 'conv' (default): FFT convolution; 'recurrent': the dense recurrence step by step. */
  mode?: 'conv' | 'recurrent';
  /** The state after a previous chunk. */
  state?: S4State;
  /** Also return the state after the last step. */
  returnState?: boolean;
}

const NAME = 'ssm.S4';


/** The dense recurrence on the host (float64 computed, float32 stored) with the parameter snapshot it came from. */
interface DenseCache {
  key: Float32Array;
  lMax: number;
  /** Āᵀ [H, N, N] (transposed, so that z_row · Āᵀ = (Ā z)ᵀ). */
  dAT: Float32Array;
  dB: Float32Array;
  C: Float32Array;
}

export class S4 {
  readonly dModel: number;
  readonly dState: number;
  private lMaxValue: number;
  readonly logDt: tf.Variable;
  /** log(−Re Λ) [H, N/2]. */
  readonly logLambdaReal: tf.Variable;
  /** Im Λ [H, N/2]. */
  readonly LambdaImag: tf.Variable;
  /** Rank-1 term p [H, N/2, 2]. */
  readonly P: tf.Variable;
  /** B [H, N/2, 2]. */
  readonly B: tf.Variable;
  /** C̃ = C (I − Ā^lMax) [H, N/2, 2]. */
  readonly C: tf.Variable;
  /** Skip D [H]. */
  readonly D: tf.Variable;
  /** Output 1×1 convolution to 2H channels for the GLU: weight [H, 2H] (transposed), bias [2H]. */
  readonly outWeight: tf.Variable;
  readonly outBias: tf.Variable;
  private cache: DenseCache | null = null;

  private constructor(dModel: number, dState: number, lMax: number, params: Record<string, tf.Tensor>) {
    this.dModel = dModel;
    this.dState = dState;
    this.lMaxValue = lMax;
    this.logDt = ownVariable(params.logDt!);
    this.logLambdaReal = ownVariable(params.logLambdaReal!);
    this.LambdaImag = ownVariable(params.LambdaImag!);
    this.P = ownVariable(params.P!);
    this.B = ownVariable(params.B!);
    this.C = ownVariable(params.C!);
    this.D = ownVariable(params.D!);
    this.outWeight = ownVariable(params.outWeight!);
    this.outBias = ownVariable(params.outBias!);
  }

  /**
   * A new layer initialized as state-spaces/s4 S4 with `init='legs'`: Λ, p, B from the NPLR form of HiPPO-LegS
   * ({@link s4NplrLegSInit}), log Δ uniform in [log dtMin, log dtMax], C complex normal (variance 1) turned into
   * C̃ = C (I − Ā^lMax), D normal, the output Conv1d as PyTorch's default (uniform ±1/√H).
   */
  static create(config: S4Config, rng: Rng): S4 {
    const fn = `${NAME}.create`;
    assertKnownOptions(fn, config as unknown as Record<string, unknown>, ['dModel', 'dState', 'lMax', 'dtMin', 'dtMax']);
    const { dModel: H, dState: N = 64, lMax = 1024, dtMin = 0.001, dtMax = 0.1 } = config;
    assertPositiveInteger(fn, 'config.dModel', H);
    assertPositiveInteger(fn, 'config.dState', N);
    assertPositiveInteger(fn, 'config.lMax', lMax);
    if (N % 2 !== 0) throw new ShapeError(`${fn}: config.dState must be even (N/2 complex modes), got ${N}`);
    assertNumber(fn, 'config.dtMin', dtMin, { exclusiveMin: 0 });
    assertNumber(fn, 'config.dtMax', dtMax, { min: dtMin });
    const u = rng.uniformData(H);
    const dt = Array.from(u, (x) => Math.exp(Math.log(dtMin) + x * (Math.log(dtMax) - Math.log(dtMin))));
    const CV = rng.normalData(H * N, 0, Math.SQRT1_2);
    const host = s4NplrLegSInit({ H, N, L: lMax, dt, CV });
    const M = N / 2;
    const bound = 1 / Math.sqrt(H);
    const params = tf.tidy(() => ({
      logDt: tf.tensor1d(host.logDt),
      logLambdaReal: tf.tensor2d(host.logLambdaReal, [H, M]),
      LambdaImag: tf.tensor2d(host.LambdaImag, [H, M]),
      P: tf.tensor3d(host.P, [H, M, 2]),
      B: tf.tensor3d(host.B, [H, M, 2]),
      C: tf.tensor3d(host.C, [H, M, 2]),
      D: rng.normal([H]),
      outWeight: rng.uniform([H, 2 * H], -bound, bound),
      outBias: rng.uniform([2 * H], -bound, bound),
    }));
    return new S4(H, N, lMax, params);
  }

  /** The kernel length C̃ = C (I − Ā^lMax) is set up for: the longest input of convolution mode. */
  get lMax(): number {
    return this.lMaxValue;
  }

  /**
   * Re-targets C̃ to a new kernel length (state-spaces/s4 `_setup_C`, which doubles it when a longer input
   * arrives): the SSM is unchanged (same C, so the recurrence and the first min(old, new) kernel taps stay the
   * same), only the C variable is rewritten in place. Run it outside gradient tapes.
   */
  setLMax(L: number): void {
    assertPositiveInteger(`${NAME}.setLMax`, 'L', L);
    if (L === this.lMaxValue) return;
    const host = s4NplrParamsToHost(this.kernelParams);
    const next = retargetCTilde(host, this.lMaxValue, L);
    const t = tf.tensor3d(next, this.C.shape as [number, number, number]);
    this.C.assign(t);
    t.dispose();
    this.lMaxValue = L;
    this.cache = null;
  }

  get variables(): tf.Variable[] {
    return [this.logDt, this.logLambdaReal, this.LambdaImag, this.P, this.B, this.C, this.D, this.outWeight, this.outBias];
  }

  /** The kernel parameters (the layer's variables). */
  get kernelParams(): S4KernelParams {
    const { logDt, logLambdaReal, LambdaImag, P, B, C } = this;
    return { logDt, logLambdaReal, LambdaImag, P, B, C };
  }

  /** The convolution kernel K [H, L] for L ≤ lMax (the length-lMax kernel, truncated, as s4). */
  kernel(L: number): tf.Tensor2D {
    const fn = `${NAME}.kernel`;
    assertPositiveInteger(fn, 'L', L);
    if (L > this.lMax) throw new ValueError(`${fn}: L must be at most lMax = ${this.lMax}, got ${L}`);
    return tf.tidy(() => {
      const K = s4Kernel(this.kernelParams, this.lMax);
      return L === this.lMax ? K : (tf.slice(K, [0, 0], [-1, L]) as tf.Tensor2D);
    });
  }

  /** A zero state [batch, H, N/2, 2]. */
  initState(batch: number): S4State {
    assertPositiveInteger(`${NAME}.initState`, 'batch', batch);
    return tf.zeros([batch, this.dModel, this.dState / 2, 2]) as S4State;
  }

  /** The dense recurrence for the current parameters (recomputed only when a parameter changed). */
  private dense(): DenseCache {
    const host = s4NplrParamsToHost(this.kernelParams);
    const parts = [host.logDt, host.logLambdaReal, host.LambdaImag, host.P, host.B, host.C];
    const key = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      key.set(p, offset);
      offset += p.length;
    }
    const old = this.cache;
    if (old && old.lMax === this.lMax && old.key.length === key.length && old.key.every((v, i) => Object.is(v, key[i]))) return old;
    const { dA, dB, C } = s4NplrDenseHost(host, this.lMax);
    const H = this.dModel;
    const N = this.dState;
    const dAT = new Float32Array(H * N * N);
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) dAT[h * N * N + j * N + i] = dA[h * N * N + i * N + j]!;
    }
    this.cache = { key, lMax: this.lMax, dAT, dB: Float32Array.from(dB), C: Float32Array.from(C) };
    return this.cache;
  }

  /** The output stage ({@link glu1x1Output}). */
  private output(y: tf.Tensor): tf.Tensor3D {
    return glu1x1Output(y, this.outWeight, this.outBias);
  }

  /**
   * The layer on u [batch, H, L] → [batch, H, L]. mode 'conv' (default) uses the FFT convolution (L ≤ lMax per
   * call; longer inputs go in chunks with `state`); 'recurrent' runs the recurrence step by step (any L).
   * Gradients reach every variable in both modes; `step()` uses the cached float64 recurrence (fast per token),
   * which passes gradients to u, the state, D and the output stage only.
   */
  forward(u: tf.Tensor, options?: S4ForwardOptions & { returnState?: false }): tf.Tensor3D;
  forward(u: tf.Tensor, options: S4ForwardOptions & { returnState: true }): { y: tf.Tensor3D; state: S4State };
  forward(u: tf.Tensor, options: S4ForwardOptions = {}): tf.Tensor3D | { y: tf.Tensor3D; state: S4State } {
    const fn = `${NAME}.forward`;
    assertKnownOptions(fn, options as Record<string, unknown>, ['mode', 'state', 'returnState']);
    const mode = options.mode ?? 'conv';
    assertOneOf(fn, 'options.mode', mode, ['conv', 'recurrent']);
    assertRank(fn, 'u', u, 3, '[batch, H, L]');
    const [batch, H, L] = u.shape as [number, number, number];
    if (H !== this.dModel) throw new ShapeError(`${fn}: u.shape[1] (${H}) must equal dModel (${this.dModel})`);
    if (mode === 'conv' && L > this.lMax) {
      throw new ValueError(`${fn}: u.shape[2] (L = ${L}) must be at most lMax = ${this.lMax} in convolution mode (pass chunks with options.state, or call setLMax)`);
    }
    if (options.state) assertShape(fn, 'options.state', options.state, [batch, H, this.dState / 2, 2], '[batch, H, N/2, 2]');
    const out = tf.tidy(() => {
      const { y, state } =
        mode === 'conv' ? this.convMode(u, options.state, !!options.returnState) : this.recurrentMode(u, options.state, 'tf');
      return { y: this.output(y), state };
    });
    if (options.returnState) return out as { y: tf.Tensor3D; state: S4State };
    out.state?.dispose();
    return out.y;
  }

  /** One step: u [batch, H] and the state → y [batch, H] and the next state. */
  step(u: tf.Tensor, state: S4State): { y: tf.Tensor2D; state: S4State } {
    const fn = `${NAME}.step`;
    assertRank(fn, 'u', u, 2, '[batch, H]');
    const [batch, H] = u.shape as [number, number];
    if (H !== this.dModel) throw new ShapeError(`${fn}: u.shape[1] (${H}) must equal dModel (${this.dModel})`);
    assertShape(fn, 'state', state, [batch, H, this.dState / 2, 2], '[batch, H, N/2, 2]');
    return tf.tidy(() => {
      const r = this.recurrentMode(tf.reshape(u, [batch, H, 1]), state, 'host');
      return { y: tf.reshape(this.output(r.y), [batch, H]) as tf.Tensor2D, state: r.state };
    });
  }

  /** [batch, H, N/2, 2] → [H, batch, N] (the real state rows per channel). */
  private stateRows(state: S4State | undefined, batch: number): tf.Tensor {
    const H = this.dModel;
    const N = this.dState;
    if (!state) return tf.zeros([H, batch, N]);
    return tf.transpose(tf.reshape(state, [batch, H, N]), [1, 0, 2]);
  }

  /** [H, batch, N] → [batch, H, N/2, 2]. */
  private stateOut(rows: tf.Tensor): S4State {
    const [H, batch] = rows.shape as [number, number, number];
    return tf.reshape(tf.transpose(rows, [1, 0, 2]), [batch, H, this.dState / 2, 2]) as S4State;
  }

  /**
   * SSM part by FFT: K ∗ u + D u, plus the free response C Ā^{t+1} z0 of an initial state; the state after the
   * last step, z_L = Ā^L z0 + Σ_s Ā^{L−1−s} B̄ u_s, only when asked. Both extra terms are tfjs ops on the
   * trainable parameters (differentiable in all of them): the free response is the S4 kernel with B replaced by
   * B′ = z0/Δ + ½ Ã z0 (so that B̄′ = Ā z0), the final state a log-depth doubling over Ā, Ā², Ā⁴, ….
   */
  private convMode(u: tf.Tensor, state: S4State | undefined, needState: boolean): { y: tf.Tensor; state?: S4State } {
    const [batch, H, L] = u.shape as [number, number, number];
    let y = tf.add(causalConv(u, this.kernel(L)), tf.mul(u, tf.reshape(this.D, [H, 1])));
    if (state) y = tf.add(y, this.freeResponse(state, L));
    if (!needState) return { y };
    return { y, state: this.finalState(u, state ?? (tf.zeros([batch, H, this.dState / 2, 2]) as S4State)) };
  }

  /** y_free[b, h, t] = C Ā^{t+1} z0[b, h] for t < L ≤ lMax, by the kernel with per-(b, h) input vector B′. */
  private freeResponse(state: S4State, L: number): tf.Tensor {
    const [batch, H, M] = state.shape as [number, number, number, number];
    const [zr, zi] = tf.unstack(state, 3) as [tf.Tensor, tf.Tensor]; // [Bt, H, M]
    const [pr, pi] = tf.unstack(this.P, 2) as [tf.Tensor, tf.Tensor]; // [H, M]
    const lr = tf.neg(tf.exp(this.logLambdaReal));
    const li = this.LambdaImag;
    // Ã z = λ z − p · 2 Re Σ_m conj(p_m) z_m (the rank-1 term over both members of each conjugate pair)
    const sc = tf.mul(tf.sum(tf.add(tf.mul(pr, zr), tf.mul(pi, zi)), 2, true), 2); // [Bt, H, 1]
    const azr = tf.sub(tf.sub(tf.mul(lr, zr), tf.mul(li, zi)), tf.mul(pr, sc));
    const azi = tf.sub(tf.add(tf.mul(lr, zi), tf.mul(li, zr)), tf.mul(pi, sc));
    const invDt = tf.reshape(tf.exp(tf.neg(this.logDt)), [1, H, 1]);
    const bRe = tf.add(tf.mul(zr, invDt), tf.mul(azr, 0.5));
    const bIm = tf.add(tf.mul(zi, invDt), tf.mul(azi, 0.5));
    const K = s4Kernel(
      {
        logDt: tf.tile(this.logDt, [batch]),
        logLambdaReal: tf.tile(this.logLambdaReal, [batch, 1]),
        LambdaImag: tf.tile(this.LambdaImag, [batch, 1]),
        P: tf.tile(this.P, [batch, 1, 1]),
        B: tf.reshape(tf.stack([bRe, bIm], 3), [batch * H, M, 2]),
        C: tf.tile(this.C, [batch, 1, 1]),
      },
      this.lMax,
    ); // [Bt·H, lMax]
    return tf.reshape(tf.slice(K, [0, 0], [-1, L]), [batch, H, L]);
  }

  /**
   * z_L = Ā^L z0 + Σ_s Ā^{L−1−s} B̄ u_s per channel with 2-D tfjs products (tfjs-wasm's batched matMul, strided
   * slices and unstack of large tensors are slow): the controllability rows R = [(Ā^j B̄)ᵀ]_{j<L} by doubling,
   * R_{2m} = [R_m; R_m (Āᵀ)^m], then z_L = z0 (Āᵀ)^L + ũ R with ũ the time-reversed input. O(N² L) per channel.
   */
  private finalState(u: tf.Tensor, state: S4State): S4State {
    const [batch, H, L] = u.shape as [number, number, number];
    const N = this.dState;
    const { dA, dB } = s4NplrDiscrete(this.kernelParams);
    const aT = tf.split(tf.transpose(dA, [0, 2, 1]), H, 0).map((t) => tf.reshape(t, [N, N]));
    const bRows = tf.split(dB, H, 0); // H × [1, N]
    const uRev = tf.split(tf.transpose(tf.reverse(u, 2), [1, 0, 2]), H, 0).map((t) => tf.reshape(t, [batch, L]));
    const z0 = tf.split(tf.transpose(tf.reshape(state, [batch, H, N]), [1, 0, 2]), H, 0).map((t) => tf.reshape(t, [batch, N]));
    const out: tf.Tensor[] = [];
    for (let h = 0; h < H; h++) {
      let rows = bRows[h]!; // [m, N]
      let power = aT[h]!; // (Āᵀ)^m
      let m = 1;
      // (Āᵀ)^L from the binary powers met on the way.
      let powL: tf.Tensor | null = null;
      for (let e = L, p = power; e > 0; e >>= 1) {
        if (e & 1) powL = powL ? tf.matMul(powL, p) : p;
        if (e > 1) p = tf.matMul(p, p);
      }
      while (m < L) {
        rows = tf.concat([rows, tf.matMul(rows, power)], 0);
        m *= 2;
        if (m < L) power = tf.matMul(power, power);
      }
      if (m > L) rows = tf.slice(rows, [0, 0], [L, N]);
      out.push(tf.add(tf.matMul(z0[h]!, powL!), tf.matMul(uRev[h]!, rows))); // [Bt, N]
    }
    // H × [Bt, N] → [Bt, H, N/2, 2]
    return tf.reshape(tf.stack(out, 1), [batch, H, N / 2, 2]) as S4State;
  }

  /**
   * The recurrence in tfjs ops, differentiable in every parameter: Ā, B̄ from {@link s4NplrDiscrete}, Ā^lMax by
   * squaring (2-D products per channel), C = C̃ (I − Ā^lMax)⁻¹ by {@link solveRows} (C̃ as the real row
   * 2(Re C̃, −Im C̃)). Returns Āᵀ [H, N, N], B̄ [H, 1, N], C [H, 1, N].
   */
  private recurrenceTf(): { dAT: tf.Tensor; dB: tf.Tensor; C: tf.Tensor } {
    const H = this.dModel;
    const N = this.dState;
    const { dA, dB } = s4NplrDiscrete(this.kernelParams);
    const powers = tf.split(dA, H, 0).map((t) => {
      let base = tf.reshape(t, [N, N]);
      let p: tf.Tensor | null = null;
      for (let e = this.lMax; e > 0; e >>= 1) {
        if (e & 1) p = p ? tf.matMul(p, base) : base;
        if (e > 1) base = tf.matMul(base, base);
      }
      return p!;
    });
    const m = tf.sub(tf.eye(N), tf.stack(powers)); // I − Ā^L [H, N, N]
    const cTilde = tf.reshape(tf.mul(this.C, tf.tensor1d([2, -2])), [H, N]);
    const C = solveRows(cTilde, m);
    return { dAT: tf.transpose(dA, [0, 2, 1]), dB: tf.reshape(dB, [H, 1, N]), C: tf.reshape(C, [H, 1, N]) };
  }

  /**
   * SSM part step by step: z_t = Ā z_{t−1} + B̄ u_t, y_t = C z_t + D u_t (dense real form). `forward` builds the
   * matrices with tfjs ops (differentiable); `step` takes the cached float64 host ones (fast per token).
   */
  private recurrentMode(u: tf.Tensor, state: S4State | undefined, setup: 'tf' | 'host'): { y: tf.Tensor; state: S4State } {
    const [batch, H, L] = u.shape as [number, number, number];
    const N = this.dState;
    let dATt: tf.Tensor;
    let dBt: tf.Tensor;
    let Ct: tf.Tensor;
    if (setup === 'tf') {
      ({ dAT: dATt, dB: dBt, C: Ct } = this.recurrenceTf());
    } else {
      const { dAT, dB, C } = this.dense();
      dATt = tf.tensor3d(dAT, [H, N, N]);
      dBt = tf.reshape(tf.tensor2d(dB, [H, N]), [H, 1, N]);
      Ct = tf.reshape(tf.tensor2d(C, [H, N]), [H, 1, N]);
    }
    let z = this.stateRows(state, batch); // [H, Bt, N]
    const us = tf.unstack(tf.transpose(u, [1, 0, 2]), 2); // L × [H, Bt]
    const ys: tf.Tensor[] = [];
    const d = tf.reshape(this.D, [H, 1]);
    for (let t = 0; t < L; t++) {
      const ut = us[t]!;
      z = tf.add(tf.matMul(z, dATt), tf.mul(dBt, tf.expandDims(ut, 2)));
      ys.push(tf.add(tf.sum(tf.mul(z, Ct), 2), tf.mul(ut, d))); // [H, Bt]
    }
    return { y: tf.transpose(tf.stack(ys, 2), [1, 0, 2]), state: this.stateOut(z) };
  }

  dispose(): void {
    tf.dispose(this.variables);
    this.cache = null;
  }
}
