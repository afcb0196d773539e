import { defineKernelModule } from '@lab/tensor';
import { wasmShared, wasmSingle } from '../generated/wasm.js';

/** The exports of assembly/index.ts (byte offsets and sizes; kernels split over parts take (part, parts) last). */
export interface ConvKernels {
  conv2d_filter_grad(
    xp: number,
    dy: number,
    dw: number,
    n: number,
    hp: number,
    wp: number,
    c: number,
    ho: number,
    wo: number,
    o: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    dh: number,
    dwid: number,
    part: number,
    parts: number,
  ): void;
  depthwise_filter_grad(
    xp: number,
    dyt: number,
    dwt: number,
    n: number,
    hp: number,
    wp: number,
    c: number,
    ho: number,
    wo: number,
    mult: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    dh: number,
    dwid: number,
    part: number,
    parts: number,
  ): void;
  conv2d_forward(
    xp: number,
    w: number,
    y: number,
    n: number,
    hp: number,
    wp: number,
    c: number,
    ho: number,
    wo: number,
    o: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    dh: number,
    dwid: number,
    part: number,
    parts: number,
  ): void;
}

/** @lab/conv's WebAssembly kernels. */
export const convKernels = defineKernelModule<ConvKernels>('conv', { wasmSingle, wasmShared });
