/**
 * @lab/tensor's end-to-end kernel: the WebAssembly SIMD matmul op against tf.matMul on the same backend
 * (what a user would call), at square sizes.
 */
import { type BenchCase, type BenchSuite, defineSuite } from '@lab/tooling/bench';
import * as tf from '@tensorflow/tfjs-core';
import { createRng, matmul } from '../src/index.js';

function matmulCase(n: number): BenchCase {
  let a: tf.Tensor;
  let b: tf.Tensor;
  const work = { amount: (2 * n ** 3) / 1e9, unit: 'GFLOP' };
  return {
    name: `${n}×${n}·${n}×${n}`,
    params: { n },
    setup: () => {
      const rng = createRng(n);
      a = rng.normal([n, n]);
      b = rng.normal([n, n]);
    },
    variants: [
      { name: 'tf.matMul', work, run: () => void tf.matMul(a, b).dispose() },
      { name: 'matmul (SIMD kernel)', work, run: () => void matmul(a, b).dispose() },
    ],
    teardown: () => tf.dispose([a, b]),
  };
}

export const suites: BenchSuite[] = [
  defineSuite({
    id: 'tensor/matmul',
    title: 'Matrix product: SIMD kernel vs tf.matMul',
    description:
      "The toolkit's own WebAssembly SIMD matmul (packed 4×8 register blocks, called through defineOp with copies in and out) against tf.matMul on the same backend.",
    cases: ({ quick }) => (quick ? [64, 128] : [128, 256, 512, 1024]).map(matmulCase),
    charts: [{ title: 'matmul throughput', x: 'n', y: 'throughput', logX: true }],
  }),
];
