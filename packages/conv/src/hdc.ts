/**
 * Hybrid dilated convolution (Wang et al. 2018, "Understanding convolution for semantic segmentation", §3.2):
 * the paper's M_i rule, an exact 1-D coverage test that reports the gridding holes, and a proposer of
 * sawtooth rates for a target receptive field.
 *
 * A stack of dilated convolutions with kernel K and rates r_1…r_n reads, for one output, the input offsets
 * Σ_i r_i·t_i with taps t_i ∈ {0, …, K − 1}: the receptive field has size 1 + (K − 1)·Σ r_i, and an offset
 * that no choice of taps reaches is a hole (gridding). The M_i rule is a sufficient heuristic for one group;
 * the exact test decides every case (for instance [2, 2, 2] and [3, 3, 3] satisfy M_2 ≤ K but have holes).
 */
import { argumentMessage, assertKnownOptions, ValueError } from '@lab/tensor';

/** The largest receptive field the exact test enumerates. */
const MAX_SIZE = 1 << 26;

/** The result of {@link hdcCheck}. */
export interface HdcReport {
  /** True when the stack covers its receptive field with no hole. */
  ok: boolean;
  /** Offsets from the first sample of the receptive field (0 … size − 1) that no output reads. */
  holes: number[];
  /** Receptive-field size 1 + (K − 1)·Σ r_i. */
  size: number;
  /** The paper's rule: M_2 ≤ K (for one layer: r_1 = 1). Necessary in the paper's setting, not sufficient. */
  ruleOk: boolean;
  /** M_1 … M_n of the rule (M_n = r_n; M_i = max(M_{i+1} − 2r_i, M_{i+1} − 2(M_{i+1} − r_i), r_i)). */
  M: number[];
}

function checkRates(fn: string, rates: unknown, kernel: unknown): asserts rates is number[] {
  if (!Array.isArray(rates) || rates.length === 0) {
    throw new ValueError(
      argumentMessage(fn, 'rates', 'a non-empty array of positive integers', JSON.stringify(rates)),
    );
  }
  rates.forEach((r, i) => {
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) {
      throw new ValueError(argumentMessage(fn, `rates[${i}]`, 'a positive integer', String(r)));
    }
  });
  if (typeof kernel !== 'number' || !Number.isInteger(kernel) || kernel < 1) {
    throw new ValueError(argumentMessage(fn, 'kernel', 'a positive integer', String(kernel)));
  }
}

/**
 * Number of tap combinations reaching each offset 0 … size − 1 of the receptive field of a 1-D stack with
 * kernel K and the given rates (the effective receptive field of an all-ones linear stack; 0 = hole).
 */
export function dilationCoverage(rates: readonly number[], kernel: number): Float64Array {
  const fn = 'conv.dilationCoverage';
  checkRates(fn, rates, kernel);
  const size = 1 + (kernel - 1) * rates.reduce((a, b) => a + b, 0);
  if (size > MAX_SIZE) {
    throw new ValueError(
      argumentMessage(fn, 'rates', `a receptive field of at most ${MAX_SIZE}`, `size ${size}`),
    );
  }
  let counts = new Float64Array(size);
  counts[0] = 1;
  let extent = 1;
  for (const r of rates) {
    const next = new Float64Array(size);
    for (let i = 0; i < extent; i++) {
      const c = counts[i]!;
      if (c === 0) continue;
      for (let t = 0; t < kernel; t++) next[i + t * r]! += c;
    }
    counts = next;
    extent += (kernel - 1) * r;
  }
  return counts;
}

/**
 * Checks a stack of dilation rates for gridding (Wang et al. 2018, §3.2.2): the paper's M_i rule and the
 * exact 1-D coverage, reporting the holes. `[1, 2, 5]` with K = 3 passes; `[1, 2, 9]` fails both; `[2, 2, 2]`
 * passes the rule but leaves every odd offset uncovered.
 */
export function hdcCheck(rates: readonly number[], kernel: number): HdcReport {
  const fn = 'conv.hdcCheck';
  checkRates(fn, rates, kernel);
  const counts = dilationCoverage(rates, kernel);
  const holes: number[] = [];
  counts.forEach((c, i) => {
    if (c === 0) holes.push(i);
  });
  const n = rates.length;
  const M = new Array<number>(n);
  M[n - 1] = rates[n - 1]!;
  for (let i = n - 2; i >= 0; i--) {
    const next = M[i + 1]!;
    const r = rates[i]!;
    M[i] = Math.max(next - 2 * r, next - 2 * (next - r), r);
  }
  const ruleOk = n === 1 ? rates[0] === 1 || kernel === 1 : M[1]! <= kernel;
  return { ok: holes.length === 0, holes, size: counts.length, ruleOk, M };
}

/** Options of {@link proposeSawtoothRates}. */
export interface SawtoothOptions {
  /** Layers per sawtooth period (default 3, as [1, 2, 5] in the paper). */
  groupSize?: number;
  /** Largest rate allowed (default: unbounded). */
  maxRate?: number;
}

/** The result of {@link proposeSawtoothRates}. */
export interface SawtoothProposal {
  /** One period of the sawtooth (starts at 1, increasing, hole-free, satisfies the M_i rule). */
  group: number[];
  /** The rates of the whole stack: the period repeated, the last one cut as soon as the target is reached. */
  rates: number[];
  /** Receptive field of the stack (≥ target). */
  size: number;
}

/**
 * Proposes sawtooth dilation rates (Wang et al. 2018, §3.2.2: repeated groups such as [1, 2, 5, 1, 2, 5]) that
 * reach a target receptive field with no gridding: the period is the increasing, hole-free group satisfying
 * the M_i rule with the largest receptive field; it is repeated until `targetSize` is covered, and the
 * result is verified by the exact coverage test.
 */
export function proposeSawtoothRates(
  targetSize: number,
  kernel: number,
  options: SawtoothOptions = {},
): SawtoothProposal {
  const fn = 'conv.proposeSawtoothRates';
  assertKnownOptions(fn, options, ['groupSize', 'maxRate']);
  if (typeof targetSize !== 'number' || !Number.isInteger(targetSize) || targetSize < 1) {
    throw new ValueError(argumentMessage(fn, 'targetSize', 'a positive integer', String(targetSize)));
  }
  if (typeof kernel !== 'number' || !Number.isInteger(kernel) || kernel < 2) {
    throw new ValueError(
      argumentMessage(fn, 'kernel', 'an integer >= 2 (a 1-tap kernel never grows the field)', String(kernel)),
    );
  }
  const { groupSize = 3, maxRate = Number.POSITIVE_INFINITY } = options;
  if (!Number.isInteger(groupSize) || groupSize < 1 || groupSize > 8) {
    throw new ValueError(argumentMessage(fn, 'groupSize', 'an integer in [1, 8]', String(groupSize)));
  }
  if (maxRate !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxRate) || maxRate < 1)) {
    throw new ValueError(argumentMessage(fn, 'maxRate', 'a positive integer', String(maxRate)));
  }
  // Depth-first search over increasing groups starting at 1; a rate above 1 + (K − 1)·Σ previous would leave a
  // hole right away, which bounds the search.
  let best: number[] = [1];
  let bestSum = 0;
  const search = (group: number[], sum: number) => {
    if (group.length === groupSize) {
      const report = hdcCheck(group, kernel);
      if (report.ok && report.ruleOk && sum > bestSum) {
        best = [...group];
        bestSum = sum;
      }
      return;
    }
    const last = group[group.length - 1]!;
    const bound = Math.min(maxRate, 1 + (kernel - 1) * sum);
    for (let r = last + 1; r <= bound; r++) search([...group, r], sum + r);
  };
  search([1], 1);
  if (best.length < groupSize) best = Array.from({ length: groupSize }, () => 1); // maxRate = 1
  const rates: number[] = [];
  let size = 1;
  while (size < targetSize) {
    const r = best[rates.length % best.length]!;
    rates.push(r);
    size += (kernel - 1) * r;
  }
  const report = hdcCheck(rates.length ? rates : [1], kernel);
  if (!report.ok) throw new Error(`${fn}: internal error, the proposal ${JSON.stringify(rates)} has holes`);
  return { group: best, rates, size };
}
