// WebAssembly SIMD kernels (see packages/tensor/assembly/index.ts for the conventions).
export function version(): i32 {
  return 1;
}
