/**
 * Benchmarks of @lab/ssm: the fused selective scan (WebAssembly SIMD, sequential in L, vectorised over
 * the state) against mamba's selective_scan_ref written in tfjs ops, forward and forward + backward, on one
 * thread and on the worker pool; Mamba decoding (step) against a full forward; S4D convolution mode (FFT)
 * against recurrent mode as L grows; the S4 NPLR kernel, composite against fused.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRng, initThreads, setForceKernelFallback, testing, threadsUnavailableReason } from '@lab/tensor';
import { type BenchCase, type BenchSuite, defineSuite } from '@lab/tooling/bench';
import { MixerModel, S4, S4D, type S4KernelParams, s4Kernel, selectiveScan, selectiveScanChunked } from '../src/index.js';
import { setScanThreadLimit } from '../src/kernels/scan.js';

interface ScanInputs {
  u: tf.Tensor;
  delta: tf.Tensor;
  A: tf.Tensor;
  B: tf.Tensor;
  C: tf.Tensor;
  D: tf.Tensor;
  z: tf.Tensor;
  deltaBias: tf.Tensor;
  /** softplus(delta + deltaBias): the Δ the scan sees, for the scan-only variant. */
  deltaPos: tf.Tensor;
}

function scanInputs(batch: number, dim: number, N: number, L: number): ScanInputs {
  const rng = createRng(1);
  return tf.tidy(() => {
    const delta = tf.sub(tf.mul(rng.normal([batch, dim, L]), 0.5), 2);
    const deltaBias = tf.mul(rng.normal([dim]), 0.1);
    return {
      u: rng.normal([batch, dim, L]),
      delta,
      A: tf.neg(tf.exp(tf.mul(rng.uniform([dim, N]), Math.log(N)))),
      B: rng.normal([batch, N, L]),
      C: rng.normal([batch, N, L]),
      D: rng.normal([dim]),
      z: rng.normal([batch, dim, L]),
      deltaBias,
      deltaPos: tf.softplus(tf.add(delta, tf.reshape(deltaBias, [dim, 1]))),
    };
  });
}

type Impl = 'fused' | 'composite';
const scan = (x: ScanInputs, impl: Impl) =>
  selectiveScan(x.u, x.delta, x.A, x.B, x.C, { D: x.D, z: x.z, deltaBias: x.deltaBias, deltaSoftplus: true, impl });

const scanBackward = (x: ScanInputs, impl: Impl) => {
  const grads = tf.grads((u: tf.Tensor, delta: tf.Tensor, A: tf.Tensor, B: tf.Tensor, C: tf.Tensor) =>
    selectiveScan(u, delta, A, B, C, { D: x.D, z: x.z, deltaBias: x.deltaBias, deltaSoftplus: true, impl }),
  )([x.u, x.delta, x.A, x.B, x.C]);
  tf.dispose(grads);
};

/** A scan case: Bt, D, N, L; the work unit is one (batch, channel, step, state) update. */
function scanCase(
  batch: number,
  dim: number,
  N: number,
  L: number,
  backward: boolean,
  variants: ('composite' | 'chunked' | 'fused' | 'fallback' | 'bare')[],
  samples?: number,
): BenchCase {
  let x: ScanInputs | undefined;
  const work = { amount: batch * dim * N * L, unit: 'state updates' };
  const label = {
    composite: 'selective_scan_ref (tfjs composite)',
    chunked: 'chunked parallel form (tfjs, T = 16)',
    fused: 'fused (wasm SIMD)',
    fallback: 'fused (TS fallback)',
    bare: 'fused, scan only (Δ given; no D, z)',
  };
  return {
    name: `Bt=${batch} D=${dim} N=${N} L=${L}`,
    params: { batch, dim, N, L },
    samples,
    setup: () => {
      x = scanInputs(batch, dim, N, L);
    },
    teardown: () => {
      tf.dispose(x ? Object.values(x) : []);
      x = undefined;
    },
    variants: variants.map((v) => ({
      name: label[v],
      work,
      run: () => {
        if (v === 'chunked') {
          const o = { D: x!.D, z: x!.z, deltaBias: x!.deltaBias, deltaSoftplus: true, chunkSize: 16 };
          if (backward) {
            const grads = tf.grads((u: tf.Tensor, delta: tf.Tensor, A: tf.Tensor, B: tf.Tensor, C: tf.Tensor) =>
              selectiveScanChunked(u, delta, A, B, C, o) as tf.Tensor,
            )([x!.u, x!.delta, x!.A, x!.B, x!.C]);
            tf.dispose(grads);
          } else tf.dispose(selectiveScanChunked(x!.u, x!.delta, x!.A, x!.B, x!.C, o) as tf.Tensor);
          return;
        }
        if (v === 'bare') {
          // The scan's state updates alone: Δ already through softplus, no skip, no gate.
          tf.dispose(selectiveScan(x!.u, x!.deltaPos, x!.A, x!.B, x!.C, { impl: 'fused' }));
          return;
        }
        const impl: Impl = v === 'composite' ? 'composite' : 'fused';
        setForceKernelFallback(v === 'fallback');
        try {
          if (backward) scanBackward(x!, impl);
          else tf.dispose(scan(x!, impl));
        } finally {
          setForceKernelFallback(false);
        }
      },
    })),
    measure: (): Record<string, number> => {
      if (!variants.includes('composite')) return {};
      const a = scan(x!, 'fused');
      const b = scan(x!, 'composite');
      const error = testing.relativeError(a.dataSync(), b.dataSync());
      tf.dispose([a, b]);
      return { 'error:fused-vs-composite': error };
    },
  };
}

const scanForward = defineSuite({
  id: 'ssm/selective-scan-forward',
  title: 'Selective scan forward: fused SIMD kernel vs selective_scan_ref in tfjs ops',
  description:
    "Mamba's selective scan (input-dependent B and C, D, z gate, softplus Δ) as the tfjs composite of selective_scan_ref against the fused WebAssembly SIMD kernel (one thread) and its TypeScript fallback. Throughput in (batch, channel, step, state) updates per second. At the issue's size the fused op is also run as the scan alone (Δ given, no D or z), which counts only the state updates the work unit names.",
  cases: ({ quick }) =>
    quick
      ? [scanCase(1, 32, 16, 64, false, ['composite', 'chunked', 'fused', 'fallback'])]
      : [
          scanCase(2, 128, 16, 128, false, ['composite', 'chunked', 'fused', 'fallback'], 3),
          // The size: the composite takes minutes per call on this machine (over the suite's budget),
          // so the fused kernel alone; the ratio is measured on the case above.
          scanCase(2, 512, 16, 1024, false, ['fused', 'bare'], 5),
        ],
  charts: [{ title: 'Selective scan forward throughput', x: 'L', y: 'throughput' }],
});

const scanBackwardSuite = defineSuite({
  id: 'ssm/selective-scan-backward',
  title: 'Selective scan forward + backward: fused reverse-scan kernel vs tfjs autodiff of selective_scan_ref',
  description:
    'Gradients of the scan with respect to u, Δ, A, B and C: tfjs differentiating the composite (a tape of L steps) against the fused forward and the fused backward kernel (states recomputed, adjoint scan in reverse).',
  cases: ({ quick }) =>
    quick
      ? [scanCase(1, 32, 16, 64, true, ['composite', 'chunked', 'fused'])]
      : [
          scanCase(2, 128, 16, 128, true, ['composite', 'chunked', 'fused'], 3),
          // At the size tfjs autodiff of the composite (a tape of 1024 steps) takes minutes on this
          // machine: the fused path alone, its throughput compared with the case above.
          scanCase(2, 512, 16, 1024, true, ['fused'], 3),
        ],
});

const scanThreads = defineSuite({
  id: 'ssm/selective-scan-threads',
  title: 'Selective scan on the worker pool',
  description:
    'The fused forward and backward kernels split over (batch × channel-block) parts on the worker pool, against the same kernels on one thread (baseline).',
  cases: ({ quick }) => {
    const reason = threadsUnavailableReason();
    if (reason) return [];
    const [batch, dim, N, L] = quick ? [1, 64, 16, 64] : [2, 512, 16, 1024];
    return [false, true].map((backward): BenchCase => {
      let x: ScanInputs | undefined;
      const work = { amount: batch * dim * N * L, unit: 'state updates' };
      const run = (limit: number) => () => {
        setScanThreadLimit(limit);
        try {
          if (backward) scanBackward(x!, 'fused');
          else tf.dispose(scan(x!, 'fused'));
        } finally {
          setScanThreadLimit(0);
        }
      };
      return {
        name: `${backward ? 'forward + backward' : 'forward'} Bt=${batch} D=${dim} L=${L}`,
        params: { backward, L },
        setup: async () => {
          await initThreads();
          x = scanInputs(batch, dim, N, L);
        },
        teardown: async () => {
          tf.dispose(x ? Object.values(x) : []);
          x = undefined;
          await initThreads(1);
        },
        variants: [
          { name: 'fused, 1 thread', work, run: run(1) },
          { name: 'fused, worker pool', work, run: run(0) },
        ],
      };
    });
  },
});

const mambaDecode = defineSuite({
  id: 'ssm/mamba-decode',
  title: 'Mamba stack: step() decoding vs a full forward',
  description:
    'A 4-layer dModel = 256 Mamba stack (MixerModel shape): L tokens decoded one step() at a time (constant work per token, the generation path) with tfjs ops (baseline) and on host arrays with SIMD matmuls, against one forward pass over the L tokens (the training / prompt path). Work unit: tokens.',
  cases: ({ quick }) => {
    const dModel = quick ? 64 : 256;
    const nLayer = quick ? 2 : 4;
    const lengths = quick ? [8] : [16, 32];
    return lengths.map((L): BenchCase => {
      let model: MixerModel | undefined;
      let x: tf.Tensor | undefined;
      const work = { amount: L, unit: 'tokens' };
      const decode = (impl: 'fused' | 'composite') => {
        let state = model!.initState(1);
        for (let t = 0; t < L; t++) {
          const xt = tf.slice(x!, [0, t, 0], [-1, 1, -1]);
          const r = model!.step(xt, state, { impl });
          for (const s of state) tf.dispose([s.convState, s.ssmState]);
          tf.dispose([xt, r.hidden]);
          state = r.state;
        }
        for (const s of state) tf.dispose([s.convState, s.ssmState]);
      };
      return {
        name: `dModel=${dModel} layers=${nLayer} L=${L}`,
        params: { L, dModel, nLayer },
        samples: 3,
        setup: () => {
          model = MixerModel.create({ dModel, nLayer }, createRng(2));
          x = createRng(3).normal([1, L, dModel]);
        },
        teardown: () => {
          model?.dispose();
          x?.dispose();
        },
        variants: [
          { name: `${L} × step() (tfjs ops)`, work, run: () => decode('composite') },
          { name: `${L} × step() (host arrays, SIMD matmuls)`, work, run: () => decode('fused') },
          { name: 'forward (L tokens at once)', work, run: () => tf.dispose(model!.forward(x!)) },
        ],
      };
    });
  },
});

const s4dModes = defineSuite({
  id: 'ssm/s4d-modes',
  title: 'S4D layer: recurrent mode vs convolution mode (FFT) as L grows',
  description:
    'An S4D layer (H = 64, N = 64) over L steps: the recurrence step by step (baseline, O(L) sequential tfjs ops) against the convolution mode (S4D kernel + our FFT causal convolution, O(L log L)).',
  cases: ({ quick }) => {
    const H = quick ? 8 : 64;
    const lengths = quick ? [32, 64] : [64, 256, 1024, 4096];
    return lengths.map((L): BenchCase => {
      let layer: S4D | undefined;
      let u: tf.Tensor | undefined;
      const work = { amount: L, unit: 'steps' };
      return {
        name: `H=${H} L=${L}`,
        params: { L, H },
        samples: L >= 1024 ? 3 : undefined,
        setup: () => {
          layer = S4D.create({ dModel: H, dState: 64 }, createRng(4));
          u = createRng(5).normal([1, H, L]);
        },
        teardown: () => {
          layer?.dispose();
          u?.dispose();
        },
        variants: [
          { name: 'recurrent mode', work, run: () => tf.dispose(layer!.forward(u!, { mode: 'recurrent' })) },
          { name: 'convolution mode (FFT)', work, run: () => tf.dispose(layer!.forward(u!, { mode: 'conv' })) },
        ],
        measure: () => {
          const a = layer!.forward(u!, { mode: 'conv' });
          const b = layer!.forward(u!, { mode: 'recurrent' });
          const error = testing.relativeError(a.dataSync(), b.dataSync());
          tf.dispose([a, b]);
          return { 'error:conv-vs-recurrent': error };
        },
      };
    });
  },
  charts: [{ title: 'S4D time vs L', x: 'L', y: 'time', logX: true, logY: true }],
});

const s4KernelSuite = defineSuite({
  id: 'ssm/s4-kernel',
  title: 'S4 (NPLR) kernel: tfjs composite vs the fused host kernel, forward and forward + backward',
  description:
    "The S4 convolution kernel K [H, L] from its trainable NPLR parameters (Cauchy sums at the roots of unity, Woodbury correction, inverse FFT; Gu et al. 2022, Algorithm 1) at the LegS initialisation: real-valued tfjs ops differentiated by tfjs (baseline) against the fused float64 host kernel with its hand-derived gradient. Work unit: kernel values (H·L).",
  cases: ({ quick }) => {
    const [H, N] = quick ? [4, 16] : [64, 64];
    const lengths = quick ? [64] : [256, 1024];
    return lengths.flatMap((L) =>
      [false, true].map((backward): BenchCase => {
        let layer: S4 | undefined;
        const params = (): S4KernelParams => ({
          logDt: layer!.logDt,
          logLambdaReal: layer!.logLambdaReal,
          LambdaImag: layer!.LambdaImag,
          P: layer!.P,
          B: layer!.B,
          C: layer!.C,
        });
        const run = (impl: 'fused' | 'composite') => () => {
          if (!backward) {
            tf.dispose(s4Kernel(params(), L, { impl }));
            return;
          }
          const p = params();
          const names = ['logDt', 'logLambdaReal', 'LambdaImag', 'P', 'B', 'C'] as const;
          const grads = tf.grads((...xs: tf.Tensor[]) => {
            const q = Object.fromEntries(names.map((n, i) => [n, xs[i]!])) as unknown as S4KernelParams;
            return tf.sum(tf.square(s4Kernel(q, L, { impl })));
          })(names.map((n) => p[n]));
          tf.dispose(grads);
        };
        const work = { amount: H * L, unit: 'kernel values' };
        return {
          name: `${backward ? 'forward + backward' : 'forward'} H=${H} N=${N} L=${L}`,
          params: { L, backward },
          samples: quick ? 3 : 5,
          setup: () => {
            layer = S4.create({ dModel: H, dState: N, lMax: L }, createRng(6));
          },
          teardown: () => {
            layer?.dispose();
            layer = undefined;
          },
          variants: [
            { name: 'composite (tfjs ops)', work, run: run('composite') },
            { name: 'fused (float64 host kernel)', work, run: run('fused') },
          ],
          measure: (): Record<string, number> => {
            if (backward) return {};
            const a = s4Kernel(params(), L, { impl: 'fused' });
            const b = s4Kernel(params(), L, { impl: 'composite' });
            const error = testing.relativeError(b.dataSync(), a.dataSync());
            tf.dispose([a, b]);
            return { 'error:composite-vs-fused': error };
          },
        };
      }),
    );
  },
});

export const suites: BenchSuite[] = [scanForward, scanBackwardSuite, scanThreads, mambaDecode, s4dModes, s4KernelSuite];
