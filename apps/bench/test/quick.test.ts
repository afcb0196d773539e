// Runs `bench --quick` end to end (as CI does) and checks that every package's suites ran and that the
// JSON, markdown and SVG reports are complete. The figures themselves are not asserted: tests never time.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/report.js';

const root = join(import.meta.dirname, '..', '..', '..');
const packagesWithSuites = readdirSync(join(root, 'packages')).filter((p) =>
  existsSync(join(root, 'packages', p, 'bench', 'index.ts')),
);

describe('bench --quick', () => {
  let report: Report;
  let out: string;
  let stdout: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'lab-bench-'));
    stdout = execFileSync(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'src/cli.ts', '--quick', '--out', out],
      { cwd: join(import.meta.dirname, '..'), encoding: 'utf8', timeout: 280_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const json = readdirSync(out).find((f) => f.endsWith('.json'))!;
    report = JSON.parse(readFileSync(join(out, json), 'utf8')) as Report;
  }, 300_000);

  it('records the environment', () => {
    const env = report.environment;
    expect(report.schema).toBe('lab-bench/1');
    expect(env.backend).toBe('wasm');
    expect(env.quick).toBe(true);
    expect(env.cpuCount).toBeGreaterThan(0);
    expect(env.runtime).toMatch(/^Node v\d+/);
    expect(env.gitCommit).not.toBe('');
    expect(Object.keys(env.packages)).toContain('@lab/tensor');
  });

  it('ran suites of every package that registers them', () => {
    const packages = new Set(report.suites.map((s) => s.packageName));
    for (const p of packagesWithSuites) expect(packages).toContain(`@lab/${p}`);
  });

  it('every case ran every variant without error, with samples and ratios', () => {
    for (const suite of report.suites) {
      expect(suite.cases.length, suite.id).toBeGreaterThan(0);
      for (const c of suite.cases) {
        expect(c.error, `${suite.id} › ${c.name}`).toBeUndefined();
        for (const [i, v] of c.variants.entries()) {
          expect(v.error, `${suite.id} › ${c.name} › ${v.name}`).toBeUndefined();
          expect(v.samples.length).toBeGreaterThanOrEqual(1);
          expect(v.time.median).toBeGreaterThan(0);
          if (i > 0) expect(v.ratio?.median).toBeGreaterThan(0);
        }
      }
    }
  });

  it('writes the markdown report, the charts and prints the summary table', () => {
    const md = readdirSync(out).find((f) => f.endsWith('.md'))!;
    const text = readFileSync(join(out, md), 'utf8');
    for (const suite of report.suites) expect(text).toContain(`\`${suite.id}\``);
    const svgs = text.match(/!\[[^\]]*\]\(([^)]+\.svg)\)/g) ?? [];
    for (const link of svgs) {
      const file = link.slice(link.indexOf('](') + 2, -1);
      expect(readFileSync(join(out, file), 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<\/svg>$/);
    }
    expect(stdout).toMatch(/suite\s+case\s+variant\s+median\s+speed-up/);
  });
});
