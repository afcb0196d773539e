/**
 * @lab/attention: scaled dot-product attention (composite reference) and FlashAttention (tiled online softmax
 * on WebAssembly SIMD kernels), multi-head attention with RoPE and a KV cache, linear attention, Performer
 * FAVOR+, GAU / FLASH mixed-chunk attention and sparse attention masks, for tfjs.
 */
export { type AttentionOptions, type CausalOption } from './options.js';
export { scaledDotProductAttention } from './sdpa.js';
export { type FlashAttentionOptions, flashAttention, flashAttentionFused } from './flash.js';
