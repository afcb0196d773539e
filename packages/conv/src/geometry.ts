/**
 * Convolution geometry shared by every op of the package: option parsing, TensorFlow/PyTorch 'same' padding,
 * output sizes, and the checks that turn bad arguments into errors that name the function and argument.
 *
 * For one spatial axis of size `size`, kernel `k`, dilation `d`, stride `s` and padding `(before, after)`:
 *   effective kernel  e = (k − 1)·d + 1,
 *   output size       o = floor((size + before + after − e) / s) + 1,
 *   output i reads    x[i·s + j·d − before] for taps j = 0…k−1 (zero outside the input).
 * 'same' follows TensorFlow (and PyTorch at stride 1): o = ceil(size / s), total = max((o − 1)·s + e − size, 0),
 * before = floor(total / 2), the odd element goes after.
 */
import { argumentMessage, ShapeError, ValueError } from '@lab/tensor';

/** Padding of a 2-D convolution: a mode, a symmetric amount, or explicit `[[top, bottom], [left, right]]`. */
export type Padding2d =
  | 'same'
  | 'valid'
  | number
  | readonly [readonly [number, number], readonly [number, number]];

/** Padding of a 1-D convolution: a mode, a symmetric amount, or explicit `[before, after]`. */
export type Padding1d = 'same' | 'valid' | number | readonly [number, number];

/** The resolved geometry of one 2-D convolution (all integers). */
export interface Geometry2d {
  readonly batch: number;
  readonly inHeight: number;
  readonly inWidth: number;
  readonly kernel: readonly [number, number];
  readonly dilation: readonly [number, number];
  readonly stride: readonly [number, number];
  /** [[top, bottom], [left, right]]. */
  readonly pads: readonly [readonly [number, number], readonly [number, number]];
  readonly outHeight: number;
  readonly outWidth: number;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  return String(value);
}

/** Parses `number | [h, w]` into a pair of positive integers, naming the argument on failure. */
export function parsePair(fn: string, arg: string, value: unknown, fallback?: number): [number, number] {
  const v = value === undefined ? fallback : value;
  const pair = typeof v === 'number' ? [v, v] : v;
  if (
    !Array.isArray(pair) ||
    pair.length !== 2 ||
    !pair.every((p) => typeof p === 'number' && Number.isInteger(p) && p >= 1)
  ) {
    throw new ValueError(
      argumentMessage(fn, arg, 'a positive integer or a pair [h, w] of positive integers', describe(v)),
    );
  }
  return [pair[0] as number, pair[1] as number];
}

/** Parses a positive integer option (1-D dilation and stride). */
export function parsePositive(fn: string, arg: string, value: unknown, fallback?: number): number {
  const v = value === undefined ? fallback : value;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new ValueError(argumentMessage(fn, arg, 'a positive integer', describe(v)));
  }
  return v;
}

function isNonNegativeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** Resolves the padding of one axis. */
function axisPads(
  mode: 'same' | 'valid' | [number, number],
  size: number,
  effective: number,
  stride: number,
): [number, number] {
  if (mode === 'valid') return [0, 0];
  if (mode === 'same') {
    const out = Math.ceil(size / stride);
    const total = Math.max((out - 1) * stride + effective - size, 0);
    const before = Math.floor(total / 2);
    return [before, total - before];
  }
  return mode;
}

/**
 * Resolves a 2-D convolution's geometry and checks it: the kernel must fit in the padded input (at least one
 * output on each axis).
 */
export function resolveGeometry2d(
  fn: string,
  inputShape: readonly number[],
  kernel: readonly [number, number],
  dilation: readonly [number, number],
  stride: readonly [number, number],
  padding: unknown,
  names: { input: string; filter: string; axes?: readonly [string, string] } = {
    input: 'x',
    filter: 'filter',
  },
): Geometry2d {
  const [batch, inHeight, inWidth] = inputShape as [number, number, number];
  const sizes = [inHeight, inWidth];
  const axisNames = names.axes ?? ['height', 'width'];
  let modes: ['same' | 'valid' | [number, number], 'same' | 'valid' | [number, number]];
  if (padding === 'same' || padding === 'valid') modes = [padding, padding];
  else if (isNonNegativeInteger(padding))
    modes = [
      [padding, padding],
      [padding, padding],
    ];
  else if (
    Array.isArray(padding) &&
    padding.length === 2 &&
    padding.every((p) => Array.isArray(p) && p.length === 2 && p.every(isNonNegativeInteger))
  ) {
    modes = [
      [padding[0][0], padding[0][1]],
      [padding[1][0], padding[1][1]],
    ];
  } else {
    throw new ValueError(
      argumentMessage(
        fn,
        'padding',
        "'same', 'valid', a non-negative integer or [[top, bottom], [left, right]] of non-negative integers",
        describe(padding),
      ),
    );
  }
  const pads: [number, number][] = [];
  const outs: number[] = [];
  for (let a = 0; a < 2; a++) {
    const effective = (kernel[a]! - 1) * dilation[a]! + 1;
    const p = axisPads(modes[a]!, sizes[a]!, effective, stride[a]!);
    const padded = sizes[a]! + p[0] + p[1];
    if (padded < effective) {
      throw new ShapeError(
        `${fn}: the dilated kernel is larger than the padded input along ${axisNames[a]}: ${names.filter} size ${kernel[a]} at dilation ${dilation[a]} spans ${effective}, but ${names.input} ${axisNames[a]} ${sizes[a]} padded by ${p[0]} + ${p[1]} is ${padded}; pad more, or lower the dilation`,
      );
    }
    pads.push(p);
    outs.push(Math.floor((padded - effective) / stride[a]!) + 1);
  }
  return {
    batch,
    inHeight,
    inWidth,
    kernel,
    dilation,
    stride,
    pads: [pads[0]!, pads[1]!],
    outHeight: outs[0]!,
    outWidth: outs[1]!,
  };
}

/** Converts 1-D padding to the 2-D form used internally (height axis of size 1, no padding). */
export function padding1dTo2d(fn: string, padding: unknown): Padding2d {
  if (padding === 'same' || padding === 'valid') return padding;
  if (isNonNegativeInteger(padding))
    return [
      [0, 0],
      [padding, padding],
    ];
  if (Array.isArray(padding) && padding.length === 2 && padding.every(isNonNegativeInteger)) {
    const [before, after] = padding as [number, number];
    return [
      [0, 0],
      [before, after],
    ];
  }
  throw new ValueError(
    argumentMessage(
      fn,
      'padding',
      "'same', 'valid', a non-negative integer or [before, after] of non-negative integers",
      describe(padding),
    ),
  );
}
