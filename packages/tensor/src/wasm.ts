/**
 * Loading a package's WebAssembly kernels (compiled from its `assembly/` folder by `lab-asc` and embedded as
 * base64, so there is no file path to configure in Node, Vite or any bundler), and moving typed arrays in
 * and out of their memory.
 *
 * A kernel module owns one linear memory. Memory is handed out by a stack ("arena"): a kernel call marks the
 * top, allocates its inputs, outputs and scratch, runs, copies its outputs out, and releases everything
 * (`withArena`). Data that several calls reuse (packed weights) can be kept below the arena in resident blocks
 * (`resident`). The module can be re-instantiated on a shared memory at any time between calls when the worker
 * pool starts; resident blocks are copied over, at the same offsets.
 */
import { ValueError } from './errors.js';
import { pool, type PoolModule } from './pool.js';

/** The two compiled variants produced by lab-asc (see tooling/bin/lab-asc.mjs). */
export interface WasmSource {
  /** Imports a plain memory (one thread). */
  wasmSingle: string;
  /** Imports a shared memory (threads feature), for the worker pool. */
  wasmShared: string;
}

const PAGE = 65536;
/** The first bytes of every memory are left to the module's own static data. */
const RESERVED_BYTES = 4 * PAGE;
const MAX_PAGES = 32768; // 2 GiB, as compiled by lab-asc

function decodeBase64(base64: string): Uint8Array {
  const g = globalThis as { Buffer?: { from(s: string, e: string): Uint8Array } };
  if (g.Buffer) return new Uint8Array(g.Buffer.from(base64, 'base64'));
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// A minimal module using one SIMD instruction (i32x4.splat), to test SIMD support without compiling kernels.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

let simdSupport: boolean | undefined;
let forcedFallback = false;

/** Whether this engine runs WebAssembly SIMD (and the embedded kernels can be used at all). */
export function wasmSimdSupported(): boolean {
  if (simdSupport === undefined) {
    try {
      simdSupport = typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
    } catch {
      simdSupport = false;
    }
  }
  return simdSupport;
}

/**
 * Forces every fused op onto its TypeScript fallback instead of the WebAssembly kernels (as on an engine
 * without SIMD). For tests of the fallback and for comparisons; `false` restores the default.
 */
export function setForceKernelFallback(force: boolean): void {
  forcedFallback = force;
}

/** True when fused ops should use the WebAssembly kernels (SIMD present and no fallback forced). */
export function useWasmKernels(): boolean {
  return !forcedFallback && wasmSimdSupported();
}

type KernelExports = Record<string, (...args: number[]) => number | undefined>;

const modules: KernelModule<KernelExports>[] = [];

/** Every kernel module defined so far (the worker pool instantiates each of them). */
export function kernelModules(): readonly KernelModule<KernelExports>[] {
  return modules;
}

/**
 * A package's WebAssembly kernels. Define one per package at module level:
 *
 * ```ts
 * import { wasmSingle, wasmShared } from './generated/wasm.js';
 * type Kernels = { matmul(a: number, b: number, c: number, m: number, k: number, n: number, part: number, parts: number): void };
 * export const kernels = defineKernelModule<Kernels>('tensor', { wasmSingle, wasmShared });
 * ```
 *
 * Kernels take byte offsets into the module's memory and sizes. A kernel that can be split across the worker
 * pool takes `(part, parts)` as its last two arguments and processes only its share.
 */
export function defineKernelModule<E extends object>(name: string, source: WasmSource): KernelModule<E> {
  const module = new KernelModule<E>(name, source);
  modules.push(module as unknown as KernelModule<KernelExports>);
  return module;
}

export class KernelModule<E extends object> implements PoolModule {
  readonly name: string;
  private readonly source: WasmSource;
  private compiled: { single?: WebAssembly.Module; shared?: WebAssembly.Module } = {};
  private instance: WebAssembly.Instance | undefined;
  private _memory: WebAssembly.Memory | undefined;
  private _shared = false;
  /** Where arenas start: resident blocks live in [RESERVED_BYTES, base). */
  private base = RESERVED_BYTES;
  private top = RESERVED_BYTES;
  private peak = RESERVED_BYTES;
  private residents: ResidentRecord[] = [];
  /** withArena calls in progress (resident blocks may only be reserved or trimmed at 0). */
  private depth = 0;

  constructor(name: string, source: WasmSource) {
    this.name = name;
    this.source = source;
  }

  /** Compiles ahead of time (async, allowed for modules of any size on a browser's main thread). */
  async compile(variant: 'single' | 'shared' = 'single'): Promise<WebAssembly.Module> {
    const existing = this.compiled[variant];
    if (existing) return existing;
    const bytes = decodeBase64(variant === 'single' ? this.source.wasmSingle : this.source.wasmShared);
    const compiled = await WebAssembly.compile(bytes as BufferSource);
    this.compiled[variant] = compiled;
    return compiled;
  }

  private compileSync(variant: 'single' | 'shared'): WebAssembly.Module {
    let compiled = this.compiled[variant];
    if (!compiled) {
      const bytes = decodeBase64(variant === 'single' ? this.source.wasmSingle : this.source.wasmShared);
      compiled = new WebAssembly.Module(bytes as BufferSource);
      this.compiled[variant] = compiled;
    }
    return compiled;
  }

  /** The instantiated kernels (instantiated on first use, on a shared memory when the pool runs). */
  get exports(): E {
    if (!this.instance) this.instantiate(pool.active);
    return this.instance!.exports as unknown as E;
  }

  /** The module's memory. */
  get memory(): WebAssembly.Memory {
    if (!this._memory) this.instantiate(pool.active);
    return this._memory!;
  }

  /** True when instantiated on a shared memory (so the worker pool can run its kernels). */
  get isShared(): boolean {
    return this._shared;
  }

  /** Highest arena top seen, in bytes: the module's peak memory use by kernels. */
  get peakBytes(): number {
    return this.peak - RESERVED_BYTES;
  }

  /** Resets the peak to the current top (for measuring one call). */
  resetPeak(): void {
    this.peak = this.top;
  }

  /** @internal (re)instantiates on a plain or a shared memory. Only between kernel calls. */
  instantiate(shared: boolean): void {
    if (this.top !== this.base) {
      throw new ValueError(`${this.name} kernels: cannot re-instantiate while a kernel call holds memory`);
    }
    const old = this._memory;
    const pages = old ? old.buffer.byteLength / PAGE : 64;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared } as WebAssembly.MemoryDescriptor);
    const compiled = this.compileSync(shared ? 'shared' : 'single');
    this.instance = new WebAssembly.Instance(compiled, { env: { memory } });
    // Resident blocks keep their offsets and contents (instantiation only wrote the module's static data below).
    const held = this.base - RESERVED_BYTES;
    if (old && held > 0) {
      new Uint8Array(memory.buffer, RESERVED_BYTES, held).set(new Uint8Array(old.buffer, RESERVED_BYTES, held));
    }
    this._memory = memory;
    this._shared = shared;
  }

  /**
   * Keeps `bytes` of module memory across kernel calls (16-byte aligned; contents undefined until written),
   * below every arena, until `release()`. For data many calls reuse, such as weights packed once for a kernel.
   * Only between kernel calls (not inside `withArena`). Released blocks are reused first-fit, and the top ones
   * are returned to the arena.
   */
  resident(bytes: number): ResidentBlock {
    if (!(Number.isInteger(bytes) && bytes > 0)) {
      throw new ValueError(`${this.name} kernels: a resident block needs a positive whole number of bytes, got ${bytes}`);
    }
    if (this.depth > 0) {
      throw new ValueError(`${this.name} kernels: resident memory cannot be reserved inside a kernel call`);
    }
    const size = Math.ceil(bytes / 16) * 16;
    let record = this.residents.find((r) => !r.live && r.bytes >= size);
    if (record) {
      record.live = true;
    } else {
      const ptr = this.allocate(size, 16);
      this.base = this.top;
      record = { ptr, bytes: size, live: true };
      this.residents.push(record);
    }
    return new ResidentBlock(record, () => this.releaseResident(record!));
  }

  /** Bytes held by live resident blocks. */
  get residentBytes(): number {
    return this.residents.reduce((sum, r) => sum + (r.live ? r.bytes : 0), 0);
  }

  private releaseResident(record: ResidentRecord): void {
    record.live = false;
    // Return released blocks at the top to the arena when no call is running (else the next reservation reuses them).
    if (this.depth > 0) return;
    while (this.residents.length > 0 && !this.residents[this.residents.length - 1]!.live) {
      this.residents.pop();
    }
    const last = this.residents[this.residents.length - 1];
    this.base = last ? last.ptr + last.bytes : RESERVED_BYTES;
    this.top = this.base;
  }

  /** @internal the compiled shared variant and memory, for the worker pool. */
  sharedHandle(): { module: WebAssembly.Module; memory: WebAssembly.Memory } {
    if (!this._shared) this.instantiate(true);
    return { module: this.compiled.shared!, memory: this._memory! };
  }

  /** Runs `fn` with a scoped allocator; everything allocated inside is released when it returns or throws. */
  withArena<T>(fn: (arena: Arena) => T): T {
    const mark = this.top;
    const arena = new Arena(this);
    this.depth++;
    try {
      return fn(arena);
    } finally {
      this.depth--;
      this.top = mark;
    }
  }

  /** @internal */
  allocate(bytes: number, align: number): number {
    const ptr = Math.ceil(this.top / align) * align;
    const end = ptr + bytes;
    const memory = this.memory;
    if (end > memory.buffer.byteLength) {
      const needed = Math.ceil((end - memory.buffer.byteLength) / PAGE);
      if (memory.buffer.byteLength / PAGE + needed > MAX_PAGES) {
        throw new ValueError(
          `${this.name} kernels: a call needs ${(end / 2 ** 20).toFixed(0)} MiB of WebAssembly memory, more than the 2 GiB limit`,
        );
      }
      memory.grow(needed);
    }
    this.top = end;
    if (end > this.peak) this.peak = end;
    return ptr;
  }

  /**
   * Runs an exported kernel whose last two arguments are `(part, parts)`: on the worker pool when it is
   * active and `parts > 1` (every participant takes parts until none is left), else part by part here.
   */
  run(kernel: keyof E & string, args: readonly number[], parts = 1): void {
    const fn = (this.exports as unknown as KernelExports)[kernel];
    if (typeof fn !== 'function') throw new ValueError(`${this.name} kernels: no exported kernel ${kernel}`);
    if (parts > 1 && pool.active && this._shared && pool.canRun(this)) {
      pool.run(this, kernel, args, parts, fn);
      return;
    }
    for (let p = 0; p < parts; p++) fn(...args, p, parts);
  }
}

interface ResidentRecord {
  readonly ptr: number;
  readonly bytes: number;
  live: boolean;
}

/** Module memory kept across kernel calls (see {@link KernelModule.resident}). */
export class ResidentBlock {
  private released = false;

  constructor(
    private readonly record: ResidentRecord,
    private readonly onRelease: () => void,
  ) {}

  /** Byte offset in the module's memory (stable across re-instantiation). */
  get ptr(): number {
    if (this.released) throw new ValueError('this resident block was released');
    return this.record.ptr;
  }

  /** Size in bytes (rounded up to 16). */
  get bytes(): number {
    return this.record.bytes;
  }

  /** Gives the memory back. Further use of `ptr` throws; releasing twice does nothing. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease();
  }
}

/** A scoped allocator over a kernel module's memory (see {@link KernelModule.withArena}). */
export class Arena {
  constructor(private readonly module: KernelModule<object>) {}

  /** Reserves `bytes` (16-byte aligned, for SIMD loads) and returns the byte offset. Contents are undefined. */
  alloc(bytes: number, align = 16): number {
    return this.module.allocate(bytes, align);
  }

  /** Reserves `n` float32 values. */
  allocF32(n: number): number {
    return this.alloc(4 * n);
  }

  /** Copies `data` into fresh memory and returns its byte offset. */
  write(data: Float32Array | Int32Array | Uint32Array | Uint16Array | Uint8Array | Float64Array): number {
    const ptr = this.alloc(data.byteLength, 16);
    new Uint8Array(this.module.memory.buffer, ptr, data.byteLength).set(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
    return ptr;
  }

  /** A live Float32Array view of memory (invalid after the memory grows: take views after all allocations). */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.module.memory.buffer, ptr, n);
  }

  /** A copy of `n` float32 values at `ptr`, as a Float32Array that outlives the arena. */
  readF32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.module.memory.buffer, ptr, n).slice();
  }

  /** Fills `n` float32 at `ptr` with `value`. */
  fillF32(ptr: number, n: number, value: number): void {
    new Float32Array(this.module.memory.buffer, ptr, n).fill(value);
  }
}
