import { defineKernelModule } from '@lab/tensor';
import { wasmShared, wasmSingle } from '../generated/wasm.js';

/**
 * One histogram kernel: target `t` and prediction `p` (byte offsets), `n` pixels, histograms at `h`
 * (parts · 4 · S² u32), C classes, the ignore label and its mode (bit 0 target, bit 1 prediction).
 */
type HistogramKernel = (
  t: number,
  p: number,
  n: number,
  h: number,
  C: number,
  ignore: number,
  mode: number,
  part: number,
  parts: number,
) => void;

type Kind = 'u8' | 'u16' | 'i32' | 'f32';

/** One boundary-band kernel: labels, H, W, d, band (u8 out), then scratch (see assembly/index.ts). */
type BandKernel = (
  labels: number,
  H: number,
  W: number,
  d: number,
  band: number,
  rowUniform: number,
  left: number,
  upRow: number,
  down: number,
  downRow: number,
) => void;

/** The exports of assembly/index.ts. */
export type SegmetricsKernels = { [K in `band_${Kind}`]: BandKernel } & {
  [K in `hist_${Kind}_${Kind}` | 'hist_u8_u8_general' | `hist_logits_${Kind}`]: HistogramKernel;
};

/** @lab/segmetrics' WebAssembly kernels. */
export const segmetricsKernels = defineKernelModule<SegmetricsKernels>('segmetrics', {
  wasmSingle,
  wasmShared,
});

/**
 * Compiles the WebAssembly kernels ahead of time. `initBackend()` does it for every package imported before it
 * runs; call this when @lab/segmetrics is imported later on a browser's main thread (which may not compile
 * modules of this size synchronously).
 */
export async function compileKernels(): Promise<void> {
  await segmetricsKernels.compile('single');
}
