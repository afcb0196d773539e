import * as tf from '@tensorflow/tfjs-core';

/**
 * A trainable variable made from `t`, which is disposed: tf.variable shares the tensor's data, so the variable
 * is all that stays behind.
 */
export function ownVariable(t: tf.Tensor): tf.Variable {
  const variable = tf.variable(t, true);
  t.dispose();
  return variable;
}
