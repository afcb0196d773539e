/**
 * The selective scan of Mamba (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State
 * Spaces", Algorithm 2), with the semantics of mamba `selective_scan_ref`: a composite reference in tfjs ops
 * and a fused WebAssembly SIMD kernel (sequential in L, vectorised over channels, split over batch × channel
 * blocks on the worker pool) with a backward kernel (the adjoint scan, run in reverse).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertKnownOptions,
  assertRank,
  assertShape,
  type CallOptions,
  defineOp,
  borrowHost,
  fromHost,
  type HostTensor,
  ShapeError,
  ValueError,
} from '@lab/tensor';
import { type ScanFlags, type ScanHostInputs, scanBackwardFallback, scanForwardFallback } from './kernels/scan-fallback.js';
import { scanBackwardHost, scanForwardHost } from './kernels/scan.js';

export interface SelectiveScanOptions extends CallOptions {
  /** Skip connection D [D]: out += u · D. */
  D?: tf.Tensor;
  /** Gate z [Bt, D, L]: out *= silu(z). */
  z?: tf.Tensor;
  /** Added to delta before the softplus: [D]. */
  deltaBias?: tf.Tensor;
  /** Δ = softplus(delta + deltaBias) when true (default false, as the reference). */
  deltaSoftplus?: boolean;
  /** Return `{ out, lastState }` instead of `out`. */
  returnLastState?: boolean;
  /** The state before the first step, [Bt, D, N] (default zeros): pass a previous `lastState` to continue. */
  initialState?: tf.Tensor;
}

/** Which inputs are present and how B and C are shaped. */
interface ScanAttrs {
  hasD: boolean;
  hasZ: boolean;
  hasBias: boolean;
  hasInitial: boolean;
  deltaSoftplus: boolean;
  variableB: boolean;
  variableC: boolean;
}

const NAME = 'ssm.selectiveScan';

/** The inputs in the op's order: u, delta, A, B, C, then D, z, deltaBias, initialState where present. */
function unpack<T>(inputs: readonly T[], attrs: ScanAttrs) {
  let i = 5;
  return {
    u: inputs[0]!,
    delta: inputs[1]!,
    A: inputs[2]!,
    B: inputs[3]!,
    C: inputs[4]!,
    D: attrs.hasD ? inputs[i++] : undefined,
    z: attrs.hasZ ? inputs[i++] : undefined,
    deltaBias: attrs.hasBias ? inputs[i++] : undefined,
    initialState: attrs.hasInitial ? inputs[i++] : undefined,
  };
}

function flagsOf(shapeU: readonly number[], shapeA: readonly number[], attrs: ScanAttrs): ScanFlags {
  return {
    batch: shapeU[0]!,
    dim: shapeU[1]!,
    length: shapeU[2]!,
    dState: shapeA[1]!,
    deltaSoftplus: attrs.deltaSoftplus,
    variableB: attrs.variableB,
    variableC: attrs.variableC,
  };
}

/**
 * softplus(x) = max(x, 0) + log1p(exp(−|x|)): torch's softplus (which returns x above 20) up to
 * log1p(exp(−20)) ≈ 2e−9, and differentiable everywhere with tfjs gradients.
 */
export function softplusStable(x: tf.Tensor): tf.Tensor {
  return tf.add(tf.relu(x), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
}

/** The reference: mamba `selective_scan_ref` in tfjs ops (a loop over L of [Bt, D, N] updates). */
function scanComposite(inputs: tf.Tensor[], attrs: ScanAttrs): tf.Tensor[] {
  return tf.tidy(() => scanCompositeUntidied(inputs, attrs));
}

function scanCompositeUntidied(inputs: tf.Tensor[], attrs: ScanAttrs): tf.Tensor[] {
  const x = unpack(inputs, attrs);
  const [batch, dim, L] = x.u.shape as [number, number, number];
  const N = x.A.shape[1]!;
  let delta = x.delta;
  if (x.deltaBias) delta = tf.add(delta, tf.reshape(x.deltaBias, [dim, 1]));
  if (attrs.deltaSoftplus) delta = softplusStable(delta);
  // Time-major, so that each step is a contiguous slice: deltaA [L, Bt, D, N] = exp(Δ ⊗ A),
  // deltaBu [L, Bt, D, N] = Δ u B.
  const deltaT = tf.transpose(delta, [2, 0, 1]); // [L, Bt, D]
  const deltaA = tf.exp(tf.mul(tf.expandDims(deltaT, 3), tf.reshape(x.A, [1, 1, dim, N])));
  const du = tf.expandDims(tf.mul(deltaT, tf.transpose(x.u, [2, 0, 1])), 3); // [L, Bt, D, 1]
  const deltaBu = attrs.variableB
    ? tf.mul(du, tf.expandDims(tf.transpose(x.B, [2, 0, 1]), 2)) // B → [L, Bt, 1, N]
    : tf.mul(du, tf.reshape(x.B, [1, 1, dim, N]));
  const decays = tf.unstack(deltaA, 0); // L × [Bt, D, N]
  const drives = tf.unstack(deltaBu, 0);
  const Cs = attrs.variableC
    ? tf.unstack(tf.expandDims(tf.transpose(x.C, [2, 0, 1]), 2), 0) // L × [Bt, 1, N]
    : null;
  const Cfixed = attrs.variableC ? null : tf.reshape(x.C, [1, dim, N]);
  let h: tf.Tensor = x.initialState ?? tf.zeros([batch, dim, N]);
  const ys: tf.Tensor[] = [];
  for (let t = 0; t < L; t++) {
    h = tf.add(tf.mul(decays[t]!, h), drives[t]!);
    ys.push(tf.sum(tf.mul(h, Cs ? Cs[t]! : Cfixed!), 2)); // [Bt, D]
  }
  let out = tf.transpose(tf.stack(ys, 0), [1, 2, 0]); // [L, Bt, D] → [Bt, D, L]
  if (x.D) out = tf.add(out, tf.mul(x.u, tf.reshape(x.D, [dim, 1])));
  if (x.z) out = tf.mul(out, tf.mul(x.z, tf.sigmoid(x.z)));
  return [out, h];
}

function hostInputs(x: ReturnType<typeof unpack<HostTensor>>): ScanHostInputs {
  return {
    u: x.u.data,
    delta: x.delta.data,
    A: x.A.data,
    B: x.B.data,
    C: x.C.data,
    D: x.D?.data,
    z: x.z?.data,
    deltaBias: x.deltaBias?.data,
    initialState: x.initialState?.data,
  };
}

const scanOp = defineOp<tf.Tensor[], ScanAttrs>({
  name: NAME,
  validate: null, // validated by selectiveScan before the call
  composite: scanComposite,
  fused: {
    backends: ['cpu', 'wasm'],
    borrowInputs: true, // read into the kernel's memory at once, no tfjs call in between
    forward: (inputs, attrs) => {
      const x = unpack(inputs, attrs);
      const flags = flagsOf(x.u.shape, x.A.shape, attrs);
      const { out, lastState, borrowed } = scanForwardHost(hostInputs(x), flags);
      return {
        outputs: [
          { data: out, shape: x.u.shape, borrowed },
          { data: lastState, shape: [flags.batch, flags.dim, flags.dState] },
        ],
      };
    },
  },
  gradient: (dy, { inputs, attrs }) => {
    // Views of the inputs where the backend allows: scanBackwardHost reads them before any tfjs call.
    const host = inputs.map(borrowHost);
    const x = unpack(host, attrs);
    const flags = flagsOf(x.u.shape, x.A.shape, attrs);
    const g = scanBackwardHost(hostInputs(x), borrowHost(dy).data, flags);
    const { borrowed } = g;
    const grads: tf.Tensor[] = [
      fromHost({ data: g.u, shape: x.u.shape, borrowed }),
      fromHost({ data: g.delta, shape: x.delta.shape, borrowed }),
      fromHost({ data: g.A, shape: x.A.shape }),
      fromHost({ data: g.B, shape: x.B.shape }),
      fromHost({ data: g.C, shape: x.C.shape }),
    ];
    if (x.D) grads.push(fromHost({ data: g.D!, shape: x.D.shape }));
    if (x.z) grads.push(fromHost({ data: g.z!, shape: x.z.shape, borrowed }));
    if (x.deltaBias) grads.push(fromHost({ data: g.deltaBias!, shape: x.deltaBias.shape }));
    if (x.initialState) grads.push(fromHost({ data: g.initialState!, shape: x.initialState.shape }));
    return grads;
  },
});

/**
 * The selective scan (Gu & Dao 2023, Algorithm 2), as mamba `selective_scan_ref`:
 *   Δ = softplus(delta + deltaBias) (or delta + deltaBias), h_t = exp(Δ_t A) ⊙ h_{t−1} + Δ_t u_t B_t,
 *   y_t = C_t · h_t + D u_t, out = y ⊙ silu(z).
 * u, delta, z: [Bt, D, L]; A: [D, N]; B, C: [Bt, N, L] (input-dependent) or [D, N] (fixed); D, deltaBias: [D];
 * initialState, lastState: [Bt, D, N]. Returns out [Bt, D, L], or `{ out, lastState }` with returnLastState.
 * Differentiable in every tensor input (lastState carries no gradient).
 */
export function selectiveScan(
  u: tf.Tensor,
  delta: tf.Tensor,
  A: tf.Tensor,
  B: tf.Tensor,
  C: tf.Tensor,
  options?: SelectiveScanOptions & { returnLastState?: false },
): tf.Tensor3D;
export function selectiveScan(
  u: tf.Tensor,
  delta: tf.Tensor,
  A: tf.Tensor,
  B: tf.Tensor,
  C: tf.Tensor,
  options: SelectiveScanOptions & { returnLastState: true },
): { out: tf.Tensor3D; lastState: tf.Tensor3D };
export function selectiveScan(
  u: tf.Tensor,
  delta: tf.Tensor,
  A: tf.Tensor,
  B: tf.Tensor,
  C: tf.Tensor,
  options: SelectiveScanOptions = {},
): tf.Tensor3D | { out: tf.Tensor3D; lastState: tf.Tensor3D } {
  validateScan(u, delta, A, B, C, options);
  const attrs: ScanAttrs = {
    hasD: !!options.D,
    hasZ: !!options.z,
    hasBias: !!options.deltaBias,
    hasInitial: !!options.initialState,
    deltaSoftplus: options.deltaSoftplus ?? false,
    variableB: B.rank === 3,
    variableC: C.rank === 3,
  };
  const inputs = [u, delta, A, B, C];
  if (options.D) inputs.push(options.D);
  if (options.z) inputs.push(options.z);
  if (options.deltaBias) inputs.push(options.deltaBias);
  if (options.initialState) inputs.push(options.initialState);
  const [out, lastState] = scanOp(inputs, attrs, { impl: options.impl }) as [tf.Tensor3D, tf.Tensor3D];
  if (options.returnLastState) return { out, lastState };
  lastState.dispose();
  return out;
}


/** The checks of selectiveScan (shapes, dtypes, options), shared by selectiveScanChunked. */
function validateScan(u: tf.Tensor, delta: tf.Tensor, A: tf.Tensor, B: tf.Tensor, C: tf.Tensor, options: SelectiveScanOptions): void {
  assertKnownOptions(NAME, options as Record<string, unknown>, [
    'D',
    'z',
    'deltaBias',
    'deltaSoftplus',
    'returnLastState',
    'initialState',
    'impl',
  ]);
  assertRank(NAME, 'u', u, 3, '[batch, dim, seqLen]');
  const [batch, dim, L] = u.shape as [number, number, number];
  assertShape(NAME, 'delta', delta, [batch, dim, L], '[batch, dim, seqLen] (as u)');
  assertRank(NAME, 'A', A, 2, '[dim, dState]');
  assertShape(NAME, 'A', A, [dim, null], '[dim, dState]');
  const N = A.shape[1]!;
  assertRank(NAME, 'B', B, [2, 3], '[batch, dState, seqLen] or [dim, dState]');
  assertShape(NAME, 'B', B, B.rank === 3 ? [batch, N, L] : [dim, N], B.rank === 3 ? '[batch, dState, seqLen]' : '[dim, dState]');
  assertRank(NAME, 'C', C, [2, 3], '[batch, dState, seqLen] or [dim, dState]');
  assertShape(NAME, 'C', C, C.rank === 3 ? [batch, N, L] : [dim, N], C.rank === 3 ? '[batch, dState, seqLen]' : '[dim, dState]');
  if (options.D) assertShape(NAME, 'options.D', options.D, [dim], '[dim]');
  if (options.z) assertShape(NAME, 'options.z', options.z, [batch, dim, L], '[batch, dim, seqLen] (as u)');
  if (options.deltaBias) assertShape(NAME, 'options.deltaBias', options.deltaBias, [dim], '[dim]');
  if (options.initialState) {
    assertShape(NAME, 'options.initialState', options.initialState, [batch, dim, N], '[batch, dim, dState]');
  }
  for (const [name, t] of Object.entries({ u, delta, A, B, C, ...pickTensors(options) })) {
    if (t.dtype !== 'float32') {
      throw new ValueError(`${NAME}: ${name} must be of dtype float32, got dtype ${t.dtype}`);
    }
  }
  if (L === 0 || batch === 0 || dim === 0 || N === 0) {
    throw new ShapeError(`${NAME}: u and A must have non-zero sizes, got u [${u.shape}] and A [${A.shape}]`);
  }
}

function pickTensors(options: SelectiveScanOptions): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  if (options.D) out['options.D'] = options.D;
  if (options.z) out['options.z'] = options.z;
  if (options.deltaBias) out['options.deltaBias'] = options.deltaBias;
  if (options.initialState) out['options.initialState'] = options.initialState;
  return out;
}

export { scanBackwardFallback, scanForwardFallback };

/**
 * The selective scan in chunked parallel form (Gu & Dao 2023, Section 3.3; the chunkwise view of Dao & Gu
 * 2024, SSD): within a chunk of T steps, with S_t = Σ_{s ≤ t} Δ_s A the cumulative log-decay,
 *   h_t = exp(S_t) h_0 + Σ_{s ≤ t} exp(S_t − S_s) Δ_s u_s B_s,   y_t = C_t · h_t (+ D u_t, ⊙ silu(z_t)),
 * computed for all t of the chunk at once ([Bt, D, T, T, N] tensors); the state is carried from chunk to chunk.
 * Same semantics, inputs and outputs as {@link selectiveScan}; tfjs ops only (differentiable by tfjs), so it
 * runs on every backend and trades O(T) more work for T times fewer sequential steps.
 */
export function selectiveScanChunked(
  u: tf.Tensor,
  delta: tf.Tensor,
  A: tf.Tensor,
  B: tf.Tensor,
  C: tf.Tensor,
  options: Omit<SelectiveScanOptions, 'impl'> & { chunkSize?: number } = {},
): tf.Tensor3D | { out: tf.Tensor3D; lastState: tf.Tensor3D } {
  const { chunkSize = 16, ...rest } = options;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new ValueError(`ssm.selectiveScanChunked: options.chunkSize must be a positive integer, got ${String(chunkSize)}`);
  }
  // Validate exactly as selectiveScan (shapes, dtypes, options) without running it.
  validateScan(u, delta, A, B, C, rest);
  const [batch, dim, L] = u.shape as [number, number, number];
  const N = A.shape[1]!;
  const variableB = B.rank === 3;
  const variableC = C.rank === 3;
  const result = tf.tidy(() => {
    let dt = delta;
    if (rest.deltaBias) dt = tf.add(dt, tf.reshape(rest.deltaBias, [dim, 1]));
    if (rest.deltaSoftplus) dt = softplusStable(dt);
    let h: tf.Tensor = rest.initialState ?? tf.zeros([batch, dim, N]);
    const outs: tf.Tensor[] = [];
    for (let start = 0; start < L; start += chunkSize) {
      const T = Math.min(chunkSize, L - start);
      const sl = (t: tf.Tensor) => tf.slice(t, [0, 0, start], [-1, -1, T]);
      const dtc = sl(dt); // [Bt, D, T]
      const uc = sl(u);
      // Cumulative sum over the last axis: tfjs's Cumsum gradient is wrong for other axes.
      const logDecay = tf.mul(tf.expandDims(dtc, 2), tf.reshape(A, [1, dim, N, 1])); // [Bt, D, N, T]
      const S = tf.transpose(tf.cumsum(logDecay, 3), [0, 1, 3, 2]); // [Bt, D, T, N]
      const Bc = variableB ? tf.expandDims(tf.transpose(sl(B), [0, 2, 1]), 1) : tf.reshape(B, [1, dim, 1, N]); // [Bt|1, 1|D, T|1, N]
      const Cc = variableC ? tf.expandDims(tf.transpose(sl(C), [0, 2, 1]), 1) : tf.reshape(C, [1, dim, 1, N]);
      const drive = tf.mul(tf.expandDims(tf.mul(dtc, uc), 3), Bc); // [Bt, D, T (s), N]
      // decay[t, s] = exp(S_t − S_s) for s ≤ t, else 0 (the difference is zeroed before exp, so no overflow).
      const lower = tf.linalg.bandPart(tf.ones([T, T]), -1, 0); // [T (t), T (s)]
      const mask = tf.reshape(lower, [1, 1, T, T, 1]);
      const diff = tf.sub(tf.expandDims(S, 3), tf.expandDims(S, 2)); // [Bt, D, T, T, N]
      const decay = tf.mul(tf.exp(tf.mul(diff, mask)), mask);
      const states = tf.add(
        tf.sum(tf.mul(decay, tf.expandDims(drive, 2)), 3), // Σ_s → [Bt, D, T, N]
        tf.mul(tf.exp(S), tf.expandDims(h, 2)),
      );
      outs.push(tf.sum(tf.mul(states, Cc), 3)); // [Bt, D, T]
      h = tf.squeeze(tf.slice(states, [0, 0, T - 1, 0], [-1, -1, 1, -1]), [2]);
    }
    let out = tf.concat(outs, 2);
    if (rest.D) out = tf.add(out, tf.mul(u, tf.reshape(rest.D, [dim, 1])));
    if (rest.z) out = tf.mul(out, tf.mul(rest.z, tf.sigmoid(rest.z)));
    return { out: out as tf.Tensor3D, lastState: h as tf.Tensor3D };
  });
  if (rest.returnLastState) return result;
  result.lastState.dispose();
  return result.out;
}
