/**
 * Benchmarks of @lab/attention: FlashAttention against the best composite tfjs allows (2-D products on
 * pre-transposed keys) and the textbook batched composite, forward and forward + backward, with peak memory;
 * the kernels on one thread and on the worker pool; linear attention's cost as L grows.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRng, initThreads, testing, threadCount, threadsUnavailableReason } from '@lab/tensor';
import { type BenchCase, type BenchSuite, defineSuite } from '@lab/tooling/bench';
import {
  flashAttention,
  flashKernelMemory,
  linearAttention,
  scaledDotProductAttention,
} from '../src/index.js';
import { setFlashThreadLimit } from '../src/kernels/flash.js';
import { naiveAttention } from '../src/sdpa.js';

type Attn = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, o: { causal: boolean }) => tf.Tensor;

interface Inputs {
  q: tf.Tensor;
  k: tf.Tensor;
  v: tf.Tensor;
}

function makeInputs(H: number, L: number, D: number, seed = 1): Inputs {
  const rng = createRng(seed);
  return { q: rng.normal([1, H, L, D]), k: rng.normal([1, H, L, D]), v: rng.normal([1, H, L, D]) };
}

/**
 * Peak bytes one call adds to what was allocated before it (its inputs): tfjs tensors (tf.profile) plus the
 * attention kernels' WebAssembly arena (inputs copied in, packed keys, tiles, output).
 */
async function peakBytes(f: () => tf.Tensor | tf.Tensor[]): Promise<number> {
  flashKernelMemory.resetPeak();
  const arenaBefore = flashKernelMemory.peakBytes;
  const before = tf.memory().numBytes;
  const info = await tf.profile(() => {
    const r = f();
    tf.dispose(r);
    return [];
  });
  return info.peakBytes - before + Math.max(0, flashKernelMemory.peakBytes - arenaBefore);
}

const forwardBackward = (fn: Attn, x: Inputs, causal: boolean) => () => {
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => fn(a, b, c, { causal }))([
    x.q,
    x.k,
    x.v,
  ]);
  tf.dispose(grads);
};

function attentionCases(quick: boolean, backward: boolean): BenchCase[] {
  const H = quick ? 2 : 8;
  const D = 64;
  const lengths = quick ? [64, 128] : backward ? [512, 1024, 2048] : [512, 1024, 2048, 4096];
  const cases: BenchCase[] = [];
  for (const L of lengths) {
    for (const causal of [false, true]) {
      let x: Inputs | undefined;
      const flops = (backward ? 3.5 : 1) * 4 * H * L * L * D * (causal ? 0.5 : 1);
      const work = { amount: flops, unit: 'FLOP' };
      const variant = (name: string, fn: Attn) => ({
        name,
        work,
        run: backward
          ? () => forwardBackward(fn, x!, causal)()
          : () => tf.dispose(fn(x!.q, x!.k, x!.v, { causal })),
      });
      const variants = [
        variant('composite (2-D products)', scaledDotProductAttention),
        variant('flashAttention (wasm SIMD)', flashAttention),
      ];
      if (!quick && L <= 1024 && !backward)
        variants.push(variant('naive composite (batched matMul)', naiveAttention));
      cases.push({
        name: `L=${L}${causal ? ' causal' : ''}`,
        params: { L, causal, heads: H, headDim: D },
        samples: L >= 4096 || (backward && L >= 2048) ? 2 : L >= 2048 ? 3 : undefined,
        setup: () => {
          x = makeInputs(H, L, D);
        },
        teardown: () => {
          tf.dispose(x ? [x.q, x.k, x.v] : []);
          x = undefined;
        },
        measure: async () => {
          const xs = x!;
          const f = (fn: Attn) => () => fn(xs.q, xs.k, xs.v, { causal });
          // Peak of what the case times: the forward, or the forward and backward (tf.grads).
          const timed = (fn: Attn) =>
            backward
              ? () =>
                  tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => fn(a, b, c, { causal }))([
                    xs.q,
                    xs.k,
                    xs.v,
                  ])
              : f(fn);
          const ref = f(scaledDotProductAttention)();
          const fl = f(flashAttention)();
          const error = testing.relativeError(fl.dataSync(), ref.dataSync());
          tf.dispose([ref, fl]);
          const result: Record<string, number> = {
            'relativeError:flash': error,
            'peakBytes:composite': await peakBytes(timed(scaledDotProductAttention)),
            'peakBytes:flash': await peakBytes(timed(flashAttention)),
          };
          if (!backward && L <= 2048) result['peakBytes:naive'] = await peakBytes(f(naiveAttention));
          if (!quick && !backward && L === 4096 && causal) {
            // L = 16 384 on one head: the composite would need a 1 GiB score matrix per head; flash streams it.
            const big = makeInputs(1, 16384, D, 2);
            const t0 = performance.now();
            result['peakBytes:flash:L16384H1'] = await peakBytes(() =>
              flashAttention(big.q, big.k, big.v, { causal: true }),
            );
            result['seconds:flash:L16384H1causal'] = (performance.now() - t0) / 1000;
            tf.dispose([big.q, big.k, big.v]);
          }
          return result;
        },
        variants,
      });
    }
  }
  return cases;
}

const flashForward = defineSuite({
  id: 'attention/flash-forward',
  title: 'FlashAttention forward vs the best tfjs composite',
  description:
    'Exact softmax attention at B = 1, H = 8, D = 64: the tiled online-softmax WebAssembly SIMD kernel against the composite on 2-D products (and the textbook batched composite up to L = 1024), with peak memory.',
  cases: ({ quick }) => attentionCases(quick, false),
  charts: [
    {
      title: 'Forward time, non-causal',
      x: 'L',
      y: 'time',
      logX: true,
      logY: true,
      where: { causal: false },
    },
    { title: 'Forward time, causal', x: 'L', y: 'time', logX: true, logY: true, where: { causal: true } },
    { title: 'Peak bytes', x: 'L', y: 'peakBytes', logX: true, logY: true, where: { causal: false } },
  ],
});

const flashBackward = defineSuite({
  id: 'attention/flash-forward-backward',
  title: 'FlashAttention forward + backward vs the best tfjs composite',
  description:
    'tf.grads of attention with respect to q, k and v: FlashAttention-2 backward by recomputation from the logsumexp against the composite whose gradient uses the same 2-D products.',
  cases: ({ quick }) => attentionCases(quick, true),
  charts: [
    { title: 'Forward + backward time', x: 'L', y: 'time', logX: true, logY: true, where: { causal: false } },
  ],
});

const flashThreads = defineSuite({
  id: 'attention/flash-threads',
  title: 'FlashAttention kernels on one thread vs the worker pool',
  description:
    'The same forward (and forward + backward) kernels with their (head, query block) parts run on the calling thread only, then split over every core through one shared WebAssembly memory.',
  cases: ({ quick }) => {
    const L = quick ? 128 : 2048;
    const H = quick ? 2 : 8;
    const cases: BenchCase[] = [];
    for (const backward of [false, true]) {
      let x: Inputs | undefined;
      let threads = 1;
      const run = (limit: number) => () => {
        setFlashThreadLimit(limit);
        if (backward) forwardBackward(flashAttention, x!, false)();
        else tf.dispose(flashAttention(x!.q, x!.k, x!.v));
        setFlashThreadLimit(Number.POSITIVE_INFINITY);
      };
      cases.push({
        name: `L=${L} ${backward ? 'forward + backward' : 'forward'}`,
        params: { L, backward },
        setup: async () => {
          x = makeInputs(H, L, 64);
          if (!threadsUnavailableReason()) threads = await initThreads();
        },
        teardown: async () => {
          tf.dispose(x ? [x.q, x.k, x.v] : []);
          if (threadCount() > 1) await initThreads(1);
        },
        measure: () => ({ threads }),
        variants: [
          { name: 'flashAttention, 1 thread', run: run(1) },
          { name: 'flashAttention, all threads', run: run(Number.POSITIVE_INFINITY) },
        ],
      });
    }
    return cases;
  },
});

const linearScaling = defineSuite({
  id: 'attention/linear-scaling',
  title: 'Causal linear attention vs exact causal attention as L grows',
  description:
    'Chunked causal linear attention (elu+1 features, chunks of 64) against FlashAttention, the fastest exact causal softmax attention here, at H = 2, D = 64: linear attention should cost O(L), flash O(L²).',
  cases: ({ quick }) =>
    (quick ? [128, 256] : [1024, 2048, 4096, 8192]).map((L): BenchCase => {
      let x: Inputs | undefined;
      return {
        name: `L=${L}`,
        params: { L },
        samples: L >= 4096 ? 3 : undefined,
        setup: () => {
          x = makeInputs(2, L, 64, 3);
        },
        teardown: () => tf.dispose(x ? [x.q, x.k, x.v] : []),
        variants: [
          {
            name: 'flashAttention causal (exact)',
            run: () => tf.dispose(flashAttention(x!.q, x!.k, x!.v, { causal: true })),
          },
          {
            name: 'linearAttention causal, chunked',
            run: () => tf.dispose(linearAttention(x!.q, x!.k, x!.v, { causal: true, mode: 'chunked' })),
          },
        ],
      };
    }),
  charts: [{ title: 'Time as L grows', x: 'L', y: 'time', logX: true, logY: true }],
});

const linearModes = defineSuite({
  id: 'attention/linear-causal-modes',
  title: 'Causal linear attention: recurrent vs chunked vs parallel',
  description:
    'The three equal forms of causal linear attention at H = 2, D = 64: the token-by-token recurrence (what a port of the RNN view gives), the chunked form (quadratic inside chunks of 64, state across them) and the masked L × L form.',
  cases: ({ quick }) => {
    const L = quick ? 128 : 4096;
    let x: Inputs | undefined;
    const run = (mode: 'recurrent' | 'chunked' | 'parallel') => () =>
      tf.dispose(linearAttention(x!.q, x!.k, x!.v, { causal: true, mode }));
    return [
      {
        name: `L=${L}`,
        params: { L },
        samples: 2,
        setup: () => {
          x = makeInputs(2, L, 64, 4);
        },
        teardown: () => tf.dispose(x ? [x.q, x.k, x.v] : []),
        measure: () => {
          const out = (mode: 'recurrent' | 'chunked' | 'parallel') =>
            linearAttention(x!.q, x!.k, x!.v, { causal: true, mode });
          // (Against the parallel form: the recurrent one is the slow baseline, already timed.)
          const [c, p] = [out('chunked'), out('parallel')];
          const result = { 'relativeError:chunked-vs-parallel': testing.relativeError(c.dataSync(), p.dataSync()) };
          tf.dispose([c, p]);
          return result;
        },
        variants: [
          { name: 'recurrent', run: run('recurrent') },
          { name: 'chunked (C = 64)', run: run('chunked') },
          { name: 'parallel (masked L × L)', run: run('parallel') },
        ],
      },
    ];
  },
});

export const suites: BenchSuite[] = [flashForward, flashBackward, flashThreads, linearScaling, linearModes];
