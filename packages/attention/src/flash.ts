/**
 * FlashAttention (Dao et al. 2022, "FlashAttention: Fast and Memory-Efficient Exact Attention with
 * IO-Awareness"; Dao 2023, "FlashAttention-2"): exact attention, tiled, with an online softmax that never
 * materialises the L × S score matrix; the backward pass recomputes the probabilities block by block from the
 * saved logsumexp.
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  assertInteger,
  assertOneOf,
  defineOp,
  fromHost,
  type HostTensor,
  type Implementation,
  toHost,
  ValueError,
} from '@lab/tensor';
import {
  broadcastStrides,
  type FlashProblem,
  flashBackwardHost,
  flashForwardHost,
  type Strided,
} from './kernels/flash.js';
import { attentionKernels } from './kernels/module.js';
import { type AttentionOptions, type ResolvedAttention, resolveAttention } from './options.js';
import { compositeAttentionWithLse, compositeBiasGradient } from './sdpa.js';

export interface FlashAttentionOptions extends AttentionOptions {
  /** Keys per tile (a multiple of 8, 8..512); default 64. Query tiles hold 32 rows. */
  blockSize?: number;
  /** Also return the logsumexp of each row, lse: [batch, headsQ, L] (-Infinity where a row sees no key). */
  returnLse?: boolean;
  /** Force the fused kernels or the composite reference (default: fused on cpu and wasm). */
  impl?: Implementation;
}

interface FlashAttrs {
  r: ResolvedAttention;
  blockRows: number;
  blockCols: number;
  /** Host copies of mask and bias, read on first use (the backward pass reuses them). */
  host?: { mask?: Strided<Uint8Array>; bias?: Strided<Float32Array> };
}

const FN = 'attention.flashAttention';
const QUERY_BLOCK = 32;

function problemOf(attrs: FlashAttrs): FlashProblem {
  const { r } = attrs;
  if (!attrs.host) {
    const host: FlashAttrs['host'] = {};
    if (r.mask) host.mask = { data: r.mask.dataSync() as Uint8Array, ...broadcastStrides(r.mask.shape) };
    if (r.bias) host.bias = { data: r.bias.dataSync() as Float32Array, ...broadcastStrides(r.bias.shape) };
    attrs.host = host;
  }
  return {
    batch: r.batch,
    headsQ: r.headsQ,
    group: r.group,
    L: r.L,
    S: r.S,
    D: r.D,
    scale: r.scale,
    left: r.left,
    right: r.right,
    offset: r.offset,
    mask: attrs.host.mask,
    bias: attrs.host.bias,
    blockRows: attrs.blockRows,
    blockCols: attrs.blockCols,
  };
}

/** The fused forward: out and lse from the kernels; lse saved for the backward. */
function fusedForward(
  q: HostTensor,
  k: HostTensor,
  v: HostTensor,
  attrs: FlashAttrs,
): { outputs: HostTensor[]; saved: HostTensor[] } {
  const { r } = attrs;
  const { out, lse } = flashForwardHost(problemOf(attrs), q.data, k.data, v.data);
  const lseHost = { data: lse, shape: [r.batch, r.headsQ, r.L] };
  return { outputs: [{ data: out, shape: [r.batch, r.headsQ, r.L, r.D] }, lseHost], saved: [lseHost] };
}

/** FlashAttention-2's backward: P recomputed from q, k and the saved lse, block by block. */
function kernelGradients(
  dy: tf.Tensor,
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  output: tf.Tensor,
  lse: tf.Tensor,
  attrs: FlashAttrs,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const [qh, kh, vh, oh, lh, dh] = [q, k, v, output, lse, dy].map(toHost) as HostTensor[];
  const { dq, dk, dv } = flashBackwardHost(
    problemOf(attrs),
    qh!.data,
    kh!.data,
    vh!.data,
    oh!.data,
    lh!.data,
    dh!.data,
  );
  return [
    fromHost({ data: dq, shape: q.shape }),
    fromHost({ data: dk, shape: k.shape }),
    fromHost({ data: dv, shape: v.shape }),
  ];
}

const flashOp = defineOp<[tf.Tensor, tf.Tensor, tf.Tensor], FlashAttrs>({
  name: FN,
  validate: null, // flashAttention validates (resolveAttention) before calling the op
  composite: ([q, k, v], attrs) => compositeAttentionWithLse(q, k, v, attrs.r, true) as tf.Tensor[],
  fused: { backends: ['cpu', 'wasm'], forward: ([q, k, v], attrs) => fusedForward(q, k, v, attrs) },
  gradient: (dy, { inputs: [q, k, v], output, saved: [lse], attrs }) =>
    kernelGradients(dy, q, k, v, output, lse!, attrs),
});

/** The same op with the bias as a fourth, differentiable input. */
const flashBiasOp = defineOp<[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], FlashAttrs>({
  name: FN,
  validate: null,
  composite: ([q, k, v, bias], attrs) =>
    compositeAttentionWithLse(q, k, v, { ...attrs.r, bias }, true) as tf.Tensor[],
  fused: { backends: ['cpu', 'wasm'], forward: ([q, k, v], attrs) => fusedForward(q, k, v, attrs) },
  // q, k, v from the kernels; the bias's gradient (dS summed over its broadcast dimensions) from the
  // composite's backward, since the kernels do not write dS out.
  gradient: (dy, { inputs: [q, k, v, bias], output, saved: [lse], attrs }) => {
    const [dq, dk, dv] = kernelGradients(dy, q, k, v, output, lse!, attrs);
    const dbias = compositeBiasGradient(dy, q, k, v, bias, output, lse!, attrs.r);
    return [dq, dk, dv, dbias];
  },
});

/**
 * FlashAttention (Dao et al. 2022; FlashAttention-2, Dao 2023): softmax(scale · q kᵀ + bias, masked) v
 * computed tile by tile with an online softmax, on WebAssembly SIMD kernels split over the worker pool (cpu
 * and wasm backends; the composite reference elsewhere). Peak extra memory O(block² + L·D); tiles that the
 * causal band, the window or the mask leave empty are skipped. Differentiable with `tf.grads` (the
 * backward pass recomputes P from the saved logsumexp; a bias's gradient comes from the composite's backward).
 *
 * q: [batch, headsQ, L, headDim]; k, v: [batch, headsKV, S, headDim]; returns [batch, headsQ, L, headDim],
 * or `{ out, lse }` with `returnLse` (lse: [batch, headsQ, L]). Same semantics as
 * {@link scaledDotProductAttention}.
 */
export function flashAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options: FlashAttentionOptions & { returnLse: true },
): { out: tf.Tensor4D; lse: tf.Tensor3D };
export function flashAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options?: FlashAttentionOptions,
): tf.Tensor4D;
export function flashAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options: FlashAttentionOptions = {},
): tf.Tensor4D | { out: tf.Tensor4D; lse: tf.Tensor3D } {
  const r = resolveAttention(FN, q, k, v, options, ['blockSize', 'returnLse', 'impl']);
  const { blockSize = 64, returnLse = false, impl = 'auto' } = options;
  assertInteger(FN, 'blockSize', blockSize, 8, 512);
  if (blockSize % 8 !== 0) throw new ValueError(`${FN}: blockSize must be a multiple of 8, got ${blockSize}`);
  assertOneOf(FN, 'returnLse', returnLse, [true, false]);
  assertOneOf<Implementation>(FN, 'impl', impl, ['auto', 'fused', 'composite']);
  const attrs: FlashAttrs = { r, blockRows: QUERY_BLOCK, blockCols: blockSize };
  const [out, lse] = r.bias
    ? flashBiasOp([q, k, v, r.bias], attrs, { impl })
    : flashOp([q, k, v], attrs, { impl });
  if (returnLse) return { out: out as tf.Tensor4D, lse: lse as tf.Tensor3D };
  lse?.dispose();
  return out as tf.Tensor4D;
}

/** Whether {@link flashAttention} runs its fused kernels on the active backend. */
export function flashAttentionFused(): boolean {
  return flashOp.fusedAvailable('auto');
}

/**
 * Peak bytes the attention kernels held in their WebAssembly memory since the last reset (inputs copied in,
 * tiles, outputs): with `tf.profile`'s peakBytes, the whole memory of a fused call.
 */
export const flashKernelMemory = {
  get peakBytes(): number {
    return attentionKernels.peakBytes;
  },
  resetPeak(): void {
    attentionKernels.resetPeak();
  },
};

/**
 * Compiles the attention kernels ahead of time (asynchronously). Browsers refuse to compile WebAssembly
 * modules over 4 KB synchronously on the main thread; `initBackend` compiles every kernel module defined by
 * then, so call this only when @lab/attention is imported after `initBackend` (e.g. lazily).
 */
export async function compileAttentionKernels(): Promise<void> {
  await attentionKernels.compile('single');
}
