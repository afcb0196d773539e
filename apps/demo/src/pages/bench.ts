/**
 * The benchmark page: the bench app's quick suites, run in a Web Worker in this browser, with the same
 * harness as `pnpm bench` (alternating variants, paired speed-up ratios against the baseline).
 */
import { formatMs } from '../../../bench/src/format.js';
import type { SuiteResult } from '../../../bench/src/runner.js';
import type { BenchEvent, BenchRequest } from '../bench.worker.js';
import { absoluteWasmPaths } from '../workers/urls.js';
import type { DemoPage } from '../page.js';

/** Horizontal bars of the speed-up of every non-baseline variant (log scale, 1× marked). */
function drawSpeedups(svg: SVGSVGElement, results: SuiteResult[]): void {
  const rows = results.flatMap((s) =>
    s.cases.flatMap((c) =>
      c.variants
        .filter((v) => v.ratio && Number.isFinite(v.ratio.median) && v.ratio.median > 0)
        .map((v) => ({ label: `${s.id} · ${c.name} · ${v.name}`, value: v.ratio!.median })),
    ),
  );
  const rowH = 18;
  const m = { left: 360, right: 60, top: 28, bottom: 34 };
  const width = 900;
  const height = Math.max(120, m.top + m.bottom + rows.length * rowH);
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  const lo = Math.min(0.1, ...rows.map((r) => r.value));
  const hi = Math.max(10, ...rows.map((r) => r.value));
  const sx = (v: number) =>
    m.left +
    ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (width - m.left - m.right);
  const parts = [`<rect width="${width}" height="${height}" fill="white"/>`];
  parts.push(
    `<text x="${m.left}" y="18" font-size="13" font-weight="bold">speed-up over the baseline (log scale)</text>`,
  );
  for (let e = Math.ceil(Math.log10(lo)); e <= Math.floor(Math.log10(hi)); e++) {
    const x = sx(10 ** e);
    parts.push(
      `<line x1="${x}" y1="${m.top}" x2="${x}" y2="${height - m.bottom}" stroke="${e === 0 ? '#333' : '#eee'}"/>`,
    );
    parts.push(
      `<text x="${x}" y="${height - m.bottom + 16}" text-anchor="middle" font-size="11">${10 ** e}×</text>`,
    );
  }
  rows.forEach((r, i) => {
    const y = m.top + i * rowH;
    const x0 = sx(1);
    const x1 = sx(r.value);
    const label = r.label.length > 58 ? `${r.label.slice(0, 57)}…` : r.label;
    parts.push(
      `<text x="${m.left - 6}" y="${y + 13}" text-anchor="end" font-size="11">${label.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`,
    );
    parts.push(
      `<rect x="${Math.min(x0, x1)}" y="${y + 3}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${rowH - 6}" fill="${r.value >= 1 ? '#2e7d32' : '#c62828'}"/>`,
    );
    parts.push(
      `<text x="${Math.max(x0, x1) + 4}" y="${y + 13}" font-size="11">${r.value.toFixed(2)}×</text>`,
    );
  });
  parts.push(
    `<text x="${(m.left + width - m.right) / 2}" y="${height - 6}" text-anchor="middle" font-size="12">speed-up (baseline time / variant time)</text>`,
  );
  svg.innerHTML = parts.join('');
}

let worker: Worker | undefined;

export const page: DemoPage = {
  id: 'bench',
  title: 'Benchmarks in this browser',
  summary: "The bench app's quick suites, run here in a Web Worker with the same harness as `pnpm bench`.",
  references: 'apps/bench: alternating samples, medians of paired ratios',
  async mount(root) {
    root.innerHTML = `
      <p>Each case times its variants alternately; the first is the baseline a user would otherwise pick (the
      tfjs composite on the same wasm backend, or another library), and the speed-up is the median of the
      paired ratios. Results depend on this machine and browser; the full runs on Node are in the README.</p>
      <div class="controls">
        <button type="button" data-main-control>Run the quick suites</button>
        <label>suites <select><option value="">all</option><option>tensor</option><option>precision</option><option>segmetrics</option><option>attention</option><option>ssm</option><option>diffusion</option><option>conv</option></select></label>
        <label>threads <select class="threads"><option>1</option><option selected>2</option></select></label>
        <span class="status" role="status">idle</span>
      </div>
      <div class="progress" aria-hidden="true"><div></div></div>
      <svg data-main-output width="900" height="120" role="img" aria-label="speed-ups"></svg>
      <div class="table"></div>`;
    const button = root.querySelector('button')!;
    const filter = root.querySelector<HTMLSelectElement>('select')!;
    const threads = root.querySelector<HTMLSelectElement>('select.threads')!;
    const status = root.querySelector('.status')!;
    const bar = root.querySelector<HTMLDivElement>('.progress > div')!;
    const svg = root.querySelector('svg')!;
    const table = root.querySelector('.table')!;
    const results: SuiteResult[] = [];
    drawSpeedups(svg, results);
    const renderTable = () => {
      const rows = results.flatMap((s) =>
        s.cases.flatMap((c) =>
          c.variants.map(
            (v) =>
              `<tr><td>${s.id}</td><td>${c.name}</td><td>${v.name}</td><td>${v.error ? 'error' : formatMs(v.time.median)}</td><td>${v.ratio ? `${v.ratio.median.toFixed(2)}×` : 'baseline'}</td></tr>`,
          ),
        ),
      );
      table.innerHTML = `<table><thead><tr><th>suite</th><th>case</th><th>variant</th><th>median</th><th>speed-up</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
    };
    button.addEventListener('click', () => {
      worker?.terminate();
      results.length = 0;
      status.textContent = 'starting…';
      bar.style.width = '2%';
      worker = new Worker(new URL('../bench.worker.ts', import.meta.url), { type: 'module' });
      worker.addEventListener('message', (e: MessageEvent<BenchEvent>) => {
        const ev = e.data;
        if (ev.type === 'start')
          status.textContent = `${ev.suites.length} suites on ${ev.backend}, ${ev.threads} thread(s)`;
        else if (ev.type === 'progress') {
          status.textContent = `${ev.suite} › ${ev.caseName} › ${ev.variant} #${ev.sample}`;
          bar.style.width = `${Math.max(2, (100 * ev.done) / Math.max(1, ev.total))}%`;
        } else if (ev.type === 'suite') {
          results.push(ev.result);
          drawSpeedups(svg, results);
          renderTable();
        } else if (ev.type === 'done') {
          status.textContent = `done: ${results.length} suites`;
          bar.style.width = '100%';
        } else {
          status.textContent = `failed: ${ev.message}`;
        }
      });
      const request: BenchRequest = {
        type: 'run',
        wasmPaths: absoluteWasmPaths(),
        threads: Number(threads.value),
        filter: filter.value,
      };
      worker.postMessage(request);
    });
  },
  unmount() {
    worker?.terminate();
    worker = undefined;
  },
};
