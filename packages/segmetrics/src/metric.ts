/**
 * SegmentationMetric: streaming semantic segmentation metrics (Long et al. 2015) over a dataset, with
 * dataset-level or per-image aggregation, merging of shards and the conventions of mmseg, torchmetrics and
 * segmentation_models_pytorch as explicit options.
 *
 * Inputs of `update`: pred, target [batch, height, width] (or [height, width], or any shape with `shape`
 * for arrays); pred may be logits [..., numClasses] with `fromLogits`. rows of the confusion matrix = target.
 */
import { argumentMessage, assertKnownOptions, assertNumber, assertOneOf, ValueError } from '@lab/tensor';
import {
  accumulateBoundary,
  type BoundaryCounts,
  type BoundaryOptions,
  boundaryWidth,
  checkBoundaryOptions,
  imageDims,
  summarizeBoundary,
} from './boundary.js';
import {
  type ConfusionCounts,
  checkClassOptions,
  countLabels,
  countPrepared,
  prepareLabels,
} from './confusion.js';
import { argmaxRow } from './kernels/histogram.js';
import { checkShapeOption, type LabelInput } from './inputs.js';
import {
  type Aggregation,
  CONVENTIONS,
  type ClassStats,
  type Convention,
  classStats,
  type MetricOptions,
  poolDataset,
  poolImages,
  type SegmentationReport,
} from './metrics.js';

export interface SegmentationMetricOptions extends MetricOptions {
  numClasses: number;
  /** Target label left out (default none, as torchmetrics; mmseg datasets use 255). */
  ignoreIndex?: number;
  /** Names of the classes for tables (default '0', '1', ...). */
  classNames?: string[];
  /** 'dataset' (default) or 'image' (see {@link Aggregation}). */
  aggregation?: Aggregation;
  /** Predictions are logits [..., numClasses] by default (default false; `update` may override). */
  fromLogits?: boolean;
  /** Also track boundary IoU (Cheng et al. 2021): true, or the band options. Needs [..., height, width]. */
  boundary?: boolean | BoundaryOptions;
}

export interface UpdateOptions {
  /** Shape of array inputs, e.g. [batch, height, width] (default: one image of [length] pixels). */
  shape?: number[];
  /** Overrides the metric's fromLogits for this update. */
  fromLogits?: boolean;
}

/** The plain-data state of a metric (structured-cloneable: post it from a worker, then `fromState` + `merge`). */
export interface SegmentationMetricState {
  options: Omit<SegmentationMetricOptions, 'classWeights'> & { classWeights?: number[] | 'support' };
  confusionMatrix: Float64Array;
  unpredicted: Float64Array;
  ignored: number;
  images: number;
  /** Per-image [tp, support, predicted] (3 · C values per image), with aggregation 'image'. */
  imageStats: Float64Array[];
  boundaryIntersection?: Float64Array;
  boundaryUnion?: Float64Array;
}

const OPTION_KEYS = [
  'numClasses',
  'ignoreIndex',
  'classNames',
  'aggregation',
  'fromLogits',
  'boundary',
  'convention',
  'beta',
  'classWeights',
] as const;

function checkMetricOptions(fn: string, options: MetricOptions, numClasses: number): void {
  if (options.convention !== undefined) assertOneOf(fn, 'convention', options.convention, CONVENTIONS);
  if (options.beta !== undefined) assertNumber(fn, 'beta', options.beta, { min: 0 });
  const w = options.classWeights;
  if (w !== undefined && w !== 'support') {
    if (!Array.isArray(w) || w.length !== numClasses) {
      throw new ValueError(
        argumentMessage(
          fn,
          'classWeights',
          `'support' or an array of numClasses (${numClasses}) weights`,
          Array.isArray(w) ? `an array of length ${w.length}` : String(w),
        ),
      );
    }
    w.forEach((v, i) => {
      assertNumber(fn, `classWeights[${i}]`, v, { min: 0 });
    });
  }
}

/**
 * Streaming segmentation metrics. `update` adds a batch (nothing is recorded if it throws), `merge` adds
 * another metric's counts (shards, workers), `reset` clears, `compute` reports.
 *
 * ```ts
 * const metric = new SegmentationMetric({ numClasses: 19, ignoreIndex: 255, classNames });
 * for (const { pred, target } of batches) metric.update(pred, target); // [N, H, W] tensors or arrays
 * const { meanIoU, iou } = metric.compute();
 * console.log(formatTable(metric.compute()));
 * ```
 */
export class SegmentationMetric {
  readonly numClasses: number;
  readonly ignoreIndex: number | undefined;
  readonly classNames: string[];
  readonly aggregation: Aggregation;
  readonly fromLogits: boolean;
  readonly convention: Convention;
  readonly beta: number;
  readonly classWeights: readonly number[] | 'support' | undefined;
  readonly boundary: BoundaryOptions | undefined;

  private cm: Float64Array;
  private unpredicted: Float64Array;
  private ignored = 0;
  private images = 0;
  private imageStats: Float64Array[] = [];
  private boundaryCounts: BoundaryCounts | undefined;

  constructor(options: SegmentationMetricOptions) {
    const fn = 'segmetrics.SegmentationMetric';
    assertKnownOptions(fn, options, OPTION_KEYS);
    if (options === undefined || options === null) {
      throw new ValueError(argumentMessage(fn, 'options', 'an object with numClasses', String(options)));
    }
    const {
      numClasses,
      ignoreIndex,
      classNames,
      aggregation = 'dataset',
      fromLogits = false,
      boundary,
      convention = 'nan',
      beta = 1,
      classWeights,
    } = options;
    checkClassOptions(fn, numClasses, ignoreIndex);
    assertOneOf(fn, 'aggregation', aggregation, ['dataset', 'image'] as const);
    assertOneOf(fn, 'fromLogits', fromLogits, [true, false]);
    checkMetricOptions(fn, options, numClasses);
    if (classNames !== undefined) {
      if (
        !Array.isArray(classNames) ||
        classNames.length !== numClasses ||
        classNames.some((s) => typeof s !== 'string')
      ) {
        throw new ValueError(
          argumentMessage(
            fn,
            'classNames',
            `an array of numClasses (${numClasses}) strings`,
            Array.isArray(classNames) ? `an array of length ${classNames.length}` : String(classNames),
          ),
        );
      }
    }
    if (boundary !== undefined && typeof boundary !== 'boolean') {
      assertKnownOptions(fn, boundary, ['dilationRatio', 'dilation']);
      checkBoundaryOptions(fn, boundary);
    }
    this.numClasses = numClasses;
    this.ignoreIndex = ignoreIndex ?? undefined;
    this.classNames = classNames
      ? classNames.slice()
      : Array.from({ length: numClasses }, (_, i) => String(i));
    this.aggregation = aggregation;
    this.fromLogits = fromLogits;
    this.convention = convention;
    this.beta = beta;
    this.classWeights =
      classWeights === undefined || classWeights === 'support' ? classWeights : classWeights.slice();
    this.boundary =
      boundary === true ? {} : boundary === false || boundary === undefined ? undefined : { ...boundary };
    this.cm = new Float64Array(numClasses * numClasses);
    this.unpredicted = new Float64Array(numClasses);
    this.reset();
  }

  /**
   * Adds a batch: pred, target [batch, height, width] (or [height, width]; arrays take `shape`), pred as
   * logits [..., numClasses] with fromLogits. Checks everything first: if it throws, the state is unchanged.
   */
  update(pred: LabelInput, target: LabelInput, options: UpdateOptions = {}): this {
    const fn = 'segmetrics.SegmentationMetric.update';
    assertKnownOptions(fn, options, ['shape', 'fromLogits']);
    checkShapeOption(fn, options.shape);
    const fromLogits = options.fromLogits ?? this.fromLogits;
    assertOneOf(fn, 'fromLogits', fromLogits, [true, false]);
    const C = this.numClasses;
    const countOptions = { numClasses: C, ignoreIndex: this.ignoreIndex, fromLogits, shape: options.shape };
    let total: ConfusionCounts;
    const perImage: Float64Array[] = [];
    let boundary: BoundaryCounts | undefined;
    let batch: number;
    if (this.aggregation === 'dataset' && this.boundary === undefined) {
      // One pass over the whole batch (on the device for tensors on backends without fused kernels).
      total = countLabels(fn, pred, target, countOptions);
      batch = total.shape.length >= 3 ? total.shape[0]! : 1;
    } else {
      // Host labels read once, counted image by image (and scanned for boundaries).
      const prepared = prepareLabels(fn, pred, target, countOptions);
      const shape = prepared.target.shape;
      batch = shape.length >= 3 ? shape[0]! : 1;
      const plane = prepared.target.data.length / batch;
      if (this.aggregation === 'image') {
        const sum = new Float64Array(C * C);
        const unpredicted = new Float64Array(C);
        let ignored = 0;
        for (let b = 0; b < batch; b++) {
          const counts = countPrepared(prepared, b * plane, (b + 1) * plane);
          perImage.push(packStats(classStats(counts)));
          for (let i = 0; i < C * C; i++) sum[i]! += counts.confusionMatrix[i]!;
          for (let c = 0; c < C; c++) unpredicted[c]! += counts.unpredicted[c]!;
          ignored += counts.ignored;
        }
        total = { numClasses: C, confusionMatrix: sum, unpredicted, ignored, shape };
      } else {
        total = countPrepared(prepared, 0, prepared.target.data.length);
      }
      if (this.boundary !== undefined) {
        const [height, width] = imageDims(fn, 'target', shape);
        const t = prepared.target.data;
        const predLabels = fromLogits ? argmaxLabels(prepared.pred.data, t.length, C) : prepared.pred.data;
        boundary = { intersection: new Float64Array(C), union: new Float64Array(C) };
        const d = boundaryWidth(height, width, this.boundary);
        for (let off = 0; off < t.length; off += height * width) {
          accumulateBoundary(boundary, t, predLabels, off, height, width, C, this.ignoreIndex, d);
        }
      }
    }
    // Commit (nothing below can throw).
    this.add(total, batch, perImage, boundary);
    return this;
  }

  private add(
    total: ConfusionCounts,
    images: number,
    perImage: Float64Array[],
    boundary: BoundaryCounts | undefined,
  ): void {
    for (let i = 0; i < this.cm.length; i++) this.cm[i]! += total.confusionMatrix[i]!;
    for (let c = 0; c < this.numClasses; c++) this.unpredicted[c]! += total.unpredicted[c]!;
    this.ignored += total.ignored;
    this.images += images;
    for (const s of perImage) this.imageStats.push(s);
    if (boundary && this.boundaryCounts) {
      for (let c = 0; c < this.numClasses; c++) {
        this.boundaryCounts.intersection[c]! += boundary.intersection[c]!;
        this.boundaryCounts.union[c]! += boundary.union[c]!;
      }
    }
  }

  /** Adds another metric's counts (same numClasses, ignoreIndex, aggregation and boundary tracking). */
  merge(other: SegmentationMetric): this {
    const fn = 'segmetrics.SegmentationMetric.merge';
    if (!(other instanceof SegmentationMetric)) {
      throw new ValueError(argumentMessage(fn, 'other', 'a SegmentationMetric', String(other)));
    }
    const mismatch = (name: string, a: unknown, b: unknown) =>
      new ValueError(`${fn}: other.${name} (${String(b)}) must equal this.${name} (${String(a)})`);
    if (other.numClasses !== this.numClasses) throw mismatch('numClasses', this.numClasses, other.numClasses);
    if (other.ignoreIndex !== this.ignoreIndex)
      throw mismatch('ignoreIndex', this.ignoreIndex, other.ignoreIndex);
    if (other.aggregation !== this.aggregation)
      throw mismatch('aggregation', this.aggregation, other.aggregation);
    if ((other.boundary === undefined) !== (this.boundary === undefined)) {
      throw mismatch('boundary', this.boundary !== undefined, other.boundary !== undefined);
    }
    const perImage = other.imageStats.map((s) => s.slice());
    const boundary = other.boundaryCounts
      ? { intersection: other.boundaryCounts.intersection.slice(), union: other.boundaryCounts.union.slice() }
      : undefined;
    this.add(
      {
        numClasses: other.numClasses,
        confusionMatrix: other.cm.slice(),
        unpredicted: other.unpredicted.slice(),
        ignored: other.ignored,
        shape: [],
      },
      other.images,
      perImage,
      boundary,
    );
    return this;
  }

  /** Clears every count. */
  reset(): this {
    this.cm.fill(0);
    this.unpredicted.fill(0);
    this.ignored = 0;
    this.images = 0;
    this.imageStats = [];
    this.boundaryCounts = this.boundary
      ? { intersection: new Float64Array(this.numClasses), union: new Float64Array(this.numClasses) }
      : undefined;
    return this;
  }

  /**
   * The report of everything seen so far. `overrides` recomputes it under another convention, β or class
   * weights (the counts are kept, so any convention can be read off the same run).
   */
  compute(overrides: MetricOptions = {}): SegmentationReport {
    const fn = 'segmetrics.SegmentationMetric.compute';
    assertKnownOptions(fn, overrides, ['convention', 'beta', 'classWeights']);
    checkMetricOptions(fn, overrides, this.numClasses);
    const convention = overrides.convention ?? this.convention;
    const beta = overrides.beta ?? this.beta;
    const classWeights = overrides.classWeights ?? this.classWeights;
    const options = { convention, beta, classWeights };
    const C = this.numClasses;
    const stats = classStats({ numClasses: C, confusionMatrix: this.cm, unpredicted: this.unpredicted });
    const pooled =
      this.aggregation === 'dataset'
        ? poolDataset(stats, options)
        : poolImages(
            this.imageStats.map((s) => unpackStats(s, C)),
            options,
          );
    let pixels = 0;
    for (let c = 0; c < C; c++) pixels += stats.support[c]!;
    const report: SegmentationReport = {
      pixelAccuracy: pooled.pixelAccuracy,
      meanPixelAccuracy: pooled.means.accuracy,
      iou: pooled.perClass.iou,
      meanIoU: pooled.means.iou,
      fwIoU: pooled.fwIoU,
      dice: pooled.perClass.dice,
      meanDice: pooled.means.dice,
      precision: pooled.perClass.precision,
      recall: pooled.perClass.accuracy.slice(),
      confusionMatrix: this.cm.slice(),
      accuracy: pooled.perClass.accuracy,
      meanPrecision: pooled.means.precision,
      meanRecall: pooled.means.accuracy,
      fbeta: pooled.perClass.fbeta,
      meanFbeta: pooled.means.fbeta,
      beta,
      support: Array.from(stats.support),
      unpredicted: Array.from(this.unpredicted),
      pixels,
      ignoredPixels: this.ignored,
      images: this.images,
      classNames: this.classNames.slice(),
      convention,
      aggregation: this.aggregation,
    };
    if (this.boundaryCounts) {
      const b = summarizeBoundary(this.boundaryCounts);
      report.boundaryIoU = b.iou;
      report.meanBoundaryIoU = b.meanIoU;
    }
    return report;
  }

  /** The state as plain data (for a worker's postMessage, or storage). */
  state(): SegmentationMetricState {
    return {
      options: {
        numClasses: this.numClasses,
        ignoreIndex: this.ignoreIndex,
        classNames: this.classNames.slice(),
        aggregation: this.aggregation,
        fromLogits: this.fromLogits,
        boundary: this.boundary ? { ...this.boundary } : false,
        convention: this.convention,
        beta: this.beta,
        classWeights:
          this.classWeights === undefined || this.classWeights === 'support'
            ? this.classWeights
            : this.classWeights.slice(),
      },
      confusionMatrix: this.cm.slice(),
      unpredicted: this.unpredicted.slice(),
      ignored: this.ignored,
      images: this.images,
      imageStats: this.imageStats.map((s) => s.slice()),
      boundaryIntersection: this.boundaryCounts?.intersection.slice(),
      boundaryUnion: this.boundaryCounts?.union.slice(),
    };
  }

  /** A metric from a state made by {@link SegmentationMetric.state} (checked, then copied). */
  static fromState(state: SegmentationMetricState): SegmentationMetric {
    const fn = 'segmetrics.SegmentationMetric.fromState';
    const options = { ...state.options };
    for (const key of Object.keys(options) as (keyof typeof options)[])
      if (options[key] === undefined) delete options[key];
    const metric = new SegmentationMetric(options);
    const C = metric.numClasses;
    const check = (name: string, a: unknown, length: number) => {
      if (!(a instanceof Float64Array) || a.length !== length) {
        throw new ValueError(
          argumentMessage(fn, `state.${name}`, `a Float64Array of length ${length}`, String(a)),
        );
      }
    };
    check('confusionMatrix', state.confusionMatrix, C * C);
    check('unpredicted', state.unpredicted, C);
    assertNumber(fn, 'state.ignored', state.ignored, { min: 0 });
    assertNumber(fn, 'state.images', state.images, { min: 0 });
    if (!Array.isArray(state.imageStats))
      throw new ValueError(argumentMessage(fn, 'state.imageStats', 'an array', String(state.imageStats)));
    state.imageStats.forEach((s, i) => {
      check(`imageStats[${i}]`, s, 3 * C);
    });
    if (metric.boundary) {
      check('boundaryIntersection', state.boundaryIntersection, C);
      check('boundaryUnion', state.boundaryUnion, C);
    }
    metric.add(
      {
        numClasses: C,
        confusionMatrix: state.confusionMatrix,
        unpredicted: state.unpredicted,
        ignored: state.ignored,
        shape: [],
      },
      state.images,
      state.imageStats.map((s) => s.slice()),
      metric.boundary
        ? { intersection: state.boundaryIntersection!, union: state.boundaryUnion! }
        : undefined,
    );
    return metric;
  }
}

function packStats(s: ClassStats): Float64Array {
  const C = s.tp.length;
  const out = new Float64Array(3 * C);
  out.set(s.tp, 0);
  out.set(s.support, C);
  out.set(s.predicted, 2 * C);
  return out;
}

function unpackStats(s: Float64Array, C: number): ClassStats {
  return { tp: s.subarray(0, C), support: s.subarray(C, 2 * C), predicted: s.subarray(2 * C, 3 * C) };
}

function argmaxLabels(logits: ArrayLike<number>, n: number, C: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = argmaxRow(logits, i, C);
  return out;
}
