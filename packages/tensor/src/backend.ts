/**
 * Backend selection: the WebAssembly backend by default (threads off, SIMD on), falling back to cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertOneOf } from './errors.js';
import { pool } from './pool.js';
import { kernelModules } from './wasm.js';

export type BackendName = 'cpu' | 'wasm' | 'webgl' | 'webgpu';
const BACKENDS: readonly BackendName[] = ['cpu', 'wasm', 'webgl', 'webgpu'];

export interface InitBackendOptions {
  /**
   * Where tfjs-backend-wasm finds its .wasm files in a browser: a folder URL ending in '/', or a map from file
   * name (`tfjs-backend-wasm-simd.wasm`, ...) to URL. Node finds them itself.
   */
  wasmPaths?: string | Record<string, string>;
  /** Fall back to 'cpu' when the requested backend fails to initialise (default true). */
  fallback?: boolean;
}

// Package names are kept in variables so that bundlers do not require the optional backends to be installed.
const WEBGL = '@tensorflow/tfjs-backend-webgl';
const WEBGPU = '@tensorflow/tfjs-backend-webgpu';

async function registerBackend(name: BackendName, options: InitBackendOptions): Promise<void> {
  if (tf.findBackendFactory(name)) return;
  if (name === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
  else if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (options.wasmPaths) wasm.setWasmPaths(options.wasmPaths as string);
  } else if (name === 'webgl') await import(/* @vite-ignore */ WEBGL);
  else await import(/* @vite-ignore */ WEBGPU);
}

let lastError: unknown;

async function trySetBackend(name: BackendName, options: InitBackendOptions): Promise<boolean> {
  try {
    await registerBackend(name, options);
    if (name === 'wasm') {
      // tfjs-wasm threads do not work in Node and hang Vite builds; this toolkit has its own worker pool.
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    }
    return await tf.setBackend(name);
  } catch (error) {
    lastError = error;
    return false;
  }
}

/**
 * Initialises a tfjs backend and this toolkit's kernels: `'wasm'` by default (Node and browsers), else
 * `'cpu'`; `'webgl'` and `'webgpu'` are loaded only when asked for (install their packages). Resolves to the
 * backend in use.
 */
export async function initBackend(name: BackendName = 'wasm', options: InitBackendOptions = {}): Promise<string> {
  assertOneOf('initBackend', 'name', name, BACKENDS);
  const { fallback = true } = options;
  let ok = await trySetBackend(name, options);
  if (!ok && fallback && name !== 'cpu') ok = await trySetBackend('cpu', options);
  if (!ok) throw new Error(`initBackend: could not initialise the ${name} backend: ${String(lastError ?? 'tf.setBackend returned false')}`);
  await tf.ready();
  await Promise.all(kernelModules().map((m) => m.compile(pool.active ? 'shared' : 'single')));
  return tf.getBackend();
}
