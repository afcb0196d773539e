import { assertInteger } from './errors.js';
import { hardwareConcurrency, pool, poolUnavailableReason } from './pool.js';
import { kernelModules } from './wasm.js';

/**
 * Starts the worker pool with `threads` threads in all (the caller and `threads - 1` workers; default: every
 * core), so fused kernels split their work across cores. `1` stops the pool. Resolves to the thread count in
 * use; where the pool cannot run (see {@link threadsUnavailableReason}) it throws.
 */
export async function initThreads(threads = hardwareConcurrency()): Promise<number> {
  assertInteger('initThreads', 'threads', threads, 1, 256);
  return pool.start(threads, kernelModules());
}

/** Threads that fused kernels use now (1 without the pool). */
export function threadCount(): number {
  return pool.active ? pool.threads : 1;
}

/** Why the worker pool cannot run in this environment, or undefined when it can. */
export function threadsUnavailableReason(): string | undefined {
  return poolUnavailableReason();
}

export { hardwareConcurrency };
