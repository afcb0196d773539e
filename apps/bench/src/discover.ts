/** Finds the suites that each package registers in packages/<name>/bench/index.ts. */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchSuite } from '@lab/tooling/bench';

/** The repository root: the nearest folder above `from` holding pnpm-workspace.yaml. */
export function repoRoot(from = process.cwd()): string {
  let dir = from;
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('bench: not inside the repository (no pnpm-workspace.yaml above)');
    dir = parent;
  }
  return dir;
}

export interface DiscoveredSuite {
  packageName: string;
  suite: BenchSuite;
}

export async function discoverSuites(root: string): Promise<DiscoveredSuite[]> {
  const packagesDir = join(root, 'packages');
  const found: DiscoveredSuite[] = [];
  for (const name of readdirSync(packagesDir).sort()) {
    const entry = join(packagesDir, name, 'bench', 'index.ts');
    if (!existsSync(entry)) continue;
    const module = (await import(pathToFileURL(entry).href)) as { suites?: BenchSuite[] };
    if (!Array.isArray(module.suites)) {
      throw new Error(`bench: ${entry} must export \`suites: BenchSuite[]\``);
    }
    for (const suite of module.suites) found.push({ packageName: `@lab/${name}`, suite });
  }
  return found;
}
