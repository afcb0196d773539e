/**
 * The demo shell: navigation, the home page, and one page per package (src/pages/*.ts, each exporting
 * `page: DemoPage`). Every page computes live on the tfjs wasm backend.
 */
import { initBackend } from '@lab/tensor';
import type { DemoPage } from './page.js';
import './style.css';
import { wasmPaths } from './wasm-paths.js';

const ORDER = ['tensor', 'precision', 'segmetrics', 'attention', 'ssm', 'diffusion', 'conv', 'bench'];
const modules = import.meta.glob<{ page: DemoPage }>('./pages/*.ts', { eager: true });
const pages = Object.values(modules)
  .map((m) => m.page)
  .filter((p): p is DemoPage => !!p)
  .sort((a, b) => ((ORDER.indexOf(a.id) + 100) % 100) - ((ORDER.indexOf(b.id) + 100) % 100));

const app = document.getElementById('app')!;
const nav = document.getElementById('nav')!;
let current: DemoPage | undefined;
let navigation = 0;

function renderNav(active: string): void {
  nav.replaceChildren(
    ...pages.map((p) => {
      const a = document.createElement('a');
      a.href = `#/${p.id}`;
      a.textContent = p.title.split(':')[0]!;
      a.title = p.title;
      if (p.id === active) a.setAttribute('aria-current', 'page');
      return a;
    }),
  );
}

function renderHome(): void {
  const intro = document.createElement('section');
  intro.className = 'home';
  intro.innerHTML = `
    <h1>The reference ML toolkit for TypeScript</h1>
    <p>EDM diffusion samplers, FlashAttention, Mamba and S4, mixed precision, segmentation metrics and dilated
    convolution: small packages on <code>@tensorflow/tfjs-core</code> that match the reference implementations
    (PyTorch, NVlabs/edm, k-diffusion, state-spaces, torchmetrics, ml_dtypes) and run fused WebAssembly SIMD
    kernels in Node and in the browser. Every page below computes live, here, on the wasm backend.</p>`;
  const list = document.createElement('ul');
  list.className = 'cards';
  for (const p of pages) {
    const li = document.createElement('li');
    li.innerHTML = `<a href="#/${p.id}"><strong></strong><span></span><em></em></a>`;
    li.querySelector('strong')!.textContent = p.title;
    li.querySelector('span')!.textContent = p.summary;
    li.querySelector('em')!.textContent = p.references;
    list.append(li);
  }
  intro.append(list);
  app.replaceChildren(intro);
}

async function route(): Promise<void> {
  const id = location.hash.replace(/^#\/?/, '');
  const token = ++navigation;
  current?.unmount?.();
  current = undefined;
  document.body.removeAttribute('data-ready');
  renderNav(id);
  const page = pages.find((p) => p.id === id);
  if (!page) {
    renderHome();
    document.body.dataset.ready = 'home';
    return;
  }
  const article = document.createElement('article');
  article.className = 'page';
  const header = document.createElement('header');
  header.innerHTML = '<h1></h1><p class="refs"></p><p class="summary"></p>';
  header.querySelector('h1')!.textContent = page.title;
  header.querySelector('.refs')!.textContent = page.references;
  header.querySelector('.summary')!.textContent = page.summary;
  const body = document.createElement('div');
  body.className = 'page-body';
  article.append(header, body);
  app.replaceChildren(article);
  current = page;
  try {
    await page.mount(body);
    if (token === navigation) document.body.dataset.ready = page.id;
  } catch (error) {
    const box = document.createElement('pre');
    box.className = 'error';
    box.textContent = `This page failed: ${error instanceof Error ? error.message : String(error)}`;
    body.append(box);
    console.error(error);
  }
  app.focus();
}

const backend = await initBackend('wasm', { wasmPaths });
document.getElementById('backend')!.textContent = backend;
window.addEventListener('hashchange', () => void route());
await route();
