/**
 * Text tables of a segmentation report in the layout of mmseg's evaluation log (per-class table, then a summary
 * table), values in percent with two decimals by default; NaN prints as 'nan', as mmseg prints it.
 */
import { assertInteger, assertKnownOptions, assertOneOf, ValueError } from '@lab/tensor';
import type { SegmentationReport } from './metrics.js';

/** Per-class columns a table can show. */
export type TableColumn = 'IoU' | 'Acc' | 'Dice' | 'Fscore' | 'Precision' | 'Recall' | 'BIoU' | 'Support';
const COLUMNS: readonly TableColumn[] = [
  'IoU',
  'Acc',
  'Dice',
  'Fscore',
  'Precision',
  'Recall',
  'BIoU',
  'Support',
];

export interface FormatTableOptions {
  /** Per-class columns (default ['IoU', 'Acc'], as mmseg's mIoU log). */
  columns?: TableColumn[];
  /** Decimals (default 2). */
  digits?: number;
  /** Values × 100 (default true, as mmseg). */
  percent?: boolean;
}

function center(text: string, width: number): string {
  const pad = width - text.length;
  const left = Math.floor(pad / 2);
  return ' '.repeat(Math.max(0, left)) + text + ' '.repeat(Math.max(0, pad - left));
}

function grid(header: string[], rows: string[][]): string {
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j]!.length)) + 2);
  const rule = `+${widths.map((w) => '-'.repeat(w)).join('+')}+`;
  const line = (cells: string[]) => `|${cells.map((c, j) => center(c, widths[j]!)).join('|')}|`;
  return [rule, line(header), rule, ...rows.map(line), rule].join('\n');
}

/**
 * The mmseg-style log tables of a report: one row per class (with its name) and the summary (aAcc, mIoU,
 * mAcc and the means of the other columns).
 */
export function formatTable(report: SegmentationReport, options: FormatTableOptions = {}): string {
  const fn = 'segmetrics.formatTable';
  assertKnownOptions(fn, options, ['columns', 'digits', 'percent']);
  const { columns = ['IoU', 'Acc'], digits = 2, percent = true } = options;
  if (!Array.isArray(columns) || columns.length === 0) {
    throw new ValueError(
      `${fn}: columns must be a non-empty array of ${COLUMNS.join(', ')}, got ${String(columns)}`,
    );
  }
  columns.forEach((c, i) => {
    assertOneOf(fn, `columns[${i}]`, c, COLUMNS);
  });
  assertInteger(fn, 'digits', digits, 0, 10);
  assertOneOf(fn, 'percent', percent, [true, false]);
  if (columns.includes('BIoU') && !report.boundaryIoU) {
    throw new ValueError(
      `${fn}: the BIoU column needs a report with boundaryIoU (SegmentationMetric with { boundary: true })`,
    );
  }
  const scale = percent ? 100 : 1;
  const fmt = (v: number) => (Number.isNaN(v) ? 'nan' : (v * scale).toFixed(digits));
  const perClass: Record<TableColumn, number[]> = {
    IoU: report.iou,
    Acc: report.accuracy,
    Dice: report.dice,
    Fscore: report.fbeta,
    Precision: report.precision,
    Recall: report.recall,
    BIoU: report.boundaryIoU ?? [],
    Support: report.support,
  };
  const means: Record<TableColumn, [string, number]> = {
    IoU: ['mIoU', report.meanIoU],
    Acc: ['mAcc', report.meanPixelAccuracy],
    Dice: ['mDice', report.meanDice],
    Fscore: ['mFscore', report.meanFbeta],
    Precision: ['mPrecision', report.meanPrecision],
    Recall: ['mRecall', report.meanRecall],
    BIoU: ['mBIoU', report.meanBoundaryIoU ?? Number.NaN],
    Support: ['pixels', report.pixels],
  };
  const rows = report.classNames.map((name, c) => [
    name,
    ...columns.map((col) => (col === 'Support' ? String(perClass.Support[c]) : fmt(perClass[col][c]!))),
  ]);
  const classTable = grid(['Class', ...columns], rows);
  const summaryHeader = ['aAcc', ...columns.map((c) => means[c][0])];
  const summaryRow = [
    fmt(report.pixelAccuracy),
    ...columns.map((c) => (c === 'Support' ? String(means[c][1]) : fmt(means[c][1]))),
  ];
  return `per class results:\n${classTable}\nSummary:\n${grid(summaryHeader, [summaryRow])}`;
}
