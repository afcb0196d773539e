#!/usr/bin/env node
// Adds up every package's test results (.test-results/*.json: vitest's JSON reports and lab-check-package's
// summaries) and prints one line: "N passed, N failed[, N skipped]". Exits 1 when something failed or
// nothing ran at all.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = process.cwd();
const dirs = ['packages', 'apps'].flatMap((group) =>
  existsSync(join(root, group)) ? readdirSync(join(root, group)).map((name) => join(root, group, name)) : [],
);
let passed = 0;
let failed = 0;
let skipped = 0;
let suitesFailed = 0;
for (const dir of dirs) {
  const results = join(dir, '.test-results');
  if (!existsSync(results)) continue;
  for (const file of readdirSync(results).filter((f) => f.endsWith('.json'))) {
    const report = JSON.parse(readFileSync(join(results, file), 'utf8'));
    passed += report.numPassedTests ?? 0;
    failed += report.numFailedTests ?? 0;
    skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    suitesFailed += report.numFailedTestSuites ?? 0;
  }
}
// A test file that fails to load counts as a failure even though it ran no test.
failed += suitesFailed > 0 && failed === 0 ? suitesFailed : 0;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
