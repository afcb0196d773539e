/**
 * Times FlashAttention against the composite reference, and their peak memory, as L grows — in a Web Worker,
 * so the attention page stays responsive while it measures.
 */
/// <reference lib="webworker" />
import { flashAttention, flashKernelMemory, scaledDotProductAttention } from '@lab/attention';
import { createRng, initBackend } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';

export interface MeasureRequest {
  wasmPaths: Record<string, string>;
  lengths: number[];
}

export interface BenchPoint {
  L: number;
  flashMs: number;
  compositeMs: number;
  flashBytes: number;
  compositeBytes: number;
}

export type MeasureEvent = { type: 'measuring'; L: number } | { type: 'point'; point: BenchPoint } | { type: 'error'; message: string };

const post = (event: MeasureEvent) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(event);

async function measure(L: number): Promise<BenchPoint> {
  const H = 4;
  const D = 32;
  const rng = createRng(L);
  const [q, k, v] = [0, 1, 2].map(() => rng.normal([1, H, L, D]));
  const time = (f: () => tf.Tensor) => {
    tf.dispose(f()); // warm-up
    const t0 = performance.now();
    tf.dispose(f());
    return performance.now() - t0;
  };
  const flash = () => flashAttention(q!, k!, v!, { causal: true });
  const composite = () => scaledDotProductAttention(q!, k!, v!, { causal: true });
  const flashMs = time(flash);
  const compositeMs = time(composite);
  // tfjs's peak plus, for flash, the peak of its kernels' WebAssembly memory (tiles, copies of q, k, v, out).
  const peak = async (f: () => tf.Tensor) => {
    flashKernelMemory.resetPeak();
    const before = flashKernelMemory.peakBytes;
    const info = await tf.profile(() => {
      tf.dispose(f());
      return [];
    });
    return info.peakBytes + Math.max(0, flashKernelMemory.peakBytes - before);
  };
  const flashBytes = await peak(flash);
  const compositeBytes = await peak(composite);
  tf.dispose([q!, k!, v!]);
  return { L, flashMs, compositeMs, flashBytes, compositeBytes };
}

self.addEventListener('message', async (e: MessageEvent<MeasureRequest>) => {
  try {
    await initBackend('wasm', { wasmPaths: e.data.wasmPaths });
    for (const L of e.data.lengths) {
      post({ type: 'measuring', L });
      post({ type: 'point', point: await measure(L) });
    }
  } catch (error) {
    post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
});
