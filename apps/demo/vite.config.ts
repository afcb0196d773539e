import { defaultClientConditions, defineConfig } from 'vite';

// Cross-origin isolation (COOP/COEP) gives the page SharedArrayBuffer, so the kernels' worker pool can run
// inside the demo's Web Workers. Relative base: the built folder works from any static host or sub-path.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  base: './',
  resolve: { conditions: ['source', ...defaultClientConditions] },
  server: { headers: isolation },
  preview: { headers: isolation },
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 4000, assetsInlineLimit: 0 },
  optimizeDeps: { exclude: ['@lab/tensor'] },
});
