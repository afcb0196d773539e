// Registers tfjs-core's gradient for every kernel, so tf.grad / tf.grads work with tfjs-core alone, in Node
// (whose tfjs-core build registers none) and in browsers. Imported by the package index for this effect.
import './generated/gradients.js';
