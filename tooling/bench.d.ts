/**
 * The benchmark suite interface. Each library registers its suites in `packages/<name>/bench/index.ts`
 * (`export const suites: BenchSuite[]`); apps/bench discovers them, times every case's variants
 * alternately (A, B, A, B, ...) with warm-up, and reports medians, spreads and ratios to the baseline.
 */
export interface BenchVariant {
  /** Short label, e.g. 'flashAttention (wasm SIMD)' or 'tfjs composite'. */
  name: string;
  /** One timed run. Must release what it allocates (dispose tensors) so runs do not pile up. */
  run: () => void | Promise<void>;
  /** Work done by one run, for throughput (e.g. 2·m·n·k FLOP, or values converted). */
  work?: { amount: number; unit: string };
}

export interface BenchCase {
  /** e.g. 'L=1024 causal'. */
  name: string;
  /** Parameters of the case (used by charts as x values and in the JSON report). */
  params?: Record<string, string | number | boolean>;
  /**
   * Timed alternately. `variants[0]` is the baseline: what a user would pick instead (the tfjs composite,
   * @petamoriken/float16, ...); every other variant is reported as a speed-up ratio over it.
   */
  variants: BenchVariant[];
  setup?: () => void | Promise<void>;
  teardown?: () => void | Promise<void>;
  /**
   * Figures that are not times, measured once: peak bytes, errors against a reference, NFE, ...
   * Keys are free-form ('peakBytes:flash', 'error:heun'); numbers only.
   */
  measure?: () => Record<string, number> | Promise<Record<string, number>>;
  /** Minimum samples per variant (default 5; 3 with --quick). */
  samples?: number;
}

export interface BenchChart {
  title: string;
  /** Case parameter on the x axis. */
  x: string;
  /** 'time' (median ms per variant), 'throughput' (work per second per variant) or a measure key prefix. */
  y: 'time' | 'throughput' | string;
  logX?: boolean;
  logY?: boolean;
  /** Only cases whose params match these values go into the chart (e.g. { causal: false }). */
  where?: Record<string, string | number | boolean>;
}

export interface BenchSuite {
  /** 'package/name', e.g. 'attention/flash-forward'. */
  id: string;
  title: string;
  /** One or two sentences: what is compared with what, and why a user would care. */
  description: string;
  /** Cases; `quick` asks for CI-sized cases (the whole quick run must stay under two minutes). */
  cases(options: { quick: boolean; backend: string }): BenchCase[] | Promise<BenchCase[]>;
  charts?: BenchChart[];
}

/** Identity helper that type-checks a suite. */
export declare function defineSuite(suite: BenchSuite): BenchSuite;
