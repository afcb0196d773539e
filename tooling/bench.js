/** @param {import('./bench.d.ts').BenchSuite} suite */
export function defineSuite(suite) {
  return suite;
}
