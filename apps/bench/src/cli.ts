/**
 * `pnpm bench`: discovers every package's suites, runs them on one backend, shows progress, prints a
 * summary table and writes bench-results/<timestamp>.json, .md and SVG charts.
 *
 *   pnpm bench [--quick] [--filter <text|/regex/>] [--backend wasm|cpu] [--threads N]
 *              [--compare <old.json>] [--out <dir>] [--list]
 */
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend, initThreads, threadCount } from '@lab/tensor';
import { discoverSuites, repoRoot } from './discover.js';
import { compareReports, type Environment, formatMs, type Report, writeReport } from './report.js';
import { runSuite, type SuiteResult } from './runner.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    filter: { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    threads: { type: 'string', default: '1' },
    compare: { type: 'string' },
    out: { type: 'string' },
    list: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

if (values.backend !== 'wasm' && values.backend !== 'cpu') fail(`--backend must be wasm or cpu, got ${values.backend}`);
const threads = Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) fail(`--threads must be a positive integer, got ${values.threads}`);

const root = repoRoot();
const outDir = resolve(values.out ?? join(root, 'bench-results'));
const matcher = (() => {
  const f = values.filter;
  if (!f) return () => true;
  if (f.startsWith('/') && f.endsWith('/') && f.length > 2) {
    const re = new RegExp(f.slice(1, -1));
    return (id: string) => re.test(id);
  }
  return (id: string) => id.includes(f);
})();

const tty = process.stderr.isTTY;
let lastLine = '';
function progress(text: string): void {
  if (tty) {
    const line = text.length > 118 ? `${text.slice(0, 117)}…` : text;
    process.stderr.write(`\r${line.padEnd(lastLine.length)}`);
    lastLine = line;
  }
}
function log(text: string): void {
  if (tty && lastLine) {
    process.stderr.write(`\r${' '.repeat(lastLine.length)}\r`);
    lastLine = '';
  }
  console.log(text);
}
function bar(done: number, total: number): string {
  const width = 24;
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

function gitCommit(): string {
  try {
    const sha = execSync('git rev-parse --short HEAD', { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execSync('git status --porcelain', { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}

function packageVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(root, 'packages'))) {
    const file = join(root, 'packages', name, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; version: string };
      out[pkg.name] = pkg.version;
    }
  }
  const core = join(root, 'node_modules', '.pnpm');
  const tfjs = existsSync(core) ? readdirSync(core).find((d) => d.startsWith('@tensorflow+tfjs-core@')) : undefined;
  if (tfjs) out['@tensorflow/tfjs-core'] = tfjs.split('@')[2]!.split('_')[0]!;
  return out;
}

const discovered = await discoverSuites(root);
const selected = discovered.filter(({ suite }) => matcher(suite.id));
if (values.list) {
  for (const { suite } of discovered) console.log(`${suite.id.padEnd(36)} ${suite.title}`);
  process.exit(0);
}
if (selected.length === 0) fail(`no suite matches --filter ${values.filter}`);

const backend = await initBackend(values.backend as 'wasm' | 'cpu');
if (backend !== values.backend) fail(`the ${values.backend} backend could not start (got ${backend})`);
if (threads > 1) await initThreads(threads);

const environment: Environment = {
  date: new Date().toISOString(),
  runtime: `Node ${process.version}`,
  platform: `${process.platform} ${process.arch}`,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  cpuCount: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  backend,
  threads: threadCount(),
  quick: values.quick,
  gitCommit: gitCommit(),
  packages: packageVersions(),
};

log(
  `bench: ${selected.length} suites on ${backend} (${environment.threads} thread${environment.threads > 1 ? 's' : ''})` +
    `${values.quick ? ', quick' : ''}; ${environment.cpuModel} × ${environment.cpuCount}, ${environment.runtime}`,
);

const results: SuiteResult[] = [];
const opts = { quick: values.quick, backend };
let failures = 0;
for (const [index, { packageName, suite }] of selected.entries()) {
  let head = '';
  const result = await runSuite(suite, packageName, {
    ...opts,
    onCase: ({ caseName, index: ci, count, result: caseResult }) => {
      head = `${bar(index, selected.length)} ${suite.id} › ${caseName} (${ci + 1}/${count})`;
      if (!caseResult) return progress(head);
      const errors = [caseResult.error, ...caseResult.variants.map((v) => v.error)].filter(Boolean);
      if (errors.length > 0) {
        failures++;
        log(`  ✗ ${suite.id} › ${caseName}: ${errors.join('; ')}`);
      } else if (!tty) {
        log(`  ✓ ${suite.id} › ${caseName}`);
      }
    },
    onProgress: (p) => progress(`${head} › ${p.variant} #${p.sample}`),
  });
  results.push(result);
  log(`✓ ${suite.id} (${result.cases.length} cases, ${result.seconds.toFixed(1)} s)`);
}

// Summary table.
const rows: string[][] = [['suite', 'case', 'variant', 'median', 'speed-up']];
for (const s of results)
  for (const c of s.cases)
    for (const v of c.variants)
      rows.push([
        s.id,
        c.name,
        v.name,
        v.error ? 'error' : formatMs(v.time.median),
        v.ratio ? `${v.ratio.median.toFixed(2)}× ±${(v.ratio.spread * 100).toFixed(0)}%` : 'baseline',
      ]);
const widths = rows[0]!.map((_, i) => Math.min(48, Math.max(...rows.map((r) => r[i]!.length))));
const fmt = (r: string[]) => r.map((cell, i) => (cell.length > widths[i]! ? `${cell.slice(0, widths[i]! - 1)}…` : cell.padEnd(widths[i]!))).join('  ');
log('');
log(fmt(rows[0]!));
log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows.slice(1)) log(fmt(r));

const report: Report = { schema: 'lab-bench/1', environment, suites: results };
const stamp = environment.date.replace(/[:.]/g, '-');
const written = writeReport(report, outDir, stamp);
log('');
log(`report: ${relative(process.cwd(), written.json)}, ${relative(process.cwd(), written.md)} (${written.svgs.length} charts)`);

if (values.compare) {
  const previous = JSON.parse(readFileSync(resolve(values.compare), 'utf8')) as Report;
  const comparisons = compareReports(previous, report);
  log('');
  log(`compared with ${values.compare} (${previous.environment.date}, ${previous.environment.gitCommit}):`);
  for (const c of comparisons) {
    const mark = c.verdict === 'slower' ? '▲ slower' : c.verdict === 'faster' ? '▼ faster' : '  same';
    log(`${mark}  ${c.ratio.toFixed(2)}× time (noise ±${(c.noise * 100).toFixed(0)}%)  ${c.key}`);
  }
  const slower = comparisons.filter((c) => c.verdict === 'slower').length;
  log(`${slower} slower, ${comparisons.filter((c) => c.verdict === 'faster').length} faster, ${comparisons.filter((c) => c.verdict === 'same').length} within noise`);
}
if (threads > 1) await initThreads(1);
process.exit(failures > 0 ? 1 : 0);
