/**
 * Errors and argument checks shared by every package.
 *
 * Messages follow one shape: `<function>: <argument> must be <expected>, got <received>`, so that a user sees
 * what was expected beside what was passed, e.g.
 * `attention.flashAttention: q must be rank 4 [batch, heads, seqLen, headDim], got shape [2,8]`.
 */
import type { Tensor } from '@tensorflow/tfjs-core';

/** A tensor (or array) argument has the wrong rank or shape, or shapes that must agree do not. */
export class ShapeError extends Error {
  override name = 'ShapeError';
}

/** An argument has a value outside its domain (a non-positive size, an unknown option, a wrong dtype...). */
export class ValueError extends Error {
  override name = 'ValueError';
}

/** Formats a shape as `[2,8]`, the way every message in the toolkit shows shapes. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(formatValue).join(', ')}]`;
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') {
    const shape = (value as { shape?: unknown }).shape;
    if (Array.isArray(shape)) return `a tensor of shape ${formatShape(shape)}`;
    return Object.prototype.toString.call(value);
  }
  return String(value);
}

/** Builds the standard message: `fn: arg must be expected, got received`. */
export function argumentMessage(fn: string, arg: string, expected: string, received: string): string {
  return `${fn}: ${arg} must be ${expected}, got ${received}`;
}

function isTensorLike(value: unknown): value is Tensor {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as Tensor).shape) &&
    typeof (value as Tensor).dtype === 'string' &&
    typeof (value as Tensor).dataSync === 'function'
  );
}

/** Asserts that `value` is a tfjs tensor. */
export function assertTensor(fn: string, arg: string, value: unknown): asserts value is Tensor {
  if (!isTensorLike(value)) throw new ValueError(argumentMessage(fn, arg, 'a tf.Tensor', formatValue(value)));
  if (value.isDisposed) throw new ValueError(`${fn}: ${arg} is a disposed tensor; it cannot be used`);
}

/**
 * Asserts a tensor's rank. `layout` names the dimensions for the message, e.g.
 * `'[batch, heads, seqLen, headDim]'`.
 */
export function assertRank(fn: string, arg: string, tensor: Tensor, rank: number | readonly number[], layout = ''): void {
  assertTensor(fn, arg, tensor);
  const ranks = typeof rank === 'number' ? [rank] : rank;
  if (!ranks.includes(tensor.rank)) {
    const expected = `rank ${ranks.join(' or ')}${layout ? ` ${layout}` : ''}`;
    throw new ShapeError(argumentMessage(fn, arg, expected, `shape ${formatShape(tensor.shape)}`));
  }
}

/**
 * Asserts a tensor's shape. Entries of `expected` may be `null` (any size). Example:
 * `assertShape('ssm.selectiveScan', 'A', A, [d, null], '[dim, dState]')`.
 */
export function assertShape(
  fn: string,
  arg: string,
  tensor: Tensor,
  expected: readonly (number | null)[],
  layout = '',
): void {
  assertTensor(fn, arg, tensor);
  const ok = tensor.rank === expected.length && expected.every((d, i) => d === null || tensor.shape[i] === d);
  if (!ok) {
    const want = `[${expected.map((d) => (d === null ? '*' : String(d))).join(',')}]`;
    throw new ShapeError(
      argumentMessage(fn, arg, `of shape ${want}${layout ? ` ${layout}` : ''}`, `shape ${formatShape(tensor.shape)}`),
    );
  }
}

/** Asserts two sizes agree, naming both arguments: `fn: k.shape[3] (12) must equal q.shape[3] (16)`. */
export function assertSameSize(fn: string, nameA: string, a: number, nameB: string, b: number, hint = ''): void {
  if (a !== b) throw new ShapeError(`${fn}: ${nameA} (${a}) must equal ${nameB} (${b})${hint ? `; ${hint}` : ''}`);
}

/** Asserts a tensor's dtype is one of `dtypes`. */
export function assertDtype(fn: string, arg: string, tensor: Tensor, dtypes: readonly string[]): void {
  assertTensor(fn, arg, tensor);
  if (!dtypes.includes(tensor.dtype)) {
    throw new ValueError(argumentMessage(fn, arg, `of dtype ${dtypes.join(' or ')}`, `dtype ${tensor.dtype}`));
  }
}

/** Asserts an integer in `[min, max]` (both inclusive). */
export function assertInteger(fn: string, arg: string, value: unknown, min = -Infinity, max = Infinity): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range =
      min === -Infinity && max === Infinity
        ? 'an integer'
        : max === Infinity
          ? `an integer >= ${min}`
          : min === -Infinity
            ? `an integer <= ${max}`
            : `an integer in [${min}, ${max}]`;
    throw new ValueError(argumentMessage(fn, arg, range, formatValue(value)));
  }
}

/** Asserts a positive integer (a size, a count). */
export function assertPositiveInteger(fn: string, arg: string, value: unknown): asserts value is number {
  assertInteger(fn, arg, value, 1);
}

/** Asserts a finite number, optionally with bounds (`exclusiveMin` for strictly positive quantities). */
export function assertNumber(
  fn: string,
  arg: string,
  value: unknown,
  bounds: { min?: number; max?: number; exclusiveMin?: number; finite?: boolean } = {},
): asserts value is number {
  const { min, max, exclusiveMin, finite = true } = bounds;
  const bad =
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    (finite && !Number.isFinite(value)) ||
    (min !== undefined && value < min) ||
    (max !== undefined && value > max) ||
    (exclusiveMin !== undefined && value <= exclusiveMin);
  if (bad) {
    const parts: string[] = [finite ? 'a finite number' : 'a number'];
    if (exclusiveMin !== undefined) parts.push(`> ${exclusiveMin}`);
    if (min !== undefined) parts.push(`>= ${min}`);
    if (max !== undefined) parts.push(`<= ${max}`);
    throw new ValueError(argumentMessage(fn, arg, parts.join(' '), formatValue(value)));
  }
}

/** Asserts `value` is one of the allowed literals and narrows its type. */
export function assertOneOf<T extends string | number | boolean>(
  fn: string,
  arg: string,
  value: unknown,
  allowed: readonly T[],
): asserts value is T {
  if (!allowed.includes(value as T)) {
    throw new ValueError(argumentMessage(fn, arg, `one of ${allowed.map(formatValue).join(', ')}`, formatValue(value)));
  }
}

/** Throws a ValueError for an option key that the function does not know (catches typos such as `casual`). */
export function assertKnownOptions(fn: string, options: object | undefined, known: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new ValueError(argumentMessage(fn, 'options', 'an object', formatValue(options)));
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new ValueError(`${fn}: unknown option ${JSON.stringify(key)}; known options are ${known.join(', ')}`);
    }
  }
}

/**
 * Checks that `shape` broadcasts to `target` (numpy rules, aligned on the right), e.g. a mask against the
 * score shape `[batch, heads, L, S]`.
 */
export function assertBroadcastable(
  fn: string,
  arg: string,
  shape: readonly number[],
  target: readonly number[],
  layout = '',
): void {
  const ok =
    shape.length <= target.length &&
    shape.every((d, i) => {
      const t = target[target.length - shape.length + i]!;
      return d === 1 || d === t;
    });
  if (!ok) {
    throw new ShapeError(
      argumentMessage(
        fn,
        arg,
        `broadcastable to ${formatShape(target)}${layout ? ` ${layout}` : ''}`,
        `shape ${formatShape(shape)}`,
      ),
    );
  }
}
