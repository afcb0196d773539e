/** The bench report: JSON with every sample, markdown with tables, and SVG charts. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { BenchChart } from '@lab/tooling/bench';
import { formatMs, formatNumber, formatThroughput } from './format.js';
import type { SuiteResult } from './runner.js';
import { type ChartSpec, lineChart, type Series } from './svg.js';

export interface Environment {
  date: string;
  runtime: string;
  platform: string;
  cpuModel: string;
  cpuCount: number;
  memoryGiB: number;
  backend: string;
  threads: number;
  quick: boolean;
  gitCommit: string;
  packages: Record<string, string>;
}

export interface Report {
  schema: 'lab-bench/1';
  environment: Environment;
  suites: SuiteResult[];
}

function chartSeries(suite: SuiteResult, chart: BenchChart): Series[] {
  const series = new Map<string, Series>();
  const add = (name: string, x: number, y: number) => {
    if (!series.has(name)) series.set(name, { name, points: [] });
    series.get(name)!.points.push({ x, y });
  };
  for (const c of suite.cases) {
    const x = Number(c.params[chart.x]);
    if (!Number.isFinite(x)) continue;
    if (chart.where && Object.entries(chart.where).some(([k, v]) => c.params[k] !== v)) continue;
    if (chart.y === 'time') for (const v of c.variants) add(v.name, x, v.time.median);
    else if (chart.y === 'throughput') {
      for (const v of c.variants) if (v.throughput) add(v.name, x, v.throughput.value);
    } else {
      for (const [key, value] of Object.entries(c.measures)) {
        if (key === chart.y || key.startsWith(`${chart.y}:`)) add(key === chart.y ? key : key.slice(chart.y.length + 1), x, value);
      }
    }
  }
  return [...series.values()];
}

function yLabel(suite: SuiteResult, chart: BenchChart): string {
  if (chart.y === 'time') return 'median time per run (ms)';
  if (chart.y === 'throughput') {
    const unit = suite.cases.flatMap((c) => c.variants).find((v) => v.throughput)?.throughput?.unit;
    return unit ? `throughput (${unit})` : 'throughput';
  }
  return chart.y;
}

export { formatMs, formatNumber, formatThroughput } from './format.js';

export function writeReport(report: Report, outDir: string, stamp: string): { json: string; md: string; svgs: string[] } {
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, `${stamp}.json`);
  writeFileSync(json, JSON.stringify(report, null, 1));
  const svgDir = join(outDir, stamp);
  const svgs: string[] = [];
  const env = report.environment;
  const lines: string[] = [
    `# Benchmark report ${env.date}`,
    '',
    `${env.runtime} on ${env.platform}, ${env.cpuModel} × ${env.cpuCount}, ${env.memoryGiB} GiB; backend **${env.backend}**, ` +
      `${env.threads} thread${env.threads > 1 ? 's' : ''}${env.quick ? ', quick run' : ''}; commit ${env.gitCommit}.`,
    '',
    'Every case times its variants alternately; the first variant is the baseline (what a user would pick ' +
      'instead) and the speed-up is the median of paired ratios baseline / variant, with its interquartile range.',
    '',
  ];
  for (const suite of report.suites) {
    lines.push(`## ${suite.title} (\`${suite.id}\`)`, '', suite.description, '');
    lines.push('| case | variant | median | spread | throughput | speed-up |', '|---|---|---:|---:|---:|---:|');
    for (const c of suite.cases) {
      if (c.error) lines.push(`| ${c.name} | **error** | ${c.error.replace(/\|/g, '/')} | | | |`);
      for (const v of c.variants) {
        const ratio = v.ratio ? `${v.ratio.median.toFixed(2)}× ±${(v.ratio.spread * 100).toFixed(0)}%` : 'baseline';
        const tp = v.throughput ? formatThroughput(v.throughput.value, v.throughput.unit) : '';
        const time = v.error ? `error: ${v.error.replace(/\|/g, '/')}` : formatMs(v.time.median);
        lines.push(`| ${c.name} | ${v.name} | ${time} | ±${(v.time.spread * 100).toFixed(0)}% | ${tp} | ${ratio} |`);
      }
    }
    const measured = suite.cases.filter((c) => Object.keys(c.measures).length > 0);
    if (measured.length > 0) {
      lines.push('', '| case | measure | value |', '|---|---|---:|');
      for (const c of measured) {
        for (const [k, v] of Object.entries(c.measures)) lines.push(`| ${c.name} | ${k} | ${formatNumber(v)} |`);
      }
    }
    (suite.charts ?? []).forEach((chart, i) => {
      const spec: ChartSpec = {
        title: chart.title,
        xLabel: chart.x,
        yLabel: yLabel(suite, chart),
        logX: chart.logX,
        logY: chart.logY,
        series: chartSeries(suite, chart),
      };
      const svg = lineChart(spec);
      if (!svg) return;
      mkdirSync(svgDir, { recursive: true });
      const file = join(svgDir, `${suite.id.replace(/[^a-z0-9-]+/gi, '_')}-${i}.svg`);
      writeFileSync(file, svg);
      svgs.push(file);
      lines.push('', `![${chart.title}](${relative(outDir, file)})`);
    });
    lines.push('', `_${suite.seconds.toFixed(1)} s_`, '');
  }
  const md = join(outDir, `${stamp}.md`);
  writeFileSync(md, lines.join('\n'));
  return { json, md, svgs };
}

export interface Comparison {
  key: string;
  oldMedian: number;
  newMedian: number;
  /** new / old time: above 1 is slower. */
  ratio: number;
  /** The change that noise alone would explain (sum of both relative spreads, at least 5%). */
  noise: number;
  verdict: 'slower' | 'faster' | 'same';
}

/** Compares every (suite, case, variant) time with an earlier report. */
export function compareReports(previous: Report, current: Report): Comparison[] {
  const old = new Map<string, { median: number; spread: number }>();
  for (const s of previous.suites)
    for (const c of s.cases) for (const v of c.variants) old.set(`${s.id} | ${c.name} | ${v.name}`, v.time);
  const out: Comparison[] = [];
  for (const s of current.suites)
    for (const c of s.cases)
      for (const v of c.variants) {
        const key = `${s.id} | ${c.name} | ${v.name}`;
        const before = old.get(key);
        if (!before || !(before.median > 0) || !(v.time.median > 0)) continue;
        const ratio = v.time.median / before.median;
        const noise = Math.max(0.05, before.spread + v.time.spread);
        const verdict = ratio > 1 + noise ? 'slower' : ratio < 1 / (1 + noise) ? 'faster' : 'same';
        out.push({ key, oldMedian: before.median, newMedian: v.time.median, ratio, noise, verdict });
      }
  return out;
}
