/**
 * The Mamba block and stack (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State
 * Spaces", Section 3.4 and Figure 3), as state-spaces/mamba `mamba_simple.Mamba` (slow path, `step`) and
 * `mixer_seq_simple.MixerModel`: in_proj → depthwise causal conv1d → SiLU → x_proj (Δ, B, C) → dt_proj →
 * selective scan (softplus, D skip, SiLU(z) gate) → out_proj; RMSNorm pre-norm residual blocks.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertKnownOptions,
  assertOneOf,
  assertPositiveInteger,
  assertRank,
  assertShape,
  type CallOptions,
  matmul,
  matmulPacked,
  type PackedMatrix,
  packMatrix,
  type Rng,
  ShapeError,
  ValueError,
} from '@lab/tensor';
import { selectiveScan, softplusStable } from './scan.js';
import { ownVariable } from './variable.js';

/** Sizes of a Mamba block (mamba_simple.Mamba arguments). */
export interface MambaConfig {
  dModel: number;
  /** N, the SSM state size (default 16). */
  dState?: number;
  /** Width of the causal depthwise convolution (default 4). */
  dConv?: number;
  /** dInner = expand · dModel (default 2). */
  expand?: number;
  /** Rank of the Δ projection (default ceil(dModel / 16)). */
  dtRank?: number;
}

/** The decoding state of one block: the last dConv inputs of the convolution and the SSM state. */
export interface MambaState {
  /** [batch, dInner, dConv] (mamba `conv_state`). */
  convState: tf.Tensor3D;
  /** [batch, dInner, dState] (mamba `ssm_state`). */
  ssmState: tf.Tensor3D;
}

/** Initialization options (mamba_simple.Mamba defaults). */
export interface MambaInitOptions {
  dtMin?: number;
  dtMax?: number;
  dtInitFloor?: number;
  dtScale?: number;
  /** Divide out_proj by sqrt(nLayer) as MixerModel's `_init_weights` (default 1: no rescaling). */
  nLayer?: number;
}

const BLOCK = 'ssm.Mamba';

function resolveConfig(fn: string, config: MambaConfig) {
  assertKnownOptions(fn, config as unknown as Record<string, unknown>, ['dModel', 'dState', 'dConv', 'expand', 'dtRank']);
  const { dModel, dState = 16, dConv = 4, expand = 2 } = config;
  assertPositiveInteger(fn, 'config.dModel', dModel);
  assertPositiveInteger(fn, 'config.dState', dState);
  assertPositiveInteger(fn, 'config.dConv', dConv);
  assertPositiveInteger(fn, 'config.expand', expand);
  const dtRank = config.dtRank ?? Math.ceil(dModel / 16);
  assertPositiveInteger(fn, 'config.dtRank', dtRank);
  return { dModel, dState, dConv, expand, dtRank, dInner: expand * dModel };
}

type Sizes = ReturnType<typeof resolveConfig>;

/** The PyTorch state_dict keys of a Mamba block and their shapes. */
function torchShapes(s: Sizes): Record<string, number[]> {
  return {
    'in_proj.weight': [2 * s.dInner, s.dModel],
    'conv1d.weight': [s.dInner, 1, s.dConv],
    'conv1d.bias': [s.dInner],
    'x_proj.weight': [s.dtRank + 2 * s.dState, s.dInner],
    'dt_proj.weight': [s.dInner, s.dtRank],
    'dt_proj.bias': [s.dInner],
    A_log: [s.dInner, s.dState],
    D: [s.dInner],
    'out_proj.weight': [s.dModel, s.dInner],
  };
}

const silu = (x: tf.Tensor) => tf.mul(x, tf.sigmoid(x));

/**
 * One Mamba block (Gu & Dao 2023, Figure 3; mamba_simple.Mamba). Holds its parameters as tf.Variables in
 * compute layout (projections transposed to [in, out]); `stateDict()` gives them back in PyTorch layout.
 * x: [batch, seqLen, dModel] → [batch, seqLen, dModel].
 */
export class Mamba {
  readonly dModel: number;
  readonly dState: number;
  readonly dConv: number;
  readonly dInner: number;
  readonly dtRank: number;
  /** in_projᵀ [dModel, 2·dInner]. */
  readonly inProj: tf.Variable;
  /** conv1d weight [dInner, dConv] and bias [dInner]. */
  readonly convWeight: tf.Variable;
  readonly convBias: tf.Variable;
  /** x_projᵀ [dInner, dtRank + 2·dState]. */
  readonly xProj: tf.Variable;
  /** dt_projᵀ [dtRank, dInner] and bias [dInner]. */
  readonly dtProj: tf.Variable;
  readonly dtBias: tf.Variable;
  /** A = −exp(A_log): [dInner, dState]. */
  readonly ALog: tf.Variable;
  /** D [dInner]. */
  readonly D: tf.Variable;
  /** out_projᵀ [dInner, dModel]. */
  readonly outProj: tf.Variable;

  private constructor(sizes: Sizes, weights: Record<string, tf.Tensor>) {
    this.dModel = sizes.dModel;
    this.dState = sizes.dState;
    this.dConv = sizes.dConv;
    this.dInner = sizes.dInner;
    this.dtRank = sizes.dtRank;
    const w = weights;
    this.inProj = ownVariable(tf.tidy(() => tf.transpose(w['in_proj.weight']!)));
    this.convWeight = ownVariable(tf.tidy(() => tf.reshape(w['conv1d.weight']!, [sizes.dInner, sizes.dConv])));
    this.convBias = ownVariable(tf.clone(w['conv1d.bias']!));
    this.xProj = ownVariable(tf.tidy(() => tf.transpose(w['x_proj.weight']!)));
    this.dtProj = ownVariable(tf.tidy(() => tf.transpose(w['dt_proj.weight']!)));
    this.dtBias = ownVariable(tf.tidy(() => tf.clone(w['dt_proj.bias']!)));
    this.ALog = ownVariable(tf.tidy(() => tf.clone(w.A_log!)));
    this.D = ownVariable(tf.tidy(() => tf.clone(w.D!)));
    this.outProj = ownVariable(tf.tidy(() => tf.transpose(w['out_proj.weight']!)));
  }

  /**
   * A block from PyTorch mamba_ssm `Mamba(...).state_dict()` weights (keys and layouts as PyTorch: in_proj.weight
   * [2·dInner, dModel], conv1d.weight [dInner, 1, dConv], conv1d.bias, x_proj.weight, dt_proj.weight,
   * dt_proj.bias, A_log, D, out_proj.weight). The tensors are copied; the caller keeps ownership of `weights`.
   * Blocks with conv_bias = False or bias = True (linear biases) are not supported.
   */
  static fromStateDict(config: MambaConfig, weights: Record<string, tf.Tensor>): Mamba {
    const fn = `${BLOCK}.fromStateDict`;
    const sizes = resolveConfig(fn, config);
    const shapes = torchShapes(sizes);
    for (const key of Object.keys(weights)) {
      if (!(key in shapes)) {
        throw new ValueError(
          `${fn}: weights has an unexpected key ${JSON.stringify(key)}; expected the keys ${Object.keys(shapes).join(', ')} (linear biases are not supported)`,
        );
      }
    }
    for (const [key, shape] of Object.entries(shapes)) {
      const t = weights[key];
      if (!t) throw new ValueError(`${fn}: weights is missing ${JSON.stringify(key)} (expected shape [${shape}])`);
      assertShape(fn, `weights['${key}']`, t, shape);
    }
    return new Mamba(sizes, weights);
  }

  /**
   * A freshly initialized block as mamba_simple.Mamba.__init__: PyTorch default Linear/Conv1d init
   * (uniform ±1/√fan_in), dt_proj weight uniform ±dtRank^−½·dtScale, dt bias = softplus⁻¹(Δ) with Δ log-uniform
   * in [dtMin, dtMax] (floored at dtInitFloor), A_log = log(1..N), D = 1.
   */
  static create(config: MambaConfig, rng: Rng, options: MambaInitOptions = {}): Mamba {
    const fn = `${BLOCK}.create`;
    const s = resolveConfig(fn, config);
    assertKnownOptions(fn, options as Record<string, unknown>, ['dtMin', 'dtMax', 'dtInitFloor', 'dtScale', 'nLayer']);
    const { dtMin = 0.001, dtMax = 0.1, dtInitFloor = 1e-4, dtScale = 1, nLayer = 1 } = options;
    const weights = tf.tidy(() => {
      const linear = (out: number, inp: number) => rng.uniform([out, inp], -1 / Math.sqrt(inp), 1 / Math.sqrt(inp));
      const dtStd = dtScale / Math.sqrt(s.dtRank);
      const logDt = rng.uniformData(s.dInner).map((r) => r * (Math.log(dtMax) - Math.log(dtMin)) + Math.log(dtMin));
      const invDt = logDt.map((l) => {
        const dt = Math.max(Math.exp(l), dtInitFloor);
        return dt + Math.log(-Math.expm1(-dt)); // softplus⁻¹(dt)
      });
      const ALog = new Float32Array(s.dInner * s.dState);
      for (let d = 0; d < s.dInner; d++) for (let n = 0; n < s.dState; n++) ALog[d * s.dState + n] = Math.log(n + 1);
      const convBound = 1 / Math.sqrt(s.dConv);
      return {
        'in_proj.weight': linear(2 * s.dInner, s.dModel),
        'conv1d.weight': rng.uniform([s.dInner, 1, s.dConv], -convBound, convBound),
        'conv1d.bias': rng.uniform([s.dInner], -convBound, convBound),
        'x_proj.weight': linear(s.dtRank + 2 * s.dState, s.dInner),
        'dt_proj.weight': rng.uniform([s.dInner, s.dtRank], -dtStd, dtStd),
        'dt_proj.bias': tf.tensor1d(invDt),
        A_log: tf.tensor2d(ALog, [s.dInner, s.dState]),
        D: tf.ones([s.dInner]),
        'out_proj.weight': tf.div(linear(s.dModel, s.dInner), Math.sqrt(nLayer)),
      } as Record<string, tf.Tensor>;
    });
    const block = new Mamba(s, weights);
    tf.dispose(Object.values(weights)); // the variables hold their own references
    return block;
  }

  /** The parameters in PyTorch state_dict layout (new tensors; the caller disposes them). */
  stateDict(): Record<string, tf.Tensor> {
    return tf.tidy(() => ({
      'in_proj.weight': tf.transpose(this.inProj),
      'conv1d.weight': tf.reshape(this.convWeight, [this.dInner, 1, this.dConv]),
      'conv1d.bias': tf.clone(this.convBias),
      'x_proj.weight': tf.transpose(this.xProj),
      'dt_proj.weight': tf.transpose(this.dtProj),
      'dt_proj.bias': tf.clone(this.dtBias),
      A_log: tf.clone(this.ALog),
      D: tf.clone(this.D),
      'out_proj.weight': tf.transpose(this.outProj),
    }));
  }

  /** The trainable variables. */
  get variables(): tf.Variable[] {
    return [this.inProj, this.convWeight, this.convBias, this.xProj, this.dtProj, this.dtBias, this.ALog, this.D, this.outProj];
  }

  /** A zero decoding state for `batch` sequences. */
  initState(batch: number): MambaState {
    assertPositiveInteger(`${BLOCK}.initState`, 'batch', batch);
    return {
      convState: tf.zeros([batch, this.dInner, this.dConv]) as tf.Tensor3D,
      ssmState: tf.zeros([batch, this.dInner, this.dState]) as tf.Tensor3D,
    };
  }

  /**
   * The block over a whole sequence (mamba_simple.Mamba.forward, slow path). x: [batch, seqLen, dModel].
   * With `state`, continues from a previous chunk's state; with `returnState`, also returns the state after
   * the last token (so a long input can be run in chunks, or decoding continued with `step`).
   */
  forward(x: tf.Tensor): tf.Tensor3D;
  forward(x: tf.Tensor, options: { state?: MambaState; returnState: true }): { y: tf.Tensor3D; state: MambaState };
  forward(x: tf.Tensor, options: { state?: MambaState; returnState?: false }): tf.Tensor3D;
  forward(
    x: tf.Tensor,
    options: { state?: MambaState; returnState?: boolean } = {},
  ): tf.Tensor3D | { y: tf.Tensor3D; state: MambaState } {
    const fn = `${BLOCK}.forward`;
    assertKnownOptions(fn, options as Record<string, unknown>, ['state', 'returnState']);
    assertRank(fn, 'x', x, 3, '[batch, seqLen, dModel]');
    const [batch, L, dModel] = x.shape as [number, number, number];
    if (dModel !== this.dModel) throw new ShapeError(`${fn}: x.shape[2] (${dModel}) must equal dModel (${this.dModel})`);
    if (L === 0) throw new ShapeError(`${fn}: x must have at least one token, got shape [${x.shape}]`);
    if (options.state) this.checkState(fn, options.state, batch);
    const { dInner, dState: N, dConv, dtRank } = this;
    const result = tf.tidy(() => {
      const xz = tf.reshape(matmul(tf.reshape(x, [batch * L, dModel]), this.inProj), [batch, L, 2 * dInner]);
      const [xs, z] = tf.split(xz, 2, 2) as [tf.Tensor, tf.Tensor]; // [Bt, L, dInner] each
      const xT = tf.transpose(xs, [0, 2, 1]); // [Bt, dInner, L]
      // Causal depthwise conv1d over the previous dConv − 1 inputs (zeros, or the carried conv state).
      const past = options.state
        ? tf.slice(options.state.convState, [0, 0, 1], [-1, -1, dConv - 1])
        : tf.zeros([batch, dInner, dConv - 1]);
      const padded = tf.concat([past, xT], 2); // [Bt, dInner, L + dConv − 1]
      let conv: tf.Tensor = tf.reshape(this.convBias, [1, dInner, 1]);
      for (let k = 0; k < dConv; k++) {
        const wk = tf.reshape(tf.slice(this.convWeight, [0, k], [-1, 1]), [1, dInner, 1]);
        conv = tf.add(conv, tf.mul(tf.slice(padded, [0, 0, k], [-1, -1, L]), wk));
      }
      const u = silu(conv); // [Bt, dInner, L]
      const uRows = tf.reshape(tf.transpose(u, [0, 2, 1]), [batch * L, dInner]);
      const xdbl = matmul(uRows, this.xProj); // [Bt·L, dtRank + 2N]
      const [dtLow, Bm, Cm] = tf.split(xdbl, [dtRank, N, N], 1) as [tf.Tensor, tf.Tensor, tf.Tensor];
      const dt = matmul(dtLow, this.dtProj); // [Bt·L, dInner]
      const toScan = (t: tf.Tensor, width: number) => tf.transpose(tf.reshape(t, [batch, L, width]), [0, 2, 1]);
      const A = tf.neg(tf.exp(this.ALog));
      const scan = selectiveScan(u, toScan(dt, dInner), A, toScan(Bm, N), toScan(Cm, N), {
        D: this.D,
        z: tf.transpose(z, [0, 2, 1]),
        deltaBias: this.dtBias,
        deltaSoftplus: true,
        initialState: options.state?.ssmState,
        returnLastState: true,
      });
      const yRows = tf.reshape(tf.transpose(scan.out, [0, 2, 1]), [batch * L, dInner]);
      const y = tf.reshape(matmul(yRows, this.outProj), [batch, L, dModel]) as tf.Tensor3D;
      if (!options.returnState) return { y };
      const total = L + dConv - 1;
      const convState = tf.concat(
        total >= dConv ? [tf.slice(padded, [0, 0, total - dConv], [-1, -1, dConv])] : [tf.zeros([batch, dInner, dConv - total]), padded],
        2,
      ) as tf.Tensor3D;
      return { y, convState, ssmState: scan.lastState };
    });
    if (!options.returnState) return result.y;
    return { y: result.y, state: { convState: result.convState!, ssmState: result.ssmState! } };
  }

  /**
   * One decoding step (mamba_simple.Mamba.step): x [batch, 1, dModel] and the state before it; returns
   * y [batch, 1, dModel] and the new state (the input state is left as it was). By default in tfjs ops
   * (differentiable, every backend); `{ impl: 'fused' }` runs it on host arrays on cpu/wasm (no per-op
   * overhead, projections packed once in kernel memory, not differentiable; 2.8× tfjs-wasm's step at
   * dModel = 256). `dispose()` releases the packed weights.
   */
  step(x: tf.Tensor, state: MambaState, options: CallOptions = {}): { y: tf.Tensor3D; state: MambaState } {
    const fn = `${BLOCK}.step`;
    assertRank(fn, 'x', x, 3, '[batch, 1, dModel]');
    const [batch, one, dModel] = x.shape as [number, number, number];
    if (one !== 1 || dModel !== this.dModel) {
      throw new ShapeError(`${fn}: x must be of shape [batch, 1, ${this.dModel}], got shape [${x.shape}]`);
    }
    this.checkState(fn, state, batch);
    const impl = options.impl ?? 'auto';
    assertOneOf(fn, 'options.impl', impl, ['auto', 'fused', 'composite']);
    const backend = tf.getBackend();
    if (impl === 'fused' && backend !== 'cpu' && backend !== 'wasm') throw new ValueError(`${fn}: impl 'fused' needs the cpu or wasm backend, the active backend is ${backend}`);
    if (impl === 'fused') return this.stepHost(x, state, batch);
    const { dInner, dState: N, dConv, dtRank } = this;
    const out = tf.tidy(() => {
      const xz = matmul(tf.reshape(x, [batch, dModel]), this.inProj); // [Bt, 2·dInner]
      const [xs, z] = tf.split(xz, 2, 1) as [tf.Tensor, tf.Tensor];
      const convState = tf.concat(
        [tf.slice(state.convState, [0, 0, 1], [-1, -1, dConv - 1]), tf.reshape(xs, [batch, dInner, 1])],
        2,
      ) as tf.Tensor3D;
      const conv = tf.add(tf.sum(tf.mul(convState, tf.expandDims(this.convWeight, 0)), 2), this.convBias);
      const u = silu(conv); // [Bt, dInner]
      const xdbl = matmul(u, this.xProj);
      const [dtLow, Bm, Cm] = tf.split(xdbl, [dtRank, N, N], 1) as [tf.Tensor, tf.Tensor, tf.Tensor];
      const dt = softplusStable(tf.add(matmul(dtLow, this.dtProj), this.dtBias)); // [Bt, dInner]
      const A = tf.neg(tf.exp(this.ALog)); // [dInner, N]
      const dA = tf.exp(tf.mul(tf.expandDims(dt, 2), tf.expandDims(A, 0))); // [Bt, dInner, N]
      const dBu = tf.mul(tf.expandDims(tf.mul(dt, u), 2), tf.expandDims(Bm, 1)); // [Bt, dInner, N]
      const ssmState = tf.add(tf.mul(state.ssmState, dA), dBu) as tf.Tensor3D;
      let y = tf.sum(tf.mul(ssmState, tf.expandDims(Cm, 1)), 2); // [Bt, dInner]
      y = tf.mul(tf.add(y, tf.mul(u, this.D)), silu(z));
      const yOut = tf.reshape(matmul(y, this.outProj), [batch, 1, dModel]) as tf.Tensor3D;
      return { y: yOut, convState, ssmState };
    });
    return { y: out.y, state: { convState: out.convState, ssmState: out.ssmState } };
  }

  private hostCache = new Map<string, { dataId: unknown; data: Float32Array }>();

  /** A = −exp(A_log) on the host, cached like the parameters. */
  private hostA(): Float32Array {
    const ALog = this.host('ALog', this.ALog);
    const hit = this.hostCache.get('A');
    if (hit && hit.dataId === ALog) return hit.data;
    const data = ALog.map((v) => -Math.exp(v));
    this.hostCache.set('A', { dataId: ALog, data });
    return data;
  }

  private packedCache = new Map<string, { dataId: unknown; matrix: PackedMatrix }>();

  /**
   * A projection's weights [k, n] packed for the SIMD matmul and kept in its module's memory, re-packed only
   * when the variable was assigned since: decoding then copies one token's activations per product instead
   * of the whole weight matrix.
   */
  private packed(name: string, v: tf.Variable, k: number, n: number): PackedMatrix {
    const dataId = (v as unknown as { dataId: unknown }).dataId;
    const hit = this.packedCache.get(name);
    if (hit && hit.dataId === dataId) return hit.matrix;
    hit?.matrix.dispose();
    const matrix = packMatrix(this.host(name, v), k, n);
    this.packedCache.set(name, { dataId, matrix });
    return matrix;
  }

  /** A parameter's values on the host, re-read only when the variable was assigned since. */
  private host(name: string, v: tf.Variable): Float32Array {
    const dataId = (v as unknown as { dataId: unknown }).dataId;
    const hit = this.hostCache.get(name);
    if (hit && hit.dataId === dataId) return hit.data;
    const data = Float32Array.from(v.dataSync());
    this.hostCache.set(name, { dataId, data });
    return data;
  }

  /**
   * step() on host arrays (inference only: no gradient): the same arithmetic as the composite step over cached
   * parameters, the projections by the SIMD matmul (no per-op overhead).
   */
  private stepHost(x: tf.Tensor, state: MambaState, batch: number): { y: tf.Tensor3D; state: MambaState } {
    const { dModel, dInner, dState: N, dConv, dtRank } = this;
    const xz = matmulPacked(Float32Array.from(x.dataSync()), this.packed('inProj', this.inProj, dModel, 2 * dInner), batch);
    const convW = this.host('convWeight', this.convWeight);
    const convB = this.host('convBias', this.convBias);
    const conv = Float32Array.from(state.convState.dataSync());
    const h = Float32Array.from(state.ssmState.dataSync());
    const u = new Float32Array(batch * dInner);
    for (let b = 0; b < batch; b++) {
      for (let d = 0; d < dInner; d++) {
        const row = (b * dInner + d) * dConv;
        for (let k = 0; k + 1 < dConv; k++) conv[row + k] = conv[row + k + 1]!;
        conv[row + dConv - 1] = xz[b * 2 * dInner + d]!;
        let acc = convB[d]!;
        for (let k = 0; k < dConv; k++) acc += convW[d * dConv + k]! * conv[row + k]!;
        u[b * dInner + d] = acc / (1 + Math.exp(-acc));
      }
    }
    const width = dtRank + 2 * N;
    const xdbl = matmulPacked(u, this.packed('xProj', this.xProj, dInner, width), batch);
    const dtLow = new Float32Array(batch * dtRank);
    for (let b = 0; b < batch; b++) for (let r = 0; r < dtRank; r++) dtLow[b * dtRank + r] = xdbl[b * width + r]!;
    const dtRaw = matmulPacked(dtLow, this.packed('dtProj', this.dtProj, dtRank, dInner), batch);
    const dtBias = this.host('dtBias', this.dtBias);
    const A = this.hostA();
    const Dskip = this.host('D', this.D);
    const y = new Float32Array(batch * dInner);
    for (let b = 0; b < batch; b++) {
      const Bm = b * width + dtRank;
      const Cm = Bm + N;
      for (let d = 0; d < dInner; d++) {
        const raw = dtRaw[b * dInner + d]! + dtBias[d]!;
        const dt = raw > 20 ? raw : Math.log1p(Math.exp(raw));
        const ud = u[b * dInner + d]!;
        let acc = 0;
        const base = (b * dInner + d) * N;
        for (let n = 0; n < N; n++) {
          const decay = Math.exp(dt * A[d * N + n]!);
          const hn = h[base + n]! * decay + dt * ud * xdbl[Bm + n]!;
          h[base + n] = hn;
          acc += hn * xdbl[Cm + n]!;
        }
        const z = xz[b * 2 * dInner + dInner + d]!;
        y[b * dInner + d] = (acc + Dskip[d]! * ud) * (z / (1 + Math.exp(-z)));
      }
    }
    const out = matmulPacked(y, this.packed('outProj', this.outProj, dInner, dModel), batch);
    return {
      y: tf.tensor3d(out, [batch, 1, dModel]),
      state: {
        convState: tf.tensor3d(conv, [batch, dInner, dConv]),
        ssmState: tf.tensor3d(h, [batch, dInner, N]),
      },
    };
  }

  /** Disposes the parameters and the packed copies decoding keeps. */
  dispose(): void {
    for (const { matrix } of this.packedCache.values()) matrix.dispose();
    this.packedCache.clear();
    tf.dispose(this.variables);
  }

  private checkState(fn: string, state: MambaState, batch: number): void {
    if (!state || typeof state !== 'object') throw new ValueError(`${fn}: state must be a MambaState, got ${String(state)}`);
    assertShape(fn, 'state.convState', state.convState, [batch, this.dInner, this.dConv], '[batch, dInner, dConv]');
    assertShape(fn, 'state.ssmState', state.ssmState, [batch, this.dInner, this.dState], '[batch, dInner, dState]');
  }
}
