// The vitest preset of every package: tests run on src/ through the "source" export condition, and the
// results are written as JSON to the ignored .test-results/ folder, where .ci/run adds them up.
// With `browser: true` the same test files also run in headless Debian Chromium (playwright-core).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { playwright } from '@vitest/browser-playwright';
import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

/** Chromium flags for this machine: no sandbox as root, no background network (the network is closed). */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const chromiumPath = process.env.LAB_CHROMIUM ?? '/usr/bin/chromium';

const require = createRequire(import.meta.url);
/** tfjs-backend-wasm's dist folder (with a trailing slash), served to the browser project by Vite. */
const tfjsWasmDir = `${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`;
const browserSetup = fileURLToPath(new URL('./browser-setup.js', import.meta.url));

/** @param {{ testTimeout?: number; include?: string[]; browserInclude?: string[]; fileParallelism?: boolean; browser?: boolean }} [options] */
export function packageTestConfig(options = {}) {
  const include = options.include ?? ['test/**/*.test.ts', 'src/**/*.test.ts'];
  const resolve = { conditions: ['source', ...defaultClientConditions] };
  const ssr = { resolve: { conditions: ['source', ...defaultServerConditions], externalConditions: ['source'] } };
  const shared = {
    testTimeout: options.testTimeout ?? 60_000,
    hookTimeout: 120_000,
  };
  const node = {
    resolve,
    ssr,
    test: { ...shared, name: 'node', include, pool: 'forks', fileParallelism: options.fileParallelism ?? true },
  };
  const projects = [node];
  if (options.browser) {
    projects.push({
      resolve,
      define: { __LAB_TFJS_WASM_DIR__: JSON.stringify(tfjsWasmDir) },
      test: {
        setupFiles: [browserSetup],
        ...shared,
        name: 'chromium',
        include: options.browserInclude ?? include,
        exclude: ['**/node_modules/**', '**/*.node.test.ts'],
        browser: {
          enabled: true,
          headless: true,
          screenshotFailures: false,
          provider: playwright({ launchOptions: { executablePath: chromiumPath, args: chromiumArgs } }),
          instances: [{ browser: 'chromium' }],
        },
      },
    });
  }
  return defineConfig({
    test: {
      projects,
      reporters: ['default', 'json'],
      outputFile: { json: '.test-results/vitest.json' },
    },
  });
}
