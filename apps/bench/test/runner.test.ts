import { describe, expect, it } from 'vitest';
import { runCase } from '../src/runner.js';

const busy = (ms: number) => () => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
};

describe('runCase', () => {
  it('stops a case once its time budget is spent, even if a fast variant has not filled its minimum time', async () => {
    // Quick mode: at least 3 samples and 150 ms per variant, at most 10 rounds, 2 s of measured time per case.
    // The 1 ms variant would need 150 rounds to reach 150 ms; the 250 ms baseline spends the 2 s budget in 8.
    const result = await runCase(
      'test',
      {
        name: 'slow baseline, fast variant',
        variants: [
          { name: 'slow', run: busy(250) },
          { name: 'fast', run: busy(1) },
        ],
      },
      { quick: true, backend: 'cpu' },
    );
    const [slow, fast] = result.variants;
    expect(slow!.samples.length).toBe(fast!.samples.length);
    expect(slow!.samples.length).toBeGreaterThanOrEqual(3);
    expect(slow!.samples.length).toBeLessThan(10);
    expect(fast!.ratio!.median).toBeGreaterThan(50);
  });
});
