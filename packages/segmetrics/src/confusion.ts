/**
 * The confusion matrix of semantic segmentation (Long et al. 2015, FCN §5: n_ij = pixels of class i predicted
 * as class j): rows = target, columns = prediction, counted in one pass over the label maps.
 *
 * Inputs: label maps `pred`, `target` of any shape [...dims] (typically [batch, height, width]), as tensors,
 * typed arrays or number[]; or `pred` as logits [...dims, numClasses] with `fromLogits` (argmax inside the
 * kernel). Tensors are read once (on cpu and wasm, straight from the backend's buffer) and never expanded to
 * one-hot; on other backends the composite (tfjs ops, `tf.denseBincount`) runs on the device.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  argumentMessage,
  assertInteger,
  assertKnownOptions,
  assertOneOf,
  formatShape,
  ShapeError,
  ValueError,
} from '@lab/tensor';
import { histogramComposite, histogramLogitsComposite } from './composite.js';
import { type HistogramSpec, histogramHost, histogramLogitsHost, ignoreMode } from './kernels/histogram.js';
import {
  checkShapeOption,
  type HostLabels,
  type LabelInput,
  readLabels,
  throwFirstBadLabel,
} from './inputs.js';

export interface ConfusionMatrixOptions {
  /** Number of classes C; labels are class indices in [0, C). */
  numClasses: number;
  /**
   * Target label whose pixels are left out (255 in Cityscapes and ADE20K as mmseg loads them; default: none,
   * as torchmetrics). Any integer; inside [0, C) it removes that class's target pixels, as torchmetrics does.
   * A prediction equal to an ignoreIndex outside [0, C) at a labelled pixel is a miss (see `unpredicted`).
   */
  ignoreIndex?: number;
  /** `pred` holds logits (or probabilities) [...dims, numClasses]; the class is the first argmax (default false). */
  fromLogits?: boolean;
  /** Shape of array inputs (for positions in error messages and per-image splitting); default [length]. */
  shape?: number[];
}

/** All the counts of one comparison of label maps. */
export interface ConfusionCounts {
  numClasses: number;
  /** [C * C] row-major: confusionMatrix[i * C + j] = pixels with target i predicted j. */
  confusionMatrix: Float64Array;
  /**
   * [C]: pixels with target class c where the prediction holds ignoreIndex (a model that abstains). They count
   * as misses (in the class's support, recall and IoU), as mmseg's area-based formulas count them.
   */
  unpredicted: Float64Array;
  /** Pixels whose target is ignoreIndex. */
  ignored: number;
  /** Shape of the target label map. */
  shape: number[];
}

export const CONFUSION_OPTION_KEYS = ['numClasses', 'ignoreIndex', 'fromLogits', 'shape'] as const;

/**
 * Most classes supported: the kernels keep (C + 2)² u32 bins × 4 interleaved copies per thread (16 MB at
 * C = 1024), far beyond any semantic segmentation benchmark (ADE20K 150, COCO-Stuff 171, Mapillary 124).
 */
export const MAX_CLASSES = 1024;

/** Validates numClasses and ignoreIndex (shared by every entry point). */
export function checkClassOptions(fn: string, numClasses: unknown, ignoreIndex: unknown): void {
  assertInteger(fn, 'numClasses', numClasses, 1, MAX_CLASSES);
  if (ignoreIndex !== undefined && ignoreIndex !== null) {
    assertInteger(fn, 'ignoreIndex', ignoreIndex, -(2 ** 31), 2 ** 31 - 1);
  }
}

function isFusedBackend(): boolean {
  const backend = tf.getBackend();
  return backend === 'cpu' || backend === 'wasm';
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Checks the shapes of pred and target (labels: same shape; logits: [...target shape, C]) and returns the
 * target's shape.
 */
function checkShapes(
  fn: string,
  pred: unknown,
  target: unknown,
  predLength: number,
  targetLength: number,
  options: { numClasses: number; fromLogits: boolean; shape: number[] | undefined },
): void {
  const { numClasses: C, fromLogits } = options;
  const pt = pred instanceof tf.Tensor ? pred.shape : undefined;
  const tt = target instanceof tf.Tensor ? target.shape : undefined;
  if (!fromLogits) {
    if (pt && tt && !sameShape(pt, tt)) {
      throw new ShapeError(
        `${fn}: pred and target must have the same shape, got pred ${formatShape(pt)} and target ${formatShape(tt)}` +
          (pt.length === tt.length + 1 && pt[pt.length - 1] === C
            ? '; for logits pass { fromLogits: true }'
            : ''),
      );
    }
    if (predLength !== targetLength) {
      throw new ShapeError(
        `${fn}: pred and target must have the same number of pixels, got ${predLength} and ${targetLength}` +
          (predLength === targetLength * C ? '; for logits [..., numClasses] pass { fromLogits: true }' : ''),
      );
    }
    return;
  }
  if (pt && tt && !(sameShape(pt.slice(0, -1), tt) && pt[pt.length - 1] === C)) {
    throw new ShapeError(
      argumentMessage(
        fn,
        'pred',
        `logits of shape ${formatShape([...tt, C])} [...target shape, numClasses]`,
        `shape ${formatShape(pt)}`,
      ),
    );
  }
  if (pt && pt[pt.length - 1] !== C) {
    throw new ShapeError(
      argumentMessage(
        fn,
        'pred',
        `logits with a last dimension of numClasses = ${C}`,
        `shape ${formatShape(pt)}`,
      ),
    );
  }
  if (predLength !== targetLength * C) {
    throw new ShapeError(
      `${fn}: pred logits must hold numClasses (${C}) values per target pixel, got ${predLength} values for ${targetLength} pixels`,
    );
  }
}

/** Splits an S × S code histogram into the public counts (bad labels must have been ruled out). */
export function countsFromHistogram(
  hist: Float64Array,
  numClasses: number,
  shape: number[],
): ConfusionCounts {
  const C = numClasses;
  const S = C + 2;
  const confusionMatrix = new Float64Array(C * C);
  const unpredicted = new Float64Array(C);
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < C; j++) confusionMatrix[i * C + j] = hist[i * S + j]!;
    unpredicted[i] = hist[i * S + C]!;
  }
  let ignored = 0;
  for (let j = 0; j <= C; j++) ignored += hist[C * S + j]!;
  return { numClasses: C, confusionMatrix, unpredicted, ignored, shape };
}

/** Pixels with a bad label in either map, from a code histogram (row C + 1 and column C + 1). */
export function badLabelCount(hist: Float64Array, numClasses: number): number {
  const S = numClasses + 2;
  let bad = 0;
  for (let j = 0; j < S; j++) bad += hist[(S - 1) * S + j]!;
  for (let i = 0; i < S - 1; i++) bad += hist[i * S + S - 1]!;
  return bad;
}

/** A prepared comparison: inputs read and checked, ready to count (whole or per image). */
export interface PreparedLabels {
  fn: string;
  spec: HistogramSpec;
  fromLogits: boolean;
  target: HostLabels;
  pred: HostLabels;
}

/** Validates options, types and shapes (before any tensor is read); returns the parsed options. */
function checkInputs(
  fn: string,
  pred: LabelInput,
  target: LabelInput,
  options: ConfusionMatrixOptions,
): { spec: HistogramSpec; fromLogits: boolean; shape: number[] | undefined } {
  assertKnownOptions(fn, options, CONFUSION_OPTION_KEYS);
  if (options === undefined || options === null) {
    throw new ValueError(argumentMessage(fn, 'options', 'an object with numClasses', String(options)));
  }
  const { numClasses, ignoreIndex, fromLogits = false, shape } = options;
  checkClassOptions(fn, numClasses, ignoreIndex);
  assertOneOf(fn, 'fromLogits', fromLogits, [true, false]);
  checkShapeOption(fn, shape);
  const predSize = labelSize(fn, 'pred', pred);
  const targetSize = labelSize(fn, 'target', target);
  checkShapes(fn, pred, target, predSize, targetSize, { numClasses, fromLogits, shape });
  if (fromLogits && pred instanceof tf.Tensor && pred.dtype !== 'float32') {
    throw new ValueError(argumentMessage(fn, 'pred', 'float32 logits', `dtype ${pred.dtype}`));
  }
  return { spec: { numClasses, ignoreIndex: ignoreIndex ?? undefined }, fromLogits, shape };
}

/**
 * Checks a comparison and reads both label maps to host memory once (zero-copy on the cpu and wasm
 * backends), ready to be counted whole or image by image with {@link countPrepared}.
 */
export function prepareLabels(
  fn: string,
  pred: LabelInput,
  target: LabelInput,
  options: ConfusionMatrixOptions,
): PreparedLabels {
  const { spec, fromLogits, shape } = checkInputs(fn, pred, target, options);
  const predShape = fromLogits && shape ? [...shape, spec.numClasses] : shape;
  const p = readLabels(fn, 'pred', pred, predShape);
  const t = readLabels(fn, 'target', target, shape);
  // An array target without a shape takes the shape of a tensor prediction.
  if (!(target instanceof tf.Tensor) && !shape && pred instanceof tf.Tensor) {
    t.shape = fromLogits ? pred.shape.slice(0, -1) : pred.shape.slice();
  }
  return { fn, spec, fromLogits, target: t, pred: p };
}

/**
 * Counts pixels of one comparison. `fn` names the public function in errors. Throws (before anything is
 * recorded anywhere) on bad options, shapes or labels.
 */
export function countLabels(
  fn: string,
  pred: LabelInput,
  target: LabelInput,
  options: ConfusionMatrixOptions,
): ConfusionCounts {
  // On a backend without fused kernels, tensors are counted on the device by the composite.
  if (pred instanceof tf.Tensor && target instanceof tf.Tensor && !isFusedBackend()) {
    const { spec, fromLogits } = checkInputs(fn, pred, target, options);
    const C = spec.numClasses;
    const hist = fromLogits
      ? histogramLogitsComposite(target, pred, spec)
      : histogramComposite(target, pred, spec);
    if (badLabelCount(hist, C) > 0) {
      const p = readLabels(fn, 'pred', pred, undefined);
      const t = readLabels(fn, 'target', target, undefined);
      throwFirstBadLabel(
        fn,
        t,
        fromLogits ? undefined : p,
        C,
        spec.ignoreIndex,
        (ignoreMode(spec) & 2) !== 0,
      );
    }
    return countsFromHistogram(hist, C, target.shape.slice());
  }
  const prepared = prepareLabels(fn, pred, target, options);
  return countPrepared(prepared, 0, prepared.target.data.length);
}

/** The number of elements of a label input (after checking that it is one). */
export function labelSize(fn: string, arg: string, input: unknown): number {
  if (input instanceof tf.Tensor) return input.size;
  if ((ArrayBuffer.isView(input) && !(input instanceof DataView)) || Array.isArray(input)) {
    return (input as ArrayLike<number>).length;
  }
  return readLabels(fn, arg, input, undefined).data.length; // throws the standard message
}

function subarray(a: ArrayLike<number>, start: number, end: number): ArrayLike<number> {
  if (start === 0 && end === a.length) return a;
  if (ArrayBuffer.isView(a)) return (a as unknown as Uint8Array).subarray(start, end);
  return Array.prototype.slice.call(a, start, end) as number[];
}

/** Counts pixels [start, end) of prepared label maps (a whole batch, or one image of it). */
export function countPrepared(prepared: PreparedLabels, start: number, end: number): ConfusionCounts {
  const { fn, spec, fromLogits, target, pred } = prepared;
  const C = spec.numClasses;
  const t = subarray(target.data, start, end);
  const p = fromLogits ? subarray(pred.data, start * C, end * C) : subarray(pred.data, start, end);
  const hist = fromLogits ? histogramLogitsHost(t, p, spec) : histogramHost(t, p, spec);
  if (badLabelCount(hist, C) > 0) {
    // Re-scan the whole maps so that positions are named in the caller's coordinates.
    throwFirstBadLabel(
      fn,
      target,
      fromLogits ? undefined : pred,
      C,
      spec.ignoreIndex,
      (ignoreMode(spec) & 2) !== 0,
    );
  }
  return countsFromHistogram(hist, C, target.shape);
}

/**
 * The confusion matrix (Long et al. 2015): pred, target [...dims] label maps (or pred logits [...dims, C] with
 * `fromLogits`) → counts [C * C], row-major, counts[i * C + j] = pixels with target i predicted j, as a
 * Float64Array (exact past 2^31 pixels). Pixels whose target is `ignoreIndex` are left out.
 *
 * Throws a RangeError naming the value and its position for a label outside [0, C) that is not ignoreIndex,
 * a ValueError for fractional or NaN labels, a ShapeError for shapes that differ.
 */
export function confusionMatrix(
  pred: LabelInput,
  target: LabelInput,
  options: ConfusionMatrixOptions,
): Float64Array {
  return countLabels('segmetrics.confusionMatrix', pred, target, options).confusionMatrix;
}

/**
 * All counts of one comparison: the confusion matrix, the per-class count of labelled pixels predicted as
 * ignoreIndex (misses), and the number of ignored pixels. Same inputs and checks as {@link confusionMatrix}.
 */
export function confusionCounts(
  pred: LabelInput,
  target: LabelInput,
  options: ConfusionMatrixOptions,
): ConfusionCounts {
  return countLabels('segmetrics.confusionCounts', pred, target, options);
}
