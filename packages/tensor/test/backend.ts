// Sets a backend for tests in Node and in Chromium (vitest browser mode). In a browser, tfjs-backend-wasm
// needs the URLs of its .wasm files, which Vite provides through `?url` imports.
import { initBackend } from '../src/index.js';

export const inBrowser = typeof window !== 'undefined';

export async function useBackend(name: 'cpu' | 'wasm'): Promise<string> {
  if (!inBrowser || name !== 'wasm') return initBackend(name, { fallback: false });
  const [plain, simd, threaded] = await Promise.all([
    import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url'),
    import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url'),
    import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url'),
  ]);
  return initBackend('wasm', {
    fallback: false,
    wasmPaths: {
      'tfjs-backend-wasm.wasm': plain.default,
      'tfjs-backend-wasm-simd.wasm': simd.default,
      'tfjs-backend-wasm-threaded-simd.wasm': threaded.default,
    },
  });
}
