import { defineKernelModule } from '@lab/tensor';
import { wasmShared, wasmSingle } from '../generated/wasm.js';

/** The exports of assembly/index.ts (byte offsets and sizes; see that file). */
export interface SsmKernels {
  scan_fwd(...args: number[]): void;
  scan_bwd(...args: number[]): void;
  transpose(...args: number[]): void;
  scan_bwd_scratch_bytes(L: number, Np: number): number;
  scan_fwd_scratch_bytes(L: number): number;
  math_probe(table: number, x: number, outExp: number, outSigmoid: number, outSoftplus: number, n: number, part: number, parts: number): void;
}

/** @lab/ssm's WebAssembly kernels. */
export const kernels = defineKernelModule<SsmKernels>('ssm', { wasmSingle, wasmShared });
