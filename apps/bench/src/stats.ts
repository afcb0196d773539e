/** Order statistics for benchmark samples. */

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export interface Summary {
  median: number;
  /** Interquartile range divided by the median (relative spread). */
  spread: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  const iqr = quantile(sorted, 0.75) - quantile(sorted, 0.25);
  return {
    median,
    spread: median > 0 ? iqr / median : 0,
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    n: sorted.length,
  };
}

/**
 * Speed-up of `variant` over `baseline` from paired samples (A and B alternate, so the pairs share machine
 * state): the median of baseline_i / variant_i, with the interquartile range of those ratios.
 */
export function pairedRatio(baseline: readonly number[], variant: readonly number[]): Summary {
  const n = Math.min(baseline.length, variant.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(baseline[i]! / variant[i]!);
  return summarize(ratios);
}
