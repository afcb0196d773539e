import { describe, expect, it } from 'vitest';
import { compareReports, formatMs, type Report } from '../src/report.js';
import { pairedRatio, quantile, summarize } from '../src/stats.js';
import { lineChart } from '../src/svg.js';

describe('statistics', () => {
  it('quantiles interpolate', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([5], 0.25)).toBe(5);
  });
  it('summary: median and relative interquartile spread', () => {
    const s = summarize([4, 1, 3, 2, 5]);
    expect(s.median).toBe(3);
    expect(s.spread).toBeCloseTo((4 - 2) / 3);
    expect([s.min, s.max, s.n]).toEqual([1, 5, 5]);
  });
  it('paired ratios', () => {
    expect(pairedRatio([10, 20, 30], [5, 10, 15]).median).toBe(2);
  });
});

describe('compare', () => {
  const report = (median: number, spread: number): Report => ({
    schema: 'lab-bench/1',
    environment: {} as Report['environment'],
    suites: [
      {
        id: 's',
        packageName: 'p',
        title: '',
        description: '',
        charts: [],
        seconds: 1,
        cases: [{ name: 'c', params: {}, measures: {}, variants: [{ name: 'v', samples: [], time: { median, spread, min: 0, max: 0, n: 1 } }] }],
      },
    ],
  });
  it('flags changes beyond the measured noise only', () => {
    expect(compareReports(report(10, 0.02), report(13, 0.02))[0]!.verdict).toBe('slower');
    expect(compareReports(report(10, 0.02), report(7, 0.02))[0]!.verdict).toBe('faster');
    expect(compareReports(report(10, 0.2), report(13, 0.2))[0]!.verdict).toBe('same');
  });
});

describe('formatting and charts', () => {
  it('formats times', () => {
    expect(formatMs(0.05)).toBe('50.0 µs');
    expect(formatMs(12.34)).toBe('12.3 ms');
    expect(formatMs(2500)).toBe('2.50 s');
  });
  it('draws a chart with axes, labels and a legend', () => {
    const svg = lineChart({
      title: 'T',
      xLabel: 'L',
      yLabel: 'ms',
      logX: true,
      series: [
        { name: 'flash', points: [{ x: 512, y: 3 }, { x: 1024, y: 9 }] },
        { name: 'composite', points: [{ x: 512, y: 5 }, { x: 1024, y: 20 }] },
      ],
    });
    expect(svg).toContain('<polyline');
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('>flash<');
    expect(svg).toContain('>ms<');
    expect(lineChart({ title: 'x', xLabel: '', yLabel: '', series: [] })).toBe('');
  });
});
