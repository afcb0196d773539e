/**
 * The timing harness: for each case, warm every variant up, then take samples alternately (A, B, A, B, ...)
 * until each variant has at least `minSamples` samples and `minTime` of measured time (or `maxSamples`, or the
 * case has spent `caseBudget` of measured time in all: then a slow baseline does not keep sampling for the sake of
 * a fast variant that needs many runs to fill its `minTime`).
 */
import type { BenchCase, BenchSuite } from '@lab/tooling/bench';
import { type Summary, pairedRatio, summarize } from './stats.js';

export interface VariantResult {
  name: string;
  /** Milliseconds per run, in the order taken. */
  samples: number[];
  time: Summary;
  /** Work per second (e.g. GFLOP/s) when the variant declared its work. */
  throughput?: { value: number; unit: string };
  /** Speed-up over the baseline (variants[0]) from paired samples; absent for the baseline. */
  ratio?: Summary;
  error?: string;
}

export interface CaseResult {
  name: string;
  params: Record<string, string | number | boolean>;
  variants: VariantResult[];
  measures: Record<string, number>;
  error?: string;
}

export interface SuiteResult {
  id: string;
  packageName: string;
  title: string;
  description: string;
  charts: BenchSuite['charts'];
  cases: CaseResult[];
  seconds: number;
}

export interface RunOptions {
  quick: boolean;
  backend: string;
  /** Called before each sample, for the progress display. */
  onProgress?: (p: { suite: string; caseName: string; variant: string; sample: number }) => void;
  /** Called before each case starts (index in the suite, case count) and after it ends. */
  onCase?: (p: { suite: string; caseName: string; index: number; count: number; result?: CaseResult }) => void;
}

const now = () => performance.now();

async function timeOnce(run: () => void | Promise<void>): Promise<number> {
  const t0 = now();
  await run();
  return now() - t0;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export async function runCase(suiteId: string, benchCase: BenchCase, options: RunOptions): Promise<CaseResult> {
  const minSamples = benchCase.samples ?? (options.quick ? 3 : 7);
  const maxSamples = options.quick ? 10 : 40;
  const minTime = options.quick ? 150 : 1500;
  const caseBudget = options.quick ? 2_000 : 20_000;
  const result: CaseResult = { name: benchCase.name, params: benchCase.params ?? {}, variants: [], measures: {} };
  try {
    await benchCase.setup?.();
    const variants = benchCase.variants;
    const samples: number[][] = variants.map(() => []);
    const errors: (string | undefined)[] = variants.map(() => undefined);
    // Warm-up: one run each (JIT, kernel compilation, memory growth).
    for (const [i, v] of variants.entries()) {
      try {
        await v.run();
      } catch (error) {
        errors[i] = describeError(error);
      }
    }
    const live = () => variants.map((_, i) => i).filter((i) => errors[i] === undefined);
    for (let s = 0; s < maxSamples; s++) {
      const active = live();
      if (active.length === 0) break;
      const measured = active.map((i) => samples[i]!.reduce((a, b) => a + b, 0));
      const spent = measured.reduce((a, b) => a + b, 0);
      const enough = active.every(
        (i, k) => samples[i]!.length >= minSamples && (measured[k]! >= minTime || spent >= caseBudget),
      );
      if (enough) break;
      // Alternate the order each round so neither variant always runs first.
      const order = s % 2 === 0 ? active : [...active].reverse();
      for (const i of order) {
        options.onProgress?.({ suite: suiteId, caseName: benchCase.name, variant: variants[i]!.name, sample: s + 1 });
        try {
          samples[i]!.push(await timeOnce(variants[i]!.run));
        } catch (error) {
          errors[i] = describeError(error);
        }
      }
    }
    const baseline = samples[0]!;
    result.variants = variants.map((v, i) => {
      const time = summarize(samples[i]!);
      const out: VariantResult = { name: v.name, samples: samples[i]!, time };
      if (v.work && time.median > 0) {
        out.throughput = { value: v.work.amount / (time.median / 1000), unit: `${v.work.unit}/s` };
      }
      if (i > 0 && errors[0] === undefined && errors[i] === undefined) out.ratio = pairedRatio(baseline, samples[i]!);
      if (errors[i]) out.error = errors[i];
      return out;
    });
    if (benchCase.measure) result.measures = await benchCase.measure();
  } catch (error) {
    result.error = describeError(error);
  } finally {
    try {
      await benchCase.teardown?.();
    } catch (error) {
      result.error ??= describeError(error);
    }
  }
  return result;
}

/** Runs every case of a suite (see {@link runCase}). */
export async function runSuite(suite: BenchSuite, packageName: string, options: RunOptions): Promise<SuiteResult> {
  const started = performance.now();
  const cases = await suite.cases({ quick: options.quick, backend: options.backend });
  const result: SuiteResult = {
    id: suite.id,
    packageName,
    title: suite.title,
    description: suite.description,
    charts: suite.charts,
    cases: [],
    seconds: 0,
  };
  for (const [index, benchCase] of cases.entries()) {
    const info = { suite: suite.id, caseName: benchCase.name, index, count: cases.length };
    options.onCase?.(info);
    const caseResult = await runCase(suite.id, benchCase, options);
    result.cases.push(caseResult);
    options.onCase?.({ ...info, result: caseResult });
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
