/**
 * Benchmarks of @lab/conv: dilatedConv2d (dilation 2, 3×3, 64 → 64 channels, 128 × 128) forward and
 * forward + backward, against the undilated convolution of the same size as tfjs runs and trains it.
 *
 * tfjs-backend-wasm registers no Conv2DBackpropFilter, so on wasm tfjs cannot train even an undilated conv2d's
 * filter: there the baseline computes only the input gradient (all tfjs can do), and the fair comparison for
 * the dilation overhead is dilatedConv2d at dilation 1 (same method, both gradients), shown beside it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRng, testing } from '@lab/tensor';
import { type BenchCase, type BenchSuite, defineSuite } from '@lab/tooling/bench';
import { dilatedConv2d } from '../src/index.js';

interface Inputs {
  x: tf.Tensor4D;
  w: tf.Tensor4D;
  dy: tf.Tensor4D;
}

function sizes(quick: boolean, backend: string): { size: number; channels: number } {
  if (quick) return { size: 16, channels: 8 };
  // tfjs-cpu's conv2d runs ~40× slower than XNNPACK and its own conv2d gradient ~15× slower still: a smaller
  // map keeps the full suite within a minute there.
  return backend === 'wasm' ? { size: 128, channels: 64 } : { size: 32, channels: 32 };
}

function makeInputs(size: number, channels: number): Inputs {
  const rng = createRng(1);
  return {
    x: rng.normal([1, size, size, channels]) as tf.Tensor4D,
    w: rng.normal([3, 3, channels, channels], 0, Math.sqrt(2 / (9 * channels))) as tf.Tensor4D,
    dy: rng.normal([1, size, size, channels]) as tf.Tensor4D,
  };
}

/** Work of a 3×3 'same' convolution: 2·H·W·9·Cin·Cout FLOP (the backward is twice that). */
const flops = (size: number, channels: number) => 2 * size * size * 9 * channels * channels;

function cases(kind: 'forward' | 'train', quick: boolean, backend: string): BenchCase[] {
  const { size, channels } = sizes(quick, backend);
  let inputs: Inputs | undefined;
  const work = { amount: (kind === 'train' ? 3 : 1) * flops(size, channels), unit: 'FLOP' };
  const ours = (dilation: number) => () => {
    const { x, w, dy } = inputs!;
    if (kind === 'forward') {
      const y = dilatedConv2d(x, w, { dilation, padding: 'same' });
      y.dataSync();
      y.dispose();
      return;
    }
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(dilatedConv2d(a, b, { dilation, padding: 'same' }), dy)),
    )([x, w]);
    for (const g of grads) g.dataSync();
    tf.dispose(grads);
  };
  const tfjsUndilated = () => {
    const { x, w, dy } = inputs!;
    if (kind === 'forward') {
      const y = tf.conv2d(x, w, 1, 'same');
      y.dataSync();
      y.dispose();
      return;
    }
    const loss = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'), dy));
    const grads =
      backend === 'wasm'
        ? tf.grads((a: tf.Tensor) => loss(a, w))([x]) // no Conv2DBackpropFilter on wasm
        : tf.grads(loss)([x, w]);
    for (const g of grads) g.dataSync();
    tf.dispose(grads);
  };
  const baselineName =
    kind === 'forward'
      ? 'tfjs conv2d, dilation 1'
      : backend === 'wasm'
        ? 'tfjs conv2d, dilation 1, tf.grads (input only: tfjs-wasm has no filter gradient)'
        : 'tfjs conv2d, dilation 1, tf.grads';
  const variants = [
    { name: baselineName, run: tfjsUndilated, work },
    { name: 'dilatedConv2d, dilation 1', run: ours(1), work },
    { name: 'dilatedConv2d, dilation 2', run: ours(2), work },
  ];
  return [
    {
      name: `${size}×${size}, ${channels}→${channels}, 3×3`,
      params: { size, channels, kernel: 3, dilation: 2 },
      samples: quick ? 3 : 5,
      variants,
      setup: () => {
        inputs = makeInputs(size, channels);
      },
      teardown: () => {
        tf.dispose(inputs ? [inputs.x, inputs.w, inputs.dy] : []);
        inputs = undefined;
      },
      measure: async () => {
        const { x, w, dy } = inputs!;
        const out: Record<string, number> = {};
        // Error against the composite reference (undilated conv with the zero-inserted filter, tfjs autodiff).
        if (kind === 'forward') {
          const a = dilatedConv2d(x, w, { dilation: 2, padding: 'same' });
          const b = dilatedConv2d(x, w, { dilation: 2, padding: 'same', impl: 'composite' });
          out['error:forward vs zero-inserted filter'] = testing.relativeError(a.dataSync(), b.dataSync());
          tf.dispose([a, b]);
        } else {
          const dx = (impl: 'auto' | 'composite') =>
            tf.grad((a: tf.Tensor) =>
              tf.sum(tf.mul(dilatedConv2d(a, w, { dilation: 2, padding: 'same', impl }), dy)),
            )(x);
          const [a, b] = [dx('auto'), dx('composite')];
          out['error:dx vs zero-inserted filter'] = testing.relativeError(a.dataSync(), b.dataSync());
          tf.dispose([a, b]);
        }
        const profile = await tf.profile(() => {
          ours(2)();
          return [];
        });
        out['peakBytes:dilatedConv2d d=2'] = profile.peakBytes;
        return out;
      },
    },
  ];
}

/** Forward time against dilation: the zero-inserted filter grows as ((k − 1)·d + 1)², dilatedConv2d does not. */
function sweepCases(quick: boolean): BenchCase[] {
  const size = quick ? 16 : 64;
  const channels = quick ? 8 : 32;
  const dilations = quick ? [1, 2] : [1, 2, 4, 8];
  return dilations.map((dilation) => {
    let inputs: Inputs | undefined;
    const run = (impl: 'auto' | 'composite') => () => {
      const y = dilatedConv2d(inputs!.x, inputs!.w, { dilation, padding: 'same', impl });
      y.dataSync();
      y.dispose();
    };
    return {
      name: `dilation ${dilation}`,
      params: { dilation, size, channels },
      samples: quick ? 3 : 5,
      variants: [
        { name: 'undilated conv2d with the zero-inserted filter', run: run('composite') },
        { name: 'dilatedConv2d', run: run('auto') },
      ],
      setup: () => {
        inputs = makeInputs(size, channels);
      },
      teardown: () => {
        tf.dispose(inputs ? [inputs.x, inputs.w, inputs.dy] : []);
        inputs = undefined;
      },
    };
  });
}

export const suites: BenchSuite[] = [
  defineSuite({
    id: 'conv/dilated-forward',
    title: 'Dilated convolution, forward',
    description:
      'dilatedConv2d at dilation 2 (3×3, 64→64 channels, 128×128) against the undilated tfjs conv2d of the same size: dilation should cost no more than the plain convolution.',
    cases: ({ quick, backend }) => cases('forward', quick, backend),
  }),
  defineSuite({
    id: 'conv/dilated-train',
    title: 'Dilated convolution, forward + backward',
    description:
      'Forward and both gradients of dilatedConv2d at dilation 2 (tfjs rejects dilated gradients) against the undilated conv2d trained by tfjs; on wasm tfjs has no filter gradient at all, so dilatedConv2d at dilation 1 is the like-for-like reference.',
    cases: ({ quick, backend }) => cases('train', quick, backend),
  }),
  defineSuite({
    id: 'conv/dilation-sweep',
    title: 'Dilated convolution, forward time against dilation',
    description:
      'dilatedConv2d (3×3, 32→32 channels, 64×64) at dilations 1–8 against the undilated convolution with the explicitly zero-inserted filter, whose cost grows as ((k − 1)·d + 1)².',
    cases: ({ quick }) => sweepCases(quick),
    charts: [{ title: 'Forward time against dilation', x: 'dilation', y: 'time', logY: true }],
  }),
];
