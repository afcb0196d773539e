/**
 * The kernel plumbing: one typed definition per op, with
 *   (a) `composite`: the reference, written with tfjs ops (runs on every backend, differentiated by tfjs),
 *   (b) `fused`: a kernel over host arrays (WebAssembly SIMD with a TypeScript fallback) for cpu and wasm,
 *       or an explicit `null` when the op has none,
 *   (c) `gradient`: how the fused path is differentiated: a function of the upstream gradient and the saved
 *       tensors, `'recompute'` (the vector–Jacobian product of the composite, evaluated on the saved inputs),
 *       or an explicit `null` for ops that are not differentiable.
 * Every field is required, so a definition that forgets a piece does not compile.
 *
 * ```ts
 * export const matmul = defineOp({
 *   name: 'tensor.matmul',
 *   validate: ([a, b]) => { ... },
 *   composite: ([a, b]) => tf.matMul(a, b),
 *   fused: { backends: ['cpu', 'wasm'], forward: ([a, b]) => ({ outputs: [matmulHost(a, b)] }) },
 *   gradient: (dy, { inputs: [a, b] }) => [matmul([dy, b], { transposeB: true }), ...],
 * });
 * ```
 */
import * as tf from '@tensorflow/tfjs-core';
import { ValueError } from './errors.js';

/** A dense array on the host: what fused kernels read and write. */
export interface HostTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
  /**
   * True when `data` is a view that stays valid only until the next kernel or tfjs call (a kernel module's
   * memory, or the wasm backend's heap): {@link fromHost} then copies it where the backend would keep the array.
   */
  readonly borrowed?: boolean;
}

/** Reads a tensor to the host as float32 (a copy where the backend holds the data elsewhere). */
export function toHost(tensor: tf.Tensor): HostTensor {
  const data = tensor.dataSync();
  return {
    data: data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>),
    shape: tensor.shape,
  };
}

interface WasmBackendInternals {
  dataIdMap?: { get(dataId: object): { memoryOffset?: number } | undefined };
  wasm?: { HEAPU8?: Uint8Array };
}

/**
 * A view of a tensor's data in tfjs-backend-wasm's heap, with no copy (its `dataSync()` slices the heap into a
 * fresh buffer, which costs more than the copy itself for large tensors). Valid only until the next tfjs call,
 * which may grow the heap; never write to it. Undefined on other backends, for strings and empty tensors, or
 * when the backend's layout is not the expected one.
 */
export function wasmHeapView(tensor: tf.Tensor): Float32Array | Int32Array | Uint8Array | undefined {
  if (tensor.size === 0 || activeBackend() !== 'wasm') return undefined;
  const backend = tf.backend() as unknown as WasmBackendInternals;
  const info = backend.dataIdMap?.get(tensor.dataId);
  const heap = backend.wasm?.HEAPU8;
  if (!info || typeof info.memoryOffset !== 'number' || !(heap instanceof Uint8Array)) return undefined;
  const bytes = tensor.dtype === 'bool' ? tensor.size : 4 * tensor.size;
  if (info.memoryOffset <= 0 || info.memoryOffset + bytes > heap.byteLength) return undefined;
  if (tensor.dtype === 'float32') return new Float32Array(heap.buffer, info.memoryOffset, tensor.size);
  if (tensor.dtype === 'int32') return new Int32Array(heap.buffer, info.memoryOffset, tensor.size);
  if (tensor.dtype === 'bool') return new Uint8Array(heap.buffer, info.memoryOffset, tensor.size);
  return undefined;
}

/**
 * Reads a float32 tensor to the host for immediate use: a view of the wasm backend's heap ({@link wasmHeapView},
 * marked borrowed), else {@link toHost}. Read it before any tfjs call and never write to it.
 */
export function borrowHost(tensor: tf.Tensor): HostTensor {
  const view = tensor.dtype === 'float32' ? wasmHeapView(tensor) : undefined;
  return view ? { data: view as Float32Array, shape: tensor.shape, borrowed: true } : toHost(tensor);
}

/**
 * Uploads a host array as a float32 tensor. An owned array is handed to the backend (do not reuse it); a
 * borrowed one is copied, by the wasm backend itself (which copies every upload into its heap) or here.
 */
export function fromHost(host: HostTensor): tf.Tensor {
  const data = host.borrowed && activeBackend() !== 'wasm' ? host.data.slice() : host.data;
  return tf.tensor(data, [...host.shape], 'float32');
}

/** Which implementation to run: the fused kernel where the backend allows it, or the composite reference. */
export type Implementation = 'auto' | 'fused' | 'composite';

/** Backends whose tensors live in host-reachable memory, where fused kernels run. */
export type FusedBackend = 'cpu' | 'wasm';

/** Host arrays matching an op's input tuple. */
export type HostInputs<I extends readonly tf.Tensor[]> = { [K in keyof I]: HostTensor };

export interface FusedKernel<I extends readonly tf.Tensor[], A> {
  /** Backends on which the fused path is taken (others use the composite). */
  readonly backends: readonly FusedBackend[];
  /**
   * Computes the outputs from the inputs. `outputs[0]` is the differentiable result; further outputs are
   * returned beside it without gradient (an attention's logsumexp). `saved` are kept for the gradient.
   */
  forward(inputs: HostInputs<I>, attrs: A): { outputs: HostTensor[]; saved?: HostTensor[] };
  /**
   * Pass the inputs as {@link borrowHost} views (no copy on the wasm backend). Only for forwards that read
   * their inputs before any tfjs call and keep no reference to them: the views die with the next tfjs call.
   */
  readonly borrowInputs?: boolean;
}

/** What a gradient function receives. */
export interface GradientContext<I extends readonly tf.Tensor[], A> {
  /** The op's inputs. */
  readonly inputs: I;
  /** The op's differentiable output. */
  readonly output: tf.Tensor;
  /** The tensors the fused forward saved (in order). */
  readonly saved: tf.Tensor[];
  readonly attrs: A;
}

export type GradientFunction<I extends readonly tf.Tensor[], A> = (
  dy: tf.Tensor,
  context: GradientContext<I, A>,
) => { [K in keyof I]: tf.Tensor };

export interface OpDefinition<I extends readonly tf.Tensor[], A> {
  /** `package.function`, used in messages. */
  readonly name: string;
  /** Throws (ShapeError / ValueError) before any work when the inputs or attributes are invalid. */
  readonly validate: ((inputs: I, attrs: A) => void) | null;
  /** The reference made of tfjs ops: runs on every backend; tfjs differentiates it. */
  readonly composite: (inputs: I, attrs: A) => tf.Tensor | tf.Tensor[];
  /** The fused kernel for cpu and wasm, or null (explicitly) when the op has none. */
  readonly fused: FusedKernel<I, A> | null;
  /** The gradient of the fused path (see the module comment). */
  readonly gradient: GradientFunction<I, A> | 'recompute' | null;
}

/** Options every op accepts beside its attributes. */
export interface CallOptions {
  /** Force the fused kernel or the composite reference; default picks the fused one where it runs. */
  impl?: Implementation;
}

/** A defined op: call it with its inputs and attributes. Returns the primary output and the extra outputs. */
export interface Op<I extends readonly tf.Tensor[], A> {
  (inputs: I, attrs: A, options?: CallOptions): tf.Tensor[];
  readonly definition: OpDefinition<I, A>;
  /** Whether a call would take the fused path on the current backend. */
  fusedAvailable(impl?: Implementation): boolean;
}

/** The active backend's name, or '' before one is set. */
function activeBackend(): string {
  try {
    return tf.getBackend() ?? '';
  } catch {
    return '';
  }
}

/** Defines an op (see the module comment). */
export function defineOp<I extends readonly tf.Tensor[], A>(definition: OpDefinition<I, A>): Op<I, A> {
  const fusedAvailable = (impl: Implementation = 'auto'): boolean => {
    if (impl === 'composite' || !definition.fused) return false;
    const backend = activeBackend() as FusedBackend;
    const ok = definition.fused.backends.includes(backend);
    if (impl === 'fused' && !ok) {
      throw new ValueError(
        `${definition.name}: impl 'fused' needs the ${definition.fused.backends.join(' or ')} backend, the active backend is ${backend || 'none'}`,
      );
    }
    return ok;
  };

  const op = ((inputs: I, attrs: A, options: CallOptions = {}): tf.Tensor[] => {
    definition.validate?.(inputs, attrs);
    if (!fusedAvailable(options.impl ?? 'auto')) {
      const out = definition.composite(inputs, attrs);
      return Array.isArray(out) ? out : [out];
    }
    const fused = definition.fused!;
    const result = fused.forward(inputs.map(fused.borrowInputs ? borrowHost : toHost) as unknown as HostInputs<I>, attrs);
    const [primary, ...extra] = result.outputs;
    if (!primary) throw new ValueError(`${definition.name}: the fused kernel returned no output`);
    const gradient = definition.gradient;
    const nInputs = inputs.length;
    const differentiable = tf.customGrad((...args: unknown[]) => {
      const save = args.pop() as (tensors: tf.Tensor[]) => void;
      const xs = args as tf.Tensor[];
      const value = fromHost(primary);
      const saved = (result.saved ?? []).map(fromHost);
      save([...xs, value, ...saved]);
      for (const t of saved) t.dispose();
      return {
        value,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], keep: tf.Tensor[]) => {
          const upstream = Array.isArray(dy) ? dy[0]! : dy;
          const savedInputs = keep.slice(0, nInputs) as unknown as I;
          if (gradient === null) throw new ValueError(`${definition.name} is not differentiable`);
          if (gradient === 'recompute') return vjpOfComposite(definition, savedInputs, attrs, upstream);
          const grads = gradient(upstream, {
            inputs: savedInputs,
            output: keep[nInputs]!,
            saved: keep.slice(nInputs + 1),
            attrs,
          });
          return grads as unknown as tf.Tensor[];
        },
      };
    });
    const value = (differentiable as (...xs: tf.Tensor[]) => tf.Tensor)(...inputs);
    return [value, ...extra.map(fromHost)];
  }) as Op<I, A>;
  Object.defineProperty(op, 'definition', { value: definition });
  Object.defineProperty(op, 'fusedAvailable', { value: fusedAvailable });
  return op;
}

/**
 * The vector–Jacobian product of the composite at `inputs`, for upstream gradient `dy`.
 *
 * This runs inside tfjs's backward pass. A plain nested `tf.grads` there would replace the engine's active
 * tape and then clear it (tfjs resets the tape whenever a gradient computation ends at depth 0), breaking the
 * outer backward pass. Raising the gradient depth for the nested call makes tfjs treat it as a higher-order
 * gradient: it records onto the outer tape, whose cleanup releases what it saved.
 */
function vjpOfComposite<I extends readonly tf.Tensor[], A>(
  definition: OpDefinition<I, A>,
  inputs: I,
  attrs: A,
  dy: tf.Tensor,
): tf.Tensor[] {
  const state = (tf.engine() as unknown as { state: { gradientDepth: number } }).state;
  state.gradientDepth++;
  try {
    return tf.grads((...xs: tf.Tensor[]) => {
      const out = definition.composite(xs as unknown as I, attrs);
      const primary = Array.isArray(out) ? out[0]! : out;
      return tf.sum(tf.mul(primary, dy));
    })([...inputs]);
  } finally {
    state.gradientDepth--;
  }
}
