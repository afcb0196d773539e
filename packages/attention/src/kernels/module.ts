import { defineKernelModule } from '@lab/tensor';
import { wasmShared, wasmSingle } from '../generated/wasm.js';

/** The exports of assembly/index.ts (byte offsets and sizes; kernels split over parts take (part, parts) last). */
export interface AttentionKernels {
  exp_f32(src: number, dst: number, n: number): void;
  pack_panels(
    src: number,
    dst: number,
    n: number,
    S: number,
    dp: number,
    sp: number,
    part: number,
    parts: number,
  ): void;
  flash_forward(params: number, part: number, parts: number): void;
  flash_backward_dvec(
    dout: number,
    out: number,
    dvec: number,
    n: number,
    dp: number,
    part: number,
    parts: number,
  ): void;
  flash_backward(params: number, part: number, parts: number): void;
  flash_backward_dkdv(params: number, part: number, parts: number): void;
  flash_backward_dq(params: number, part: number, parts: number): void;
}

/** @lab/attention's WebAssembly kernels. */
export const attentionKernels = defineKernelModule<AttentionKernels>('attention', { wasmSingle, wasmShared });
