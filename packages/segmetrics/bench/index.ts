/**
 * Bench suites of @lab/segmetrics: the confusion matrix of Cityscapes-sized label maps (8 × 1024 × 2048, 19
 * classes, 255 ignored) with the WebAssembly SIMD histogram kernel, against the tfjs composite a user would
 * write (FCN's fast_hist as `tf.denseBincount(target · C + pred)`) and plain JavaScript loops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BenchCase, type BenchSuite, defineSuite } from '@lab/tooling/bench';
import { initThreads, threadCount } from '@lab/tensor';
import {
  boundaryIoU,
  boundaryWidth,
  confusionMatrix,
  confusionMatrixTfjs,
  syntheticScene,
} from '../src/index.js';
import { segmetricsKernels } from '../src/kernels/module.js';

const C = 19;
const IGNORE = 255;

/** FCN's fast_hist as a plain loop: one histogram, the ignore test per pixel. */
function plainLoop(pred: Uint8Array, target: Uint8Array): Float64Array {
  const h = new Float64Array(C * C);
  for (let i = 0; i < target.length; i++) {
    const t = target[i]!;
    if (t !== IGNORE) h[t * C + pred[i]!]! += 1;
  }
  return h;
}

/** The same loop with four interleaved histograms (no store-to-load chain on runs of one bin). */
function interleavedLoop(pred: Uint8Array, target: Uint8Array): Float64Array {
  const size = C * C;
  const h = new Float64Array(4 * size);
  const n = target.length & ~3;
  for (let i = 0; i < n; i += 4) {
    const t0 = target[i]!;
    const t1 = target[i + 1]!;
    const t2 = target[i + 2]!;
    const t3 = target[i + 3]!;
    if (t0 !== IGNORE) h[t0 * C + pred[i]!]! += 1;
    if (t1 !== IGNORE) h[size + t1 * C + pred[i + 1]!]! += 1;
    if (t2 !== IGNORE) h[2 * size + t2 * C + pred[i + 2]!]! += 1;
    if (t3 !== IGNORE) h[3 * size + t3 * C + pred[i + 3]!]! += 1;
  }
  for (let i = n; i < target.length; i++) if (target[i] !== IGNORE) h[target[i]! * C + pred[i]!]! += 1;
  const out = new Float64Array(size);
  for (let k = 0; k < 4; k++) for (let b = 0; b < size; b++) out[b]! += h[k * size + b]!;
  return out;
}

function maxDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function confusionCases(quick: boolean): BenchCase[] {
  const sizes = quick
    ? [{ batch: 1, height: 128, width: 256 }]
    : [
        { batch: 1, height: 512, width: 1024 },
        { batch: 8, height: 1024, width: 2048 },
      ];
  const cases: BenchCase[] = [];
  for (const size of sizes) {
    for (const threads of quick ? [1] : [1, 2]) {
      const pixels = size.batch * size.height * size.width;
      const work = { amount: pixels, unit: 'pixel' };
      let scene: { target: Uint8Array; pred: Uint8Array } | undefined;
      let tensors: { t: tf.Tensor; p: tf.Tensor } | undefined;
      const shape = [size.batch, size.height, size.width];
      const get = () => scene!;
      cases.push({
        name: `${size.batch}×${size.height}×${size.width} u8, ${threads} thread${threads > 1 ? 's' : ''}`,
        params: { pixels, batch: size.batch, height: size.height, width: size.width, threads },
        samples: quick ? 3 : 5,
        setup: async () => {
          if (threads > 1) await initThreads(threads);
          scene = syntheticScene({ ...size, numClasses: C, ignoreIndex: IGNORE, seed: 11 });
          tensors = { t: tf.tensor(scene.target, shape, 'int32'), p: tf.tensor(scene.pred, shape, 'int32') };
        },
        teardown: async () => {
          tf.dispose([tensors!.t, tensors!.p]);
          tensors = undefined;
          scene = undefined;
          if (threads > 1) await initThreads(1);
        },
        variants: [
          {
            name: 'tfjs composite (denseBincount of target·C + pred)',
            run: () =>
              void confusionMatrixTfjs(tensors!.p, tensors!.t, { numClasses: C, ignoreIndex: IGNORE }),
            work,
          },
          { name: 'plain JS loop', run: () => void plainLoop(get().pred, get().target), work },
          {
            name: 'JS loop, 4 interleaved histograms',
            run: () => void interleavedLoop(get().pred, get().target),
            work,
          },
          {
            name: `confusionMatrix (wasm SIMD, ${threads} thread${threads > 1 ? 's' : ''})`,
            run: () => void confusionMatrix(get().pred, get().target, { numClasses: C, ignoreIndex: IGNORE }),
            work,
          },
          {
            name: 'confusionMatrix on int32 tensors',
            run: () => void confusionMatrix(tensors!.p, tensors!.t, { numClasses: C, ignoreIndex: IGNORE }),
            work,
          },
        ],
        measure: async () => {
          const { target, pred } = get();
          const reference = plainLoop(pred, target);
          const ours = confusionMatrix(pred, target, { numClasses: C, ignoreIndex: IGNORE });
          segmetricsKernels.resetPeak();
          confusionMatrix(pred, target, { numClasses: C, ignoreIndex: IGNORE });
          const peakOurs = segmetricsKernels.peakBytes;
          const profile = await tf.profile(() => {
            confusionMatrixTfjs(tensors!.p, tensors!.t, { numClasses: C, ignoreIndex: IGNORE });
          });
          return {
            'maxAbsError:confusionMatrix': maxDiff(ours, reference),
            'maxAbsError:tfjs': maxDiff(
              confusionMatrixTfjs(tensors!.p, tensors!.t, { numClasses: C, ignoreIndex: IGNORE }),
              reference,
            ),
            'peakBytes:tfjs': profile.peakBytes,
            'peakBytes:confusionMatrix': peakOurs,
            threads: threadCount(),
          };
        },
      });
    }
  }
  return cases;
}

function logitsCases(quick: boolean): BenchCase[] {
  const size = quick ? { batch: 1, height: 64, width: 128 } : { batch: 2, height: 256, width: 512 };
  const shape = [size.batch, size.height, size.width];
  const pixels = shape[0]! * shape[1]! * shape[2]!;
  let logits: tf.Tensor | undefined;
  let target: tf.Tensor | undefined;
  const work = { amount: pixels, unit: 'pixel' };
  return [
    {
      name: `logits ${shape.join('×')}×${C}`,
      params: { pixels },
      samples: quick ? 3 : 5,
      setup: () => {
        const scene = syntheticScene({ ...size, numClasses: C, ignoreIndex: IGNORE, seed: 12 });
        target = tf.tensor(scene.target, shape, 'int32');
        logits = tf.tidy(() =>
          tf.add(
            tf.oneHot(tf.tensor(scene.pred, shape, 'int32'), C),
            tf.randomUniform([...shape, C], 0, 0.5),
          ),
        );
      },
      teardown: () => {
        tf.dispose([logits!, target!]);
      },
      variants: [
        {
          name: 'tfjs composite (argMax, then denseBincount)',
          run: () => {
            const pred = tf.argMax(logits!, -1);
            confusionMatrixTfjs(pred, target!, { numClasses: C, ignoreIndex: IGNORE });
            pred.dispose();
          },
          work,
        },
        {
          name: 'confusionMatrix fromLogits (argmax inside the kernel)',
          run: () =>
            void confusionMatrix(logits!, target!, { numClasses: C, ignoreIndex: IGNORE, fromLogits: true }),
          work,
        },
      ],
    },
  ];
}

/**
 * Boundary IoU the way the reference computes it (boundary_iou's mask_to_boundary, ported): per class, a
 * 1-pixel zero border and d erosions with a 3 × 3 kernel (separable: a 3-tap row minimum, then a column one).
 */
function boundaryIoUByErosion(
  pred: Uint8Array,
  target: Uint8Array,
  h: number,
  w: number,
  d: number,
): number[] {
  const W = w + 2;
  const H = h + 2;
  const band = (labels: Uint8Array, c: number): Uint8Array => {
    let cur = new Uint8Array(H * W);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) cur[(y + 1) * W + x + 1] = labels[y * w + x] === c ? 1 : 0;
    const tmp = new Uint8Array(H * W);
    for (let it = 0; it < d; it++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const i = y * W + x;
          tmp[i] = cur[i]! & (x > 0 ? cur[i - 1]! : 1) & (x < W - 1 ? cur[i + 1]! : 1);
        }
      }
      const next = new Uint8Array(H * W);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const i = y * W + x;
          next[i] = tmp[i]! & (y > 0 ? tmp[i - W]! : 1) & (y < H - 1 ? tmp[i + W]! : 1);
        }
      }
      cur = next;
    }
    const out = new Uint8Array(h * w);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++)
        out[y * w + x] = (labels[y * w + x] === c ? 1 : 0) & (1 - cur[(y + 1) * W + x + 1]!);
    }
    return out;
  };
  const iou: number[] = [];
  for (let c = 0; c < C; c++) {
    const g = band(target, c);
    const p = band(pred, c);
    let inter = 0;
    let union = 0;
    for (let i = 0; i < h * w; i++) {
      if (target[i] === IGNORE) continue;
      inter += g[i]! & p[i]!;
      union += g[i]! | p[i]!;
    }
    iou.push(union > 0 ? inter / union : Number.NaN);
  }
  return iou;
}

function boundaryCases(quick: boolean): BenchCase[] {
  const size = quick ? { height: 64, width: 128 } : { height: 256, width: 512 };
  const pixels = size.height * size.width;
  const d = boundaryWidth(size.height, size.width);
  let scene: { target: Uint8Array; pred: Uint8Array } | undefined;
  const work = { amount: pixels, unit: 'pixel' };
  const options = { numClasses: C, ignoreIndex: IGNORE, shape: [size.height, size.width] };
  return [
    {
      name: `${size.height}×${size.width}, d = ${d}`,
      params: { pixels, d },
      samples: quick ? 3 : 5,
      setup: () => {
        scene = syntheticScene({ batch: 1, ...size, numClasses: C, ignoreIndex: IGNORE, seed: 13 });
      },
      teardown: () => {
        scene = undefined;
      },
      variants: [
        {
          name: 'per-class erosion (boundary_iou mask_to_boundary, ported)',
          run: () => void boundaryIoUByErosion(scene!.pred, scene!.target, size.height, size.width, d),
          work,
        },
        {
          name: 'boundaryIoU (all classes at once, run lengths)',
          run: () => void boundaryIoU(scene!.pred, scene!.target, options),
          work,
        },
      ],
      measure: () => {
        const ref = boundaryIoUByErosion(scene!.pred, scene!.target, size.height, size.width, d);
        const ours = boundaryIoU(scene!.pred, scene!.target, options).iou;
        let err = 0;
        ref.forEach((v, c) => {
          if (!(Number.isNaN(v) && Number.isNaN(ours[c]!))) err = Math.max(err, Math.abs(v - ours[c]!));
        });
        return { 'maxAbsError:boundaryIoU': err };
      },
    },
  ];
}

export const suites: BenchSuite[] = [
  defineSuite({
    id: 'segmetrics/confusion-matrix',
    title: 'Confusion matrix of Cityscapes-sized label maps',
    description:
      'Pixels per second counting a 19-class confusion matrix (255 ignored) over synthetic street scenes: the WebAssembly SIMD histogram kernel (one pass, interleaved histograms, run detection) against the tfjs denseBincount composite a user would write and plain JavaScript loops.',
    cases: ({ quick }) => confusionCases(quick),
    charts: [
      { title: 'Throughput (pixels/s)', x: 'pixels', y: 'throughput', logX: true, where: { threads: 1 } },
    ],
  }),
  defineSuite({
    id: 'segmetrics/confusion-logits',
    title: 'Confusion matrix from logits',
    description:
      'Counting straight from logits [N, H, W, 19] with the argmax inside the kernel, against tf.argMax then denseBincount.',
    cases: ({ quick }) => logitsCases(quick),
  }),
  defineSuite({
    id: 'segmetrics/boundary-iou',
    title: 'Boundary IoU',
    description:
      'Boundary IoU (Cheng et al. 2021) of a 19-class scene: the reference algorithm (per class, d erosions of the mask) against boundaryIoU, which finds the bands of all classes at once from run lengths, whatever d.',
    cases: ({ quick }) => boundaryCases(quick),
  }),
];
