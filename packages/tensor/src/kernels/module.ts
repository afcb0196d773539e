import { wasmShared, wasmSingle } from '../generated/wasm.js';
import { defineKernelModule } from '../wasm.js';

/** The exports of assembly/index.ts (byte offsets and sizes; see that file). */
export interface TensorKernels {
  matmul_pack_b(b: number, bp: number, k: number, n: number, part: number, parts: number): void;
  matmul_packed(
    a: number,
    bp: number,
    c: number,
    m: number,
    k: number,
    n: number,
    accumulate: number,
    part: number,
    parts: number,
  ): void;
  axpy(alpha: number, x: number, y: number, n: number, part: number, parts: number): void;
}

/** @lab/tensor's own WebAssembly kernels. */
export const tensorKernels = defineKernelModule<TensorKernels>('tensor', { wasmSingle, wasmShared });
