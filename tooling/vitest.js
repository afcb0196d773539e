// The vitest preset of every package: tests run on src/ through the "source" export condition, and the
// results are written as JSON to the ignored .test-results/ folder, where .ci/run adds them up.
import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

/** @param {{ testTimeout?: number; include?: string[]; fileParallelism?: boolean }} [options] */
export function packageTestConfig(options = {}) {
  return defineConfig({
    resolve: { conditions: ['source', ...defaultClientConditions] },
    ssr: { resolve: { conditions: ['source', ...defaultServerConditions], externalConditions: ['source'] } },
    test: {
      include: options.include ?? ['test/**/*.test.ts', 'src/**/*.test.ts'],
      testTimeout: options.testTimeout ?? 60_000,
      hookTimeout: 120_000,
      fileParallelism: options.fileParallelism ?? true,
      pool: 'forks',
      reporters: ['default', 'json'],
      outputFile: { json: '.test-results/vitest.json' },
    },
  });
}
