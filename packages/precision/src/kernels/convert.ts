/**
 * Host kernels of the bulk conversions: the WebAssembly SIMD kernels of assembly/index.ts, and the plain
 * TypeScript fallback built on the scalar bit functions (src/scalar.ts), which the kernels match bit for bit.
 *
 * The WebAssembly path streams the input through the module's memory in chunks that stay in cache: copy a
 * chunk in, convert it, copy the result out.
 */
import { defineKernelModule, threadCount, useWasmKernels } from '@lab/tensor';
import { wasmShared, wasmSingle } from '../generated/wasm.js';
import {
  bf16BitsToF32Bits,
  e4m3BitsToF32Bits,
  e5m2BitsToF32Bits,
  f16BitsToF32Bits,
  f32BitsToBf16Bits,
  f32BitsToE4m3Bits,
  f32BitsToE5m2Bits,
  f32BitsToF16Bits,
} from '../scalar.js';

/** The exports of assembly/index.ts (byte offsets and sizes; see that file). */
export interface PrecisionKernels {
  f32_to_f16(src: number, dst: number, n: number, part: number, parts: number): void;
  f16_to_f32(src: number, dst: number, n: number, part: number, parts: number): void;
  f32_to_bf16(src: number, dst: number, n: number, part: number, parts: number): void;
  bf16_to_f32(src: number, dst: number, n: number, part: number, parts: number): void;
  f32_to_e4m3(src: number, dst: number, n: number, saturate: number, part: number, parts: number): void;
  e4m3_to_f32(src: number, dst: number, n: number, part: number, parts: number): void;
  f32_to_e5m2(src: number, dst: number, n: number, saturate: number, part: number, parts: number): void;
  e5m2_to_f32(src: number, dst: number, n: number, part: number, parts: number): void;
}

/** @lab/precision's WebAssembly kernels. */
export const precisionKernels = defineKernelModule<PrecisionKernels>('precision', { wasmSingle, wasmShared });

/**
 * Compiles the WebAssembly kernels ahead of time (asynchronously). `initBackend` from @lab/tensor does this for
 * every kernel module imported before it runs; call it when this package is imported later in a browser,
 * where the main thread may refuse to compile large modules synchronously on first use.
 */
export async function compileKernels(): Promise<void> {
  if (useWasmKernels()) await precisionKernels.compile('single');
}

/** The narrow storage kinds of the bulk kernels. */
export type Narrow = 'f16' | 'bf16' | 'e4m3' | 'e5m2';

const ENCODE = { f16: 'f32_to_f16', bf16: 'f32_to_bf16', e4m3: 'f32_to_e4m3', e5m2: 'f32_to_e5m2' } as const;
const DECODE = { f16: 'f16_to_f32', bf16: 'bf16_to_f32', e4m3: 'e4m3_to_f32', e5m2: 'e5m2_to_f32' } as const;
const WIDTH = { f16: 2, bf16: 2, e4m3: 1, e5m2: 1 } as const;

/** Values per chunk streamed through WebAssembly memory (64 KiB of float32: in and out stay in L2). */
const CHUNK = 1 << 14;
/** Below this many values the call overhead outweighs SIMD; the fallback gives the same bits. */
const MIN_WASM = 64;

type NarrowArray = Uint16Array | Uint8Array;

/** With the worker pool running, arrays of at least this many values are split across its threads. */
const PARALLEL_MIN = 1 << 20;
/** Values per round on the pool (bounds the WebAssembly memory a call takes: 24 MiB for float16). */
const PARALLEL_BLOCK = 1 << 22;

/**
 * Runs one conversion kernel over `n` values on the worker pool: a round copies a large block in, every thread
 * converts its share (the kernels take `(part, parts)`), and the block is copied out.
 */
function runParallel(
  kernel: keyof PrecisionKernels,
  extra: number[],
  n: number,
  inWidth: number,
  outWidth: number,
  copyIn: (memory: ArrayBufferLike, ptr: number, start: number, count: number) => void,
  copyOut: (memory: ArrayBufferLike, ptr: number, start: number, count: number) => void,
): void {
  const threads = threadCount();
  precisionKernels.withArena((arena) => {
    const block = Math.min(PARALLEL_BLOCK, Math.ceil(n / 16) * 16);
    const pin = arena.alloc(inWidth * block);
    const pout = arena.alloc(outWidth * block);
    for (let start = 0; start < n; start += block) {
      const count = Math.min(block, n - start);
      copyIn(precisionKernels.memory.buffer, pin, start, count);
      precisionKernels.run(kernel, [pin, pout, count, ...extra], 4 * threads);
      copyOut(precisionKernels.memory.buffer, pout, start, count);
    }
  });
}

/** float32 → narrow patterns with the WebAssembly kernels. `dst` has `src.length` elements. */
export function encodeWasm(kind: Narrow, src: Float32Array, dst: NarrowArray, saturate: boolean): void {
  const width = WIDTH[kind];
  const kernel = ENCODE[kind];
  const n = src.length;
  if (n >= PARALLEL_MIN && threadCount() > 1) {
    runParallel(
      kernel,
      kind === 'e4m3' || kind === 'e5m2' ? [saturate ? 1 : 0] : [],
      n,
      4,
      width,
      (memory, ptr, start, count) => new Float32Array(memory, ptr, count).set(src.subarray(start, start + count)),
      (memory, ptr, start, count) =>
        dst.set(width === 2 ? new Uint16Array(memory, ptr, count) : new Uint8Array(memory, ptr, count), start),
    );
    return;
  }
  precisionKernels.withArena((arena) => {
    const chunk = Math.min(CHUNK, Math.ceil(n / 16) * 16);
    const pin = arena.alloc(4 * chunk);
    const pout = arena.alloc(width * chunk);
    const memory = precisionKernels.memory.buffer;
    const inView = new Float32Array(memory, pin, chunk);
    const outView = width === 2 ? new Uint16Array(memory, pout, chunk) : new Uint8Array(memory, pout, chunk);
    const fn = precisionKernels.exports[kernel] as (...args: number[]) => void;
    const args = kind === 'e4m3' || kind === 'e5m2' ? [saturate ? 1 : 0] : [];
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      inView.set(count === chunk ? src.subarray(start, start + chunk) : src.subarray(start, start + count));
      fn(pin, pout, count, ...args, 0, 1);
      dst.set(count === chunk ? outView : outView.subarray(0, count), start);
    }
  });
}

/** Narrow patterns → float32 with the WebAssembly kernels. `dst` has `src.length` elements. */
export function decodeWasm(kind: Narrow, src: NarrowArray, dst: Float32Array): void {
  const width = WIDTH[kind];
  const kernel = DECODE[kind];
  const n = src.length;
  if (n >= PARALLEL_MIN && threadCount() > 1) {
    const dstBits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
    runParallel(
      kernel,
      [],
      n,
      width,
      4,
      (memory, ptr, start, count) =>
        (width === 2 ? new Uint16Array(memory, ptr, count) : new Uint8Array(memory, ptr, count)).set(src.subarray(start, start + count)),
      (memory, ptr, start, count) => dstBits.set(new Uint32Array(memory, ptr, count), start),
    );
    return;
  }
  precisionKernels.withArena((arena) => {
    const chunk = Math.min(CHUNK, Math.ceil(n / 16) * 16);
    const pin = arena.alloc(width * chunk);
    const pout = arena.alloc(4 * chunk);
    const memory = precisionKernels.memory.buffer;
    const inView = width === 2 ? new Uint16Array(memory, pin, chunk) : new Uint8Array(memory, pin, chunk);
    // Read the output as raw bits so that NaN payloads survive the copy.
    const outView = new Uint32Array(memory, pout, chunk);
    const dstBits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
    const fn = precisionKernels.exports[kernel] as (...args: number[]) => void;
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      inView.set(count === chunk ? src.subarray(start, start + chunk) : src.subarray(start, start + count));
      fn(pin, pout, count, 0, 1);
      dstBits.set(count === chunk ? outView : outView.subarray(0, count), start);
    }
  });
}

/**
 * float32 → narrow format → float32 with the WebAssembly kernels (fake quantization), bit-identical to
 * {@link encodeWasm} followed by {@link decodeWasm}, but with one copy in and one copy out: each chunk is
 * encoded and decoded while it sits in WebAssembly memory. `dst` may be `src`.
 */
export function roundWasm(kind: Narrow, src: Float32Array, dst: Float32Array, saturate: boolean): void {
  const width = WIDTH[kind];
  const encode = precisionKernels.exports[ENCODE[kind]] as (...args: number[]) => void;
  const decode = precisionKernels.exports[DECODE[kind]] as (...args: number[]) => void;
  const extra = kind === 'e4m3' || kind === 'e5m2' ? [saturate ? 1 : 0] : [];
  const n = src.length;
  // Copy raw bits so that NaN payloads survive on every engine.
  const srcBits = new Uint32Array(src.buffer, src.byteOffset, n);
  const dstBits = new Uint32Array(dst.buffer, dst.byteOffset, n);
  const parallel = n >= PARALLEL_MIN && threadCount() > 1;
  precisionKernels.withArena((arena) => {
    const chunk = Math.min(parallel ? PARALLEL_BLOCK : CHUNK, Math.ceil(n / 16) * 16);
    const ptr = arena.alloc(4 * chunk);
    const packed = arena.alloc(width * chunk);
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      const view = new Uint32Array(precisionKernels.memory.buffer, ptr, count);
      view.set(srcBits.subarray(start, start + count));
      if (parallel) {
        precisionKernels.run(ENCODE[kind], [ptr, packed, count, ...extra], 4 * threadCount());
        precisionKernels.run(DECODE[kind], [packed, ptr, count], 4 * threadCount());
      } else {
        encode(ptr, packed, count, ...extra, 0, 1);
        decode(packed, ptr, count, 0, 1);
      }
      dstBits.set(view, start);
    }
  });
}

let f16Table: Uint32Array | undefined;
const byteTables: Partial<Record<'e4m3' | 'e5m2', Uint32Array>> = {};

function byteTable(kind: 'e4m3' | 'e5m2'): Uint32Array {
  let table = byteTables[kind];
  if (!table) {
    const decode = kind === 'e4m3' ? e4m3BitsToF32Bits : e5m2BitsToF32Bits;
    table = Uint32Array.from({ length: 256 }, (_, b) => decode(b));
    byteTables[kind] = table;
  }
  return table;
}

/** float32 → narrow patterns in plain TypeScript (the scalar bit functions in a loop). */
export function encodeFallback(kind: Narrow, src: Float32Array, dst: NarrowArray, saturate: boolean): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const n = bits.length;
  if (kind === 'f16') for (let i = 0; i < n; i++) dst[i] = f32BitsToF16Bits(bits[i]!);
  else if (kind === 'bf16') for (let i = 0; i < n; i++) dst[i] = f32BitsToBf16Bits(bits[i]!);
  else if (kind === 'e4m3') for (let i = 0; i < n; i++) dst[i] = f32BitsToE4m3Bits(bits[i]!, saturate);
  else for (let i = 0; i < n; i++) dst[i] = f32BitsToE5m2Bits(bits[i]!, saturate);
}

/** Narrow patterns → float32 in plain TypeScript (lookup tables for float16 and fp8, a shift for bfloat16). */
export function decodeFallback(kind: Narrow, src: NarrowArray, dst: Float32Array): void {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  const n = src.length;
  if (kind === 'bf16') {
    for (let i = 0; i < n; i++) out[i] = bf16BitsToF32Bits(src[i]!);
    return;
  }
  let table: Uint32Array;
  if (kind === 'f16') {
    f16Table ??= Uint32Array.from({ length: 65536 }, (_, h) => f16BitsToF32Bits(h));
    table = f16Table;
  } else table = byteTable(kind);
  for (let i = 0; i < n; i++) out[i] = table[src[i]!]!;
}

/** float32 → narrow patterns on the best path (WebAssembly SIMD, else the fallback); same bits either way. */
export function encodeHost(kind: Narrow, src: Float32Array, dst: NarrowArray, saturate = false): void {
  if (useWasmKernels() && src.length >= MIN_WASM) encodeWasm(kind, src, dst, saturate);
  else encodeFallback(kind, src, dst, saturate);
}

/** float32 → format → float32 on the best path (one SIMD pass, else encode + decode in TypeScript blocks). */
export function roundHostArray(kind: Narrow, src: Float32Array, dst: Float32Array, saturate = false): void {
  if (useWasmKernels() && src.length >= MIN_WASM) {
    roundWasm(kind, src, dst, saturate);
    return;
  }
  const block = Math.min(1 << 14, src.length);
  const patterns = kind === 'e4m3' || kind === 'e5m2' ? new Uint8Array(block) : new Uint16Array(block);
  for (let start = 0; start < src.length; start += block) {
    const count = Math.min(block, src.length - start);
    const p = count === block ? patterns : patterns.subarray(0, count);
    encodeFallback(kind, src.subarray(start, start + count), p, saturate);
    decodeFallback(kind, p, dst.subarray(start, start + count));
  }
}

/** Narrow patterns → float32 on the best path (WebAssembly SIMD, else the fallback); same bits either way. */
export function decodeHost(kind: Narrow, src: NarrowArray, dst: Float32Array): void {
  if (useWasmKernels() && src.length >= MIN_WASM) decodeWasm(kind, src, dst);
  else decodeFallback(kind, src, dst);
}
