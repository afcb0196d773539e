/**
 * Trains the diffusion page's toy MLP denoiser in a Web Worker (EDM loss), posting the loss and, at the end,
 * the weights; the page rebuilds the same model (same seed, same shapes) and loads them.
 */
/// <reference lib="webworker" />
import { createMlpDenoiser, formulation, toyData, trainDenoiser } from '@lab/diffusion';
import { createRng, initBackend } from '@lab/tensor';

export interface TrainRequest {
  wasmPaths: Record<string, string>;
  toy: 'moons' | 'mixture' | 'swiss-roll';
  hidden: number;
  blocks: number;
  chunks: number;
  stepsPerChunk: number;
}

export type TrainEvent =
  | { type: 'progress'; step: number; total: number; loss: number }
  | { type: 'done'; weights: Float32Array[]; data: Float32Array }
  | { type: 'error'; message: string };

const post = (event: TrainEvent, transfer: Transferable[] = []) =>
  (self as unknown as DedicatedWorkerGlobalScope).postMessage(event, transfer);

self.addEventListener('message', async (e: MessageEvent<TrainRequest>) => {
  const r = e.data;
  try {
    await initBackend('wasm', { wasmPaths: r.wasmPaths });
    const rng = createRng(3);
    const f = formulation('edm');
    const model = createMlpDenoiser({ dim: 2, hidden: r.hidden, blocks: r.blocks, rng });
    const data = toyData(r.toy, 2048, createRng(4));
    for (let chunk = 0; chunk < r.chunks; chunk++) {
      const losses = trainDenoiser(f, model, data, {
        steps: r.stepsPerChunk,
        batchSize: 256,
        learningRate: 8e-3,
        schedule: 'constant',
        rng,
      });
      post({ type: 'progress', step: (chunk + 1) * r.stepsPerChunk, total: r.chunks * r.stepsPerChunk, loss: losses.at(-1)! });
    }
    const weights = model.variables.map((v) => v.dataSync() as Float32Array).map((w) => w.slice());
    const points = (data.dataSync() as Float32Array).slice();
    data.dispose();
    model.dispose();
    post({ type: 'done', weights, data: points }, [...weights.map((w) => w.buffer), points.buffer]);
  } catch (error) {
    post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
});
