/**
 * Writes a bench report's summary into the README (between the bench-summary markers) and copies its charts
 * to docs/bench/:  node --conditions=source --import tsx src/readme.ts <report.json>
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { repoRoot } from './discover.js';
import { formatMs, formatNumber, formatThroughput, type Report, writeReport } from './report.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: readme.ts <bench-results/...json>');
  process.exit(2);
}
const root = repoRoot();
const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
const env = report.environment;
const stamp = basename(file, '.json');

const docs = join(root, 'docs', 'bench');
rmSync(docs, { recursive: true, force: true });
mkdirSync(docs, { recursive: true });
// Charts are drawn again from the report's data, with the current chart code.
const rendered = writeReport(report, mkdtempSync(join(tmpdir(), 'lab-readme-')), stamp);
const charts = rendered.svgs.map((f) => basename(f)).sort();
for (const svg of rendered.svgs) copyFileSync(svg, join(docs, basename(svg)));

const lines: string[] = [
  `Latest full run: ${env.date.slice(0, 10)}, ${env.runtime}, ${env.cpuModel} × ${env.cpuCount}, backend ${env.backend}, ` +
    `${env.threads} thread${env.threads > 1 ? 's' : ''}, commit ${env.gitCommit}. For each suite, its largest case; ` +
    'speed-up = baseline time / variant time (median of paired ratios, ± interquartile range). Every case is in ' +
    'the full report (`pnpm bench`).',
  '',
  '| suite | case | variant | median | throughput | speed-up |',
  '|---|---|---|---:|---:|---:|',
];
for (const suite of report.suites) {
  const c = [...suite.cases].reverse().find((x) => !x.error && x.variants.length > 0);
  if (!c) continue;
  for (const v of c.variants) {
    const ratio = v.ratio ? `**${v.ratio.median.toFixed(2)}×** ±${(v.ratio.spread * 100).toFixed(0)}%` : 'baseline';
    const tp = v.throughput ? formatThroughput(v.throughput.value, v.throughput.unit) : '';
    lines.push(`| \`${suite.id}\` | ${c.name} | ${v.name} | ${v.error ? 'error' : formatMs(v.time.median)} | ${tp} | ${ratio} |`);
  }
  const measures = Object.entries(c.measures).slice(0, 6);
  if (measures.length > 0) {
    lines.push(`| | | ${measures.map(([k, v]) => `${k} = ${formatNumber(v)}`).join('; ')} | | | |`);
  }
}
if (charts.length > 0) {
  lines.push('');
  for (const svg of charts) lines.push(`<img src="docs/bench/${svg}" alt="${svg.replace(/\.svg$/, '')}" width="420">`);
}
const readmePath = join(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const start = '<!-- bench-summary:start -->';
const end = '<!-- bench-summary:end -->';
const i = readme.indexOf(start);
const j = readme.indexOf(end);
if (i < 0 || j < i) throw new Error('README.md has no bench-summary markers');
writeFileSync(readmePath, `${readme.slice(0, i + start.length)}\n${lines.join('\n')}\n${readme.slice(j)}`);
console.log(`README.md: summary of ${report.suites.length} suites, ${charts.length} charts in docs/bench/`);
