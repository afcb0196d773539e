/**
 * Reading label maps (tensors, typed arrays, number[]) once, checking them before any counting, and naming the
 * first bad label with its position when a count shows there is one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { argumentMessage, assertInteger, formatShape, ShapeError, ValueError, wasmHeapView } from '@lab/tensor';
import { labelCode } from './kernels/histogram.js';

/** A label map: a tensor (int32, float32 with integer values, or bool), a typed array or a plain array. */
export type LabelInput =
  | tf.Tensor
  | Uint8Array
  | Uint8ClampedArray
  | Int8Array
  | Uint16Array
  | Int16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | readonly number[];

/** A label map read to host memory: flat row-major values and the shape used to name positions. */
export interface HostLabels {
  data: ArrayLike<number>;
  shape: number[];
}

function isTypedArray(x: unknown): x is ArrayLike<number> {
  return ArrayBuffer.isView(x) && !(x instanceof DataView);
}

function isTensor(x: unknown): x is tf.Tensor {
  return x instanceof tf.Tensor;
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (isTensor(x)) return `a ${x.dtype} tensor of shape ${formatShape(x.shape)}`;
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (isTypedArray(x)) return `a ${x.constructor.name} of length ${x.length}`;
  return typeof x === 'object' ? Object.prototype.toString.call(x) : `${typeof x} ${String(x)}`;
}

/**
 * Reads a label map once: a tensor's data (no copy on the cpu and wasm backends; one download elsewhere), or the array
 * itself. `shape` (optional, for arrays) must have as many elements as the array.
 */
export function readLabels(
  fn: string,
  arg: string,
  input: unknown,
  shape: readonly number[] | undefined,
): HostLabels {
  if (isTensor(input)) {
    if (input.isDisposed) throw new ValueError(`${fn}: ${arg} is a disposed tensor; it cannot be used`);
    if (input.dtype !== 'int32' && input.dtype !== 'float32' && input.dtype !== 'bool') {
      throw new ValueError(
        argumentMessage(fn, arg, 'an int32, float32 or bool tensor of labels', `dtype ${input.dtype}`),
      );
    }
    return {
      data: wasmHeapView(input) ?? (input.dataSync() as ArrayLike<number>),
      shape: input.shape.slice(),
    };
  }
  if (input instanceof BigInt64Array || input instanceof BigUint64Array) {
    throw new ValueError(argumentMessage(fn, arg, 'a numeric (not bigint) array of labels', describe(input)));
  }
  if (isTypedArray(input) || Array.isArray(input)) {
    const data = input as ArrayLike<number>;
    if (Array.isArray(input)) {
      for (let i = 0; i < input.length; i++) {
        if (typeof input[i] !== 'number') {
          throw new ValueError(
            argumentMessage(fn, arg, 'a flat array of numbers', `${describe(input[i])} at index ${i}`),
          );
        }
      }
    }
    if (shape !== undefined) {
      const size = shape.reduce((a, b) => a * b, 1);
      if (size !== data.length) {
        throw new ShapeError(
          argumentMessage(
            fn,
            'shape',
            `a shape with ${data.length} elements (the length of ${arg})`,
            formatShape(shape),
          ),
        );
      }
      return { data, shape: shape.slice() };
    }
    return { data, shape: [data.length] };
  }
  throw new ValueError(
    argumentMessage(fn, arg, 'a tf.Tensor, a typed array or a number[] of labels', describe(input)),
  );
}

/** Checks the `shape` option: an array of positive integers. */
export function checkShapeOption(fn: string, shape: unknown): asserts shape is number[] | undefined {
  if (shape === undefined) return;
  if (!Array.isArray(shape) || shape.length === 0) {
    throw new ValueError(argumentMessage(fn, 'shape', 'a non-empty array of sizes', describe(shape)));
  }
  shape.forEach((d, i) => {
    assertInteger(fn, `shape[${i}]`, d, 0);
  });
}

/** The multi-index of flat index i in a row-major shape, as `[b,y,x]`. */
export function positionOf(i: number, shape: readonly number[]): number[] {
  const pos = new Array<number>(shape.length).fill(0);
  let r = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d]!;
    pos[d] = n > 0 ? r % n : 0;
    r = n > 0 ? Math.floor(r / n) : 0;
  }
  return pos;
}

function labelsExpected(numClasses: number, ignoreIndex: number | undefined): string {
  const range = `class labels in [0, ${numClasses})`;
  return ignoreIndex === undefined ? range : `${range} or the ignoreIndex ${ignoreIndex}`;
}

/**
 * Throws for the first bad label (target before prediction at the same pixel): a RangeError for an integer out
 * of range, a ValueError for a fraction, NaN or infinity. Called only when a histogram found a bad label.
 */
export function throwFirstBadLabel(
  fn: string,
  target: HostLabels,
  pred: HostLabels | undefined,
  numClasses: number,
  ignoreIndex: number | undefined,
  predIgnore: boolean,
): never {
  const C = numClasses;
  const n = target.data.length;
  for (let i = 0; i < n; i++) {
    const maps: [string, HostLabels, boolean][] = [['target', target, ignoreIndex !== undefined]];
    if (pred) maps.push(['pred', pred, predIgnore]);
    for (const [name, map, useIgnore] of maps) {
      const v = map.data[i]!;
      if (labelCode(v, C, ignoreIndex, useIgnore) !== C + 1) continue;
      const where = `at index ${i}${map.shape.length > 1 ? ` (position ${formatShape(positionOf(i, map.shape))} of shape ${formatShape(map.shape)})` : ''}`;
      if (!Number.isInteger(v)) {
        throw new ValueError(
          argumentMessage(fn, name, `integer ${labelsExpected(C, ignoreIndex)}`, `${v} ${where}`),
        );
      }
      throw new RangeError(argumentMessage(fn, name, labelsExpected(C, ignoreIndex), `${v} ${where}`));
    }
  }
  throw new ValueError(
    `${fn}: a bad label was counted but not found again (the input changed during the call?)`,
  );
}
