/**
 * @lab/tensor: the shared tensor interface of the toolkit.
 *
 * Importing it registers tfjs-core's gradients (so `tf.grads` works with tfjs-core alone). It provides backend
 * setup, a counter-based RNG that is bit-identical everywhere, the error classes and argument checks every
 * package uses, and the plumbing of fused kernels: ops with a composite reference, a fused WebAssembly SIMD
 * path and a gradient; kernel modules embedded in JS; and a worker pool that splits kernels across cores.
 */
import './gradients.js';

export { type BackendName, type InitBackendOptions, initBackend } from './backend.js';
export {
  argumentMessage,
  assertBroadcastable,
  assertDtype,
  assertInteger,
  assertKnownOptions,
  assertNumber,
  assertOneOf,
  assertPositiveInteger,
  assertRank,
  assertSameSize,
  assertShape,
  assertTensor,
  formatShape,
  ShapeError,
  ValueError,
} from './errors.js';
export {
  matmulFallback,
  matmulHost,
  matmulPacked,
  matmulWasm,
  PackedMatrix,
  packMatrix,
  transposeHost,
} from './kernels/matmul.js';
export { type MatmulOptions, matmul } from './matmul.js';
export {
  borrowHost,
  type CallOptions,
  defineOp,
  type FusedBackend,
  type FusedKernel,
  fromHost,
  type GradientContext,
  type GradientFunction,
  type HostInputs,
  type HostTensor,
  type Implementation,
  type Op,
  type OpDefinition,
  toHost,
  wasmHeapView,
} from './op.js';
export { createRng, deterministicCosSin2Pi, deterministicLog, philox4x32, Rng } from './rng.js';
export * as testing from './testing.js';
export { hardwareConcurrency, initThreads, threadCount, threadsUnavailableReason } from './threads.js';
export {
  Arena,
  defineKernelModule,
  KernelModule,
  ResidentBlock,
  kernelModules,
  setForceKernelFallback,
  useWasmKernels,
  type WasmSource,
  wasmSimdSupported,
} from './wasm.js';
