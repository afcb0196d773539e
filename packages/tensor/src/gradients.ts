// Registers tfjs-core's gradient for every kernel, so tf.grad / tf.grads work with tfjs-core alone, in Node
// (whose tfjs-core build registers none) and in browsers. Imported by the package index for this effect.
//
// Order matters: the user's tfjs-core must be evaluated first, so that it creates the global engine. The
// bundled registration code then finds that engine; otherwise the bundle's private copy would create it, and
// every tensor would be an instance of the copy's Tensor class, whose chained methods (x.cast(), ...) the
// copy never wired to its ops.
import '@tensorflow/tfjs-core';
import './generated/gradients.js';
