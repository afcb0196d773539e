// The one build configuration of every library: ESM + CJS + .d.ts from src/index.ts.
// Options are kept to those that tsup and tsdown share (entry, format, dts, sourcemap, clean, external),
// so the build tool can be swapped in one step.
import { defineConfig } from 'tsup';

/** @param {{ entry?: string[] | Record<string, string>; external?: string[] }} [options] */
export function libraryConfig(options = {}) {
  return defineConfig({
    entry: options.entry ?? ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    external: [/^@tensorflow\//, /^@lab\//, /^node:/, ...(options.external ?? [])],
  });
}
