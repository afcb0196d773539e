import { wasmPaths } from '../wasm-paths.js';

/** tfjs-wasm's binary URLs made absolute, for a Web Worker (whose base URL is its own script's). */
export function absoluteWasmPaths(): Record<string, string> {
  return Object.fromEntries(Object.entries(wasmPaths).map(([k, v]) => [k, new URL(v, location.href).href]));
}
