// Setup of the Chromium test project (see vitest.js): tfjs-backend-wasm fetches its .wasm files by URL in a
// browser, and Vite serves them from the package's dist folder through its /@fs/ route. The backend is
// initialised here once, so that a wasm backend that cannot load fails every test file instead of letting
// initBackend('wasm') fall back to cpu unnoticed.
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

// __LAB_TFJS_WASM_DIR__ is defined by vitest.js for the browser project.
setWasmPaths(`/@fs${__LAB_TFJS_WASM_DIR__}`);
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
if (!(await tf.setBackend('wasm'))) throw new Error('browser-setup: the tfjs wasm backend did not initialise in Chromium');
