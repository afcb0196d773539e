#!/usr/bin/env node
// Checks what a library publishes, as its users will receive it: publint --strict on the package and
// @arethetypeswrong/cli on the tarball that `pnpm pack` makes. Writes the outcome beside the vitest results
// (.test-results/package.json) so .ci/run counts both checks.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = (name) => join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin', name);
const packageDir = process.cwd();
const packDir = join(packageDir, '.pack');
const results = [];

function check(name, command, args) {
  try {
    const out = execFileSync(command, args, { cwd: packageDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    results.push({ name, status: 'passed' });
    console.log(`✓ ${name}`);
    if (process.env.LAB_VERBOSE) console.log(out);
  } catch (error) {
    results.push({ name, status: 'failed', message: `${error.stdout ?? ''}${error.stderr ?? ''}` });
    console.error(`✗ ${name}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  }
}

check('publint --strict', bin('publint'), ['--strict', '--pack', 'pnpm']);

rmSync(packDir, { recursive: true, force: true });
mkdirSync(packDir, { recursive: true });
execFileSync('pnpm', ['pack', '--pack-destination', packDir], { cwd: packageDir, stdio: 'ignore' });
const tarball = readdirSync(packDir).find((f) => f.endsWith('.tgz'));
check('attw (packed tarball)', bin('attw'), [join(packDir, tarball), '--format', 'ascii']);
rmSync(packDir, { recursive: true, force: true });

const failed = results.filter((r) => r.status === 'failed').length;
mkdirSync(join(packageDir, '.test-results'), { recursive: true });
writeFileSync(
  join(packageDir, '.test-results', 'package.json'),
  JSON.stringify({ numPassedTests: results.length - failed, numFailedTests: failed, numPendingTests: 0, results }, null, 2),
);
process.exit(failed ? 1 : 0);
