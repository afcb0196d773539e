/**
 * Runs the bench app's quick suites in a Web Worker (off the main thread, so the page stays live), with the
 * same harness as `pnpm bench`. With cross-origin isolation the kernels' worker pool runs here too.
 */
/// <reference lib="webworker" />
import { initBackend, initThreads, threadCount, threadsUnavailableReason } from '@lab/tensor';
import type { BenchSuite } from '@lab/tooling/bench';
import { runSuite, type SuiteResult } from '../../bench/src/runner.js';

export type BenchRequest = {
  type: 'run';
  wasmPaths: Record<string, string>;
  threads: number;
  filter: string;
};
export type BenchEvent =
  | { type: 'start'; backend: string; threads: number; suites: string[] }
  | {
      type: 'progress';
      suite: string;
      caseName: string;
      variant: string;
      sample: number;
      done: number;
      total: number;
    }
  | { type: 'suite'; result: SuiteResult }
  | { type: 'done' }
  | { type: 'error'; message: string };

const modules = import.meta.glob<{ suites: BenchSuite[] }>('../../../packages/*/bench/index.ts');

const post = (event: BenchEvent) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(event);

self.addEventListener('message', async (e: MessageEvent<BenchRequest>) => {
  if (e.data.type !== 'run') return;
  try {
    const backend = await initBackend('wasm', { wasmPaths: e.data.wasmPaths });
    if (e.data.threads > 1 && !threadsUnavailableReason()) await initThreads(e.data.threads);
    const suites: { packageName: string; suite: BenchSuite }[] = [];
    // @lab/tensor's suite first: it is the quickest, so the first results arrive at once.
    const entries = Object.entries(modules).sort(
      ([a], [b]) => Number(!a.includes('/tensor/')) - Number(!b.includes('/tensor/')) || a.localeCompare(b),
    );
    for (const [path, load] of entries) {
      const packageName = `@lab/${path.split('/').at(-3)}`;
      for (const suite of (await load()).suites)
        if (suite.id.includes(e.data.filter)) suites.push({ packageName, suite });
    }
    post({ type: 'start', backend, threads: threadCount(), suites: suites.map((s) => s.suite.id) });
    const options = { quick: true, backend };
    for (const [index, { packageName, suite }] of suites.entries()) {
      const result = await runSuite(suite, packageName, {
        ...options,
        onProgress: (p) => post({ type: 'progress', ...p, done: index, total: suites.length }),
      });
      post({ type: 'suite', result });
    }
    post({ type: 'done' });
  } catch (error) {
    post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
});
