/**
 * @lab/attention: scaled dot-product attention (composite reference) and FlashAttention (tiled online softmax
 * on WebAssembly SIMD kernels), multi-head attention with RoPE and a KV cache, linear attention, Performer
 * FAVOR+, GAU / FLASH mixed-chunk attention and sparse attention masks, for tfjs.
 */
export type { AttentionOptions, CausalOption } from './options.js';
export { scaledDotProductAttention } from './sdpa.js';
export {
  compileAttentionKernels,
  type FlashAttentionOptions,
  flashAttention,
  flashAttentionFused,
  flashKernelMemory,
} from './flash.js';
export { type Gau, type GauConfig, createGau } from './gau.js';
export {
  type FeatureMap,
  featureMaps,
  type LinearAttentionOptions,
  type LinearAttentionState,
  linearAttention,
} from './linear.js';
export {
  bigBirdMask,
  longformerMask,
  type MaskShapeOptions,
  slidingWindowMask,
  stridedMask,
} from './masks.js';
export {
  createMultiHeadAttention,
  KVCache,
  type MultiHeadAttention,
  type MultiHeadAttentionConfig,
} from './mha.js';
export { type PerformerFeatureMap, type PerformerOptions, performerFeatureMap } from './performer.js';
export { applyRope, type RopeOptions } from './rope.js';
