/**
 * @lab/segmetrics: semantic segmentation metrics (Long et al. 2015: pixel accuracy, mean accuracy, mean IoU,
 * frequency-weighted IoU; Dice / F-beta, precision, recall; boundary IoU, Cheng et al. 2021) that reproduce
 * torchmetrics, mmseg and segmentation_models_pytorch under explicit conventions, counted by a WebAssembly
 * SIMD histogram kernel at memory speed.
 */
export {
  type BoundaryIoUResult,
  type BoundaryOptions,
  boundaryBand,
  boundaryBandFallback,
  boundaryIoU,
  boundaryWidth,
} from './boundary.js';
export { confusionMatrixTfjs, histogramComposite, histogramLogitsComposite } from './composite.js';
export {
  type ConfusionCounts,
  type ConfusionMatrixOptions,
  confusionCounts,
  confusionMatrix,
} from './confusion.js';
export type { LabelInput } from './inputs.js';
export { histogramFallback, histogramHost, histogramLogitsHost, histogramWasm } from './kernels/histogram.js';
export { compileKernels } from './kernels/module.js';
export {
  type SegmentationMetricOptions,
  type SegmentationMetricState,
  SegmentationMetric,
  type UpdateOptions,
} from './metric.js';
export {
  type Aggregation,
  CONVENTIONS,
  type ClassStats,
  type Convention,
  classStats,
  type MetricOptions,
  type SegmentationReport,
} from './metrics.js';
export { type SyntheticScene, type SyntheticSceneOptions, syntheticScene } from './synthetic.js';
export { type FormatTableOptions, formatTable, type TableColumn } from './table.js';
