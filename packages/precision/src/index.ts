/**
 * @lab/precision: exact float16, bfloat16 and fp8 formats, fast SIMD conversions, quantization, safetensors,
 * loss scaling and mixed-precision training for tfjs (Micikevicius et al. 2018, "Mixed Precision Training";
 * Micikevicius et al. 2022, "FP8 Formats for Deep Learning").
 */
export {
  fromBfloat16,
  fromFloat16,
  fromFp8E4M3,
  fromFp8E5M2,
  roundArray,
  toBfloat16,
  toFloat16,
  toFp8E4M3,
  toFp8E5M2,
} from './convert.js';
export { compileKernels } from './kernels/convert.js';
export { FORMAT_NAMES, FORMATS, type FormatInfo, type FormatName, type NarrowFormat } from './formats.js';
export {
  bfloat16BitsToFloat32,
  f16round,
  type Fp8Options,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  float32ToFp8E4M3Bits,
  float32ToFp8E5M2Bits,
  fp8E4M3BitsToFloat32,
  fp8E5M2BitsToFloat32,
  roundToFormat,
} from './scalar.js';
export { analyzeRange, type RangeAnalysis, type RangeAnalysisOptions } from './analysis.js';
export {
  type ComputeFormat,
  type MixedLossFunction,
  MixedPrecisionOptimizer,
  type MixedPrecisionOptions,
  type MixedStepResult,
} from './mixed.js';
export { decodeTensor, type EncodedTensor, encodeTensor, type QuantizeOptions, quantize } from './quantize.js';
export {
  parseSafetensors,
  readSafetensors,
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsFile,
  type SafetensorsFloatDtype,
  type WriteSafetensorsOptions,
  writeSafetensors,
} from './safetensors.js';
export {
  DynamicLossScaler,
  type DynamicLossScalerOptions,
  type DynamicLossScalerState,
  type LossScaler,
  StaticLossScaler,
} from './scaler.js';
