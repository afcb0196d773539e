/**
 * Segmentation metrics from confusion counts (Long et al. 2015, FCN §5: pixel accuracy, mean accuracy, mean
 * IoU, frequency-weighted IoU; plus Dice / F1, precision, recall and F-beta), under an explicit convention for
 * classes whose denominator is zero.
 *
 * Per class c, with n_ij = pixels of target i predicted j and u_c = labelled pixels of c predicted ignoreIndex:
 *   tp = n_cc,  support t_c = Σ_j n_cj + u_c,  predicted p_c = Σ_i n_ic
 *   accuracy (= recall) = tp / t_c          precision = tp / p_c          IoU = tp / (t_c + p_c − tp)
 *   Dice = 2 tp / (t_c + p_c)               F-beta = (1 + β²) tp / (β² t_c + p_c) = (1 + β²) P R / (β² P + R)
 *   pixel accuracy = Σ tp / Σ t_c           FWIoU = Σ_c t_c · IoU_c / Σ_c t_c
 */
import type { ConfusionCounts } from './confusion.js';

/**
 * What a per-class value with a zero denominator is, and which classes enter the means:
 *   'nan'          NaN, left out of every mean (FCN, mmseg; the default);
 *   'torchmetrics' 0, and a mean covers the classes present in the target or the prediction (a class present
 *                  only in the prediction scores 0 and counts; a class in neither is left out), as torchmetrics'
 *                  Multiclass* metrics with average='macro';
 *   'zero' / 'one' 0 or 1, and every class counts (segmentation_models_pytorch's zero_division).
 */
export type Convention = 'nan' | 'torchmetrics' | 'zero' | 'one';
export const CONVENTIONS: readonly Convention[] = ['nan', 'torchmetrics', 'zero', 'one'];

/**
 * How per-class values are pooled over a dataset: 'dataset' sums the counts of every image first (mmseg,
 * torchmetrics' MulticlassJaccardIndex; the default); 'image' scores every image alone and averages the images
 * (torchmetrics' segmentation MeanIoU, segmentation_models_pytorch's '*-imagewise' reductions).
 */
export type Aggregation = 'dataset' | 'image';

/** Per-class counts: true positives, support (target pixels) and predicted pixels, each [C]. */
export interface ClassStats {
  tp: Float64Array;
  support: Float64Array;
  predicted: Float64Array;
}

export interface MetricOptions {
  /** Zero-denominator convention (default 'nan'). */
  convention?: Convention;
  /** β of the F-beta score (default 1: F1 = Dice). */
  beta?: number;
  /**
   * Weights of the classes in every mean (default equal): numbers [C] (≥ 0), or 'support' for weights
   * proportional to each class's target pixels (torchmetrics' average='weighted').
   */
  classWeights?: readonly number[] | 'support';
}

/** Everything `SegmentationMetric.compute()` reports. Per-class arrays are [C]. */
export interface SegmentationReport {
  /** Correct pixels / labelled pixels (overall accuracy, mmseg's aAcc, torchmetrics' micro accuracy). */
  pixelAccuracy: number;
  /** Mean of the per-class accuracies (MPA, mmseg's mAcc, torchmetrics' macro accuracy). */
  meanPixelAccuracy: number;
  iou: number[];
  meanIoU: number;
  /** Frequency-weighted IoU (FCN). */
  fwIoU: number;
  dice: number[];
  meanDice: number;
  precision: number[];
  recall: number[];
  /** [C * C] counts, rows = target, columns = prediction (summed over every update). */
  confusionMatrix: Float64Array;
  /** Per-class accuracy (= recall). */
  accuracy: number[];
  meanPrecision: number;
  meanRecall: number;
  /** F-beta per class with the β in `beta` (Dice when β = 1). */
  fbeta: number[];
  meanFbeta: number;
  beta: number;
  /** Target pixels per class (including labelled pixels predicted as ignoreIndex). */
  support: number[];
  /** Labelled pixels of each class that the prediction marked ignoreIndex (counted as misses). */
  unpredicted: number[];
  /** Labelled pixels counted. */
  pixels: number;
  /** Pixels left out because their target was ignoreIndex. */
  ignoredPixels: number;
  /** Images seen (the first dimension of rank ≥ 3 inputs; 1 per update otherwise). */
  images: number;
  classNames: string[];
  convention: Convention;
  aggregation: Aggregation;
  /** Boundary IoU per class and its mean (Cheng et al. 2021), when the metric tracks it. */
  boundaryIoU?: number[];
  meanBoundaryIoU?: number;
}

/** The per-class stats of confusion counts. */
export function classStats(
  counts: Pick<ConfusionCounts, 'numClasses' | 'confusionMatrix' | 'unpredicted'>,
): ClassStats {
  const C = counts.numClasses;
  const cm = counts.confusionMatrix;
  const tp = new Float64Array(C);
  const support = new Float64Array(C);
  const predicted = new Float64Array(C);
  for (let i = 0; i < C; i++) {
    tp[i] = cm[i * C + i]!;
    let row = counts.unpredicted[i]!;
    for (let j = 0; j < C; j++) {
      row += cm[i * C + j]!;
      predicted[j]! += cm[i * C + j]!;
    }
    support[i] = row;
  }
  return { tp, support, predicted };
}

/** A per-class value under a convention, and whether it enters the means. */
function ratio(num: number, den: number, present: boolean, convention: Convention): [number, boolean] {
  if (den > 0) return [num / den, true];
  switch (convention) {
    case 'nan':
      return [Number.NaN, false];
    case 'torchmetrics':
      return [0, present];
    case 'zero':
      return [0, true];
    case 'one':
      return [1, true];
  }
}

/** Per-class values of one metric and which classes enter its mean. */
interface ClassValues {
  values: Float64Array;
  included: Uint8Array;
}

type ClassMetric = 'accuracy' | 'iou' | 'dice' | 'precision' | 'fbeta';
const CLASS_METRICS: readonly ClassMetric[] = ['accuracy', 'iou', 'dice', 'precision', 'fbeta'];

function perClass(stats: ClassStats, metric: ClassMetric, convention: Convention, beta: number): ClassValues {
  const C = stats.tp.length;
  const values = new Float64Array(C);
  const included = new Uint8Array(C);
  const b2 = beta * beta;
  for (let c = 0; c < C; c++) {
    const tp = stats.tp[c]!;
    const t = stats.support[c]!;
    const p = stats.predicted[c]!;
    const present = t + p > 0;
    let num: number;
    let den: number;
    switch (metric) {
      case 'accuracy':
        num = tp;
        den = t;
        break;
      case 'precision':
        num = tp;
        den = p;
        break;
      case 'iou':
        num = tp;
        den = t + p - tp;
        break;
      case 'dice':
        num = 2 * tp;
        den = t + p;
        break;
      case 'fbeta':
        num = (1 + b2) * tp;
        // mmseg computes F-beta from precision and recall, so it is undefined when either is (no target or no
        // predicted pixels); torchmetrics and smp use the counts, defined whenever the class is present.
        den = convention === 'nan' && (t === 0 || p === 0) ? 0 : b2 * t + p;
        break;
    }
    const [v, inc] = ratio(num, den, present, convention);
    values[c] = v;
    included[c] = inc ? 1 : 0;
  }
  return { values, included };
}

function weightedMean(cv: ClassValues, weights: ArrayLike<number> | undefined): number {
  let num = 0;
  let den = 0;
  for (let c = 0; c < cv.values.length; c++) {
    if (!cv.included[c]) continue;
    const w = weights ? weights[c]! : 1;
    num += w * cv.values[c]!;
    den += w;
  }
  return den > 0 ? num / den : Number.NaN;
}

function emptyValue(convention: Convention): number {
  return convention === 'one' ? 1 : convention === 'nan' ? Number.NaN : 0;
}

/** Metrics of one set of class stats (a dataset, or one image). */
export interface ScoreSet {
  perClass: Record<ClassMetric, ClassValues>;
  means: Record<ClassMetric, number>;
  pixelAccuracy: number;
  fwIoU: number;
}

function resolveWeights(
  stats: ClassStats,
  classWeights: MetricOptions['classWeights'],
): ArrayLike<number> | undefined {
  if (classWeights === undefined) return undefined;
  return classWeights === 'support' ? stats.support : classWeights;
}

/** All metrics of one set of class stats. */
export function scoreStats(
  stats: ClassStats,
  options: Required<Pick<MetricOptions, 'convention' | 'beta'>> & MetricOptions,
): ScoreSet {
  const { convention, beta } = options;
  const weights = resolveWeights(stats, options.classWeights);
  const pc = {} as Record<ClassMetric, ClassValues>;
  const means = {} as Record<ClassMetric, number>;
  for (const m of CLASS_METRICS) {
    pc[m] = perClass(stats, m, convention, beta);
    means[m] = weightedMean(pc[m], weights);
  }
  let correct = 0;
  let total = 0;
  let fw = 0;
  for (let c = 0; c < stats.tp.length; c++) {
    correct += stats.tp[c]!;
    total += stats.support[c]!;
    if (stats.support[c]! > 0) fw += stats.support[c]! * pc.iou.values[c]!;
  }
  const pixelAccuracy = total > 0 ? correct / total : emptyValue(convention);
  const fwIoU = total > 0 ? fw / total : emptyValue(convention);
  return { perClass: pc, means, pixelAccuracy, fwIoU };
}

/** The per-class arrays and means of a report, pooled as `aggregation` says. */
export interface PooledScores {
  perClass: Record<ClassMetric, number[]>;
  means: Record<ClassMetric, number>;
  pixelAccuracy: number;
  fwIoU: number;
}

/** Dataset-level pooling: the metrics of the summed stats. */
export function poolDataset(
  stats: ClassStats,
  options: Required<Pick<MetricOptions, 'convention' | 'beta'>> & MetricOptions,
): PooledScores {
  const s = scoreStats(stats, options);
  const perClassOut = {} as Record<ClassMetric, number[]>;
  for (const m of CLASS_METRICS) perClassOut[m] = Array.from(s.perClass[m].values);
  return { perClass: perClassOut, means: s.means, pixelAccuracy: s.pixelAccuracy, fwIoU: s.fwIoU };
}

/**
 * Image-level pooling: every image is scored alone. A class's value is the mean over the images where it
 * enters the mean (under the convention); a mean is the mean over images of each image's class mean; pixel
 * accuracy and FWIoU are means over the images with labelled pixels.
 */
export function poolImages(
  images: readonly ClassStats[],
  options: Required<Pick<MetricOptions, 'convention' | 'beta'>> & MetricOptions,
): PooledScores {
  const C = images[0]?.tp.length ?? 0;
  const sums = {} as Record<ClassMetric, Float64Array>;
  const counts = {} as Record<ClassMetric, Float64Array>;
  const meanSum = {} as Record<ClassMetric, number>;
  const meanCount = {} as Record<ClassMetric, number>;
  for (const m of CLASS_METRICS) {
    sums[m] = new Float64Array(C);
    counts[m] = new Float64Array(C);
    meanSum[m] = 0;
    meanCount[m] = 0;
  }
  let paSum = 0;
  let fwSum = 0;
  let labelled = 0;
  for (const stats of images) {
    const s = scoreStats(stats, options);
    for (const m of CLASS_METRICS) {
      const cv = s.perClass[m];
      for (let c = 0; c < C; c++) {
        if (!cv.included[c]) continue;
        sums[m][c]! += cv.values[c]!;
        counts[m][c]! += 1;
      }
      if (!Number.isNaN(s.means[m])) {
        meanSum[m] += s.means[m];
        meanCount[m] += 1;
      }
    }
    let total = 0;
    for (let c = 0; c < C; c++) total += stats.support[c]!;
    if (total > 0) {
      paSum += s.pixelAccuracy;
      fwSum += s.fwIoU;
      labelled += 1;
    }
  }
  const empty = emptyValue(options.convention);
  const perClassOut = {} as Record<ClassMetric, number[]>;
  const means = {} as Record<ClassMetric, number>;
  for (const m of CLASS_METRICS) {
    perClassOut[m] = Array.from(sums[m], (v, c) => (counts[m][c]! > 0 ? v / counts[m][c]! : empty));
    means[m] = meanCount[m] > 0 ? meanSum[m] / meanCount[m] : Number.NaN;
  }
  return {
    perClass: perClassOut,
    means,
    pixelAccuracy: labelled > 0 ? paSum / labelled : empty,
    fwIoU: labelled > 0 ? fwSum / labelled : empty,
  };
}
