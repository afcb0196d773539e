// Builds the demo, serves the static folder (with COOP/COEP, as a host should), opens every page in headless
// Debian Chromium through playwright-core, fails on any console error, checks that changing the page's main
// control changes what is drawn, and saves a screenshot of each page to the ignored .screenshots/ folder.
import { createReadStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { chromiumArgs, chromiumPath } from '@lab/tooling/vitest';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const appDir = join(import.meta.dirname, '..');
const outDir = join(appDir, '.screenshots', 'dist');
const shotsDir = join(appDir, '.screenshots');
const pageIds = readdirSync(join(appDir, 'src', 'pages'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();

const MIME: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

function serve(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let file = normalize(join(root, decodeURIComponent(url.pathname)));
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let server: Server;
let browser: Browser;
let base: string;

beforeAll(async () => {
  mkdirSync(shotsDir, { recursive: true });
  await build({ root: appDir, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  server = await serve(outDir);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

async function open(hash: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (error) => errors.push(`${error.name}: ${error.message}`));
  await page.goto(`${base}${hash}`);
  return { page, errors };
}

/** Changes the main control: a different value for a range or select, a click for a button. */
async function changeMainControl(page: Page): Promise<void> {
  const control = page.locator('[data-main-control]').first();
  const tag = await control.evaluate((el) => el.tagName.toLowerCase());
  const type = await control.evaluate((el) => (el as HTMLInputElement).type);
  if (tag === 'select') {
    const options = await control.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    const current = await control.inputValue();
    await control.selectOption(options.find((o) => o !== current) ?? options[0]!);
  } else if (tag === 'input' && type === 'range') {
    await control.evaluate((el) => {
      const input = el as HTMLInputElement;
      const min = Number(input.min || 0);
      const max = Number(input.max || 100);
      input.value = String(Number(input.value) === max ? min : max);
      input.dispatchEvent(new Event('input', { bubbles: true }));
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
  } else if (tag === 'input' && type === 'checkbox') {
    await control.click();
  } else if (tag === 'input') {
    await control.fill(String(Number((await control.inputValue()) || 0) + 1));
    await control.dispatchEvent('change');
  } else {
    await control.click();
  }
}

describe('demo site in headless Chromium', () => {
  it('the home page links every page and is cross-origin isolated', async () => {
    const { page, errors } = await open('#/');
    await page.waitForSelector('body[data-ready="home"]', { timeout: 60_000 });
    for (const id of pageIds) expect(await page.locator(`.cards a[href="#/${id}"]`).count(), id).toBe(1);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await page.locator('#backend').textContent()).toBe('wasm');
    await page.screenshot({ path: join(shotsDir, 'home.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  for (const id of pageIds) {
    it(`page ${id}: loads without console errors and its main control changes the drawing`, async () => {
      const { page, errors } = await open(`#/${id}`);
      await page.waitForSelector(`body[data-ready="${id}"]`, { timeout: 120_000 });
      const output = page.locator('[data-main-output]').first();
      await output.waitFor({ state: 'visible', timeout: 30_000 });
      await page.waitForTimeout(300);
      const before = await output.screenshot();
      await page.screenshot({ path: join(shotsDir, `${id}.png`), fullPage: true });
      await changeMainControl(page);
      let changed = false;
      for (let i = 0; i < 120 && !changed; i++) {
        await page.waitForTimeout(250);
        changed = !(await output.screenshot()).equals(before);
      }
      await page.screenshot({ path: join(shotsDir, `${id}-changed.png`), fullPage: true });
      expect(changed, `${id}: the drawing did not change after the main control changed`).toBe(true);
      expect(errors, `${id}: console errors`).toEqual([]);
      await page.close();
    }, 200_000);
  }

  it('attention: the flash-vs-composite chart is measured in a Web Worker and completes', async () => {
    const { page, errors } = await open('#/attention');
    await page.waitForSelector('body[data-ready="attention"]', { timeout: 120_000 });
    await page.waitForFunction(() => document.body.textContent?.includes('less peak memory'), undefined, {
      timeout: 180_000,
    });
    expect(await page.locator('text=/At L = 1024: flash/').count()).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  }, 200_000);

  it('diffusion: the MLP denoiser trains in a Web Worker and then samples on the page', async () => {
    const { page, errors } = await open('#/diffusion');
    await page.waitForSelector('body[data-ready="diffusion"]', { timeout: 120_000 });
    await page.getByRole('button', { name: /Train MLP denoiser/ }).click();
    await page.waitForFunction(() => document.body.textContent?.includes('trained MLP ·'), undefined, { timeout: 180_000 });
    await page.screenshot({ path: join(shotsDir, 'diffusion-trained.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 200_000);
});
