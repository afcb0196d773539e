/**
 * Reading and writing `.safetensors` files (Hugging Face safetensors format): an 8-byte little-endian header
 * length N, N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {..} }`,
 * then the byte buffer, which the tensors must cover exactly, without holes or overlaps. Values are
 * little-endian and row-major. Every malformed file is rejected with a `ValueError` before any tensor is made.
 */
import { argumentMessage, assertKnownOptions, ValueError } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { decodeHost, encodeHost, type Narrow } from './kernels/convert.js';

/** The dtypes of the specification that this package reads (the float ones are also written). */
export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'F8_E4M3'
  | 'F8_E5M2'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

const NARROW: Partial<Record<SafetensorsDtype, Narrow>> = { F16: 'f16', BF16: 'bf16', F8_E4M3: 'e4m3', F8_E5M2: 'e5m2' };

/** The float dtypes a tensor can be stored as. */
export type SafetensorsFloatDtype = 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2';
const FLOAT_DTYPES: readonly SafetensorsFloatDtype[] = ['F32', 'F16', 'BF16', 'F8_E4M3', 'F8_E5M2'];

/** The reference implementation refuses headers above 100 MB. */
const MAX_HEADER_BYTES = 100_000_000;

/** One tensor as stored: its dtype, shape and raw little-endian bytes (a view into the file). */
export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  bytes: Uint8Array;
}

/** A parsed file: the raw entries in file order and the string-to-string metadata. */
export interface SafetensorsFile {
  entries: Record<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

function fail(message: string): never {
  throw new ValueError(`precision.parseSafetensors: ${message}`);
}

function asBytes(fn: string, buffer: unknown): Uint8Array {
  if (buffer instanceof Uint8Array) return buffer;
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  throw new ValueError(argumentMessage(fn, 'buffer', 'a Uint8Array or ArrayBuffer', buffer === null ? 'null' : typeof buffer));
}

/**
 * Parses and validates a safetensors buffer without decoding values: header length within the file, JSON
 * object, known dtypes, non-negative integer shapes, offsets that match dtype × shape and tile the byte
 * buffer exactly, string metadata.
 */
export function parseSafetensors(buffer: Uint8Array | ArrayBuffer): SafetensorsFile {
  const bytes = asBytes('precision.parseSafetensors', buffer);
  if (bytes.length < 8) fail(`the file must start with an 8-byte header length, got ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const high = view.getUint32(4, true);
  const n = view.getUint32(0, true) + high * 2 ** 32;
  if (high !== 0 || n > MAX_HEADER_BYTES) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (8 + n > bytes.length) fail(`header length ${n} runs past the end of the file (${bytes.length - 8} bytes after the length)`);
  if (n < 2) fail(`header length ${n} is too small for a JSON object`);
  // The reference implementation requires the header to start with '{' (it may end with space padding).
  if (bytes[8] !== 0x7b) fail(`the header must start with '{', got byte 0x${bytes[8]!.toString(16).padStart(2, '0')}`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (error) {
    fail(`the header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header must be a JSON object');
  const data = bytes.subarray(8 + n);
  const metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  const entries: Record<string, SafetensorsEntry> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__[${JSON.stringify(k)}] must be a string, got ${typeof v}`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${where} must be an object { dtype, shape, data_offsets }`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      fail(`${where} has dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(DTYPE_BYTES).join(', ')}`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where} must have a shape of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(`${where} must have data_offsets [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const size = (shape as number[]).reduce((p, d) => p * d, 1);
    const expected = size * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== expected) {
      fail(`${where}: ${dtype} [${shape}] needs ${expected} bytes, data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    if (end > data.length) fail(`${where}: data_offsets end ${end} is past the end of the data (${data.length} bytes; truncated file?)`);
    spans.push({ name, begin, end });
    entries[name] = { dtype: dtype as SafetensorsDtype, shape: [...(shape as number[])], bytes: data.subarray(begin, end) };
  }
  // The tensors must tile the byte buffer: sorted by offset, each begins where the previous ended.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const span of spans) {
    if (span.begin !== cursor) {
      fail(
        span.begin < cursor
          ? `tensor ${JSON.stringify(span.name)} overlaps the previous tensor (begins at ${span.begin}, previous ends at ${cursor})`
          : `there is a hole in the data before tensor ${JSON.stringify(span.name)} (bytes ${cursor}..${span.begin})`,
      );
    }
    cursor = span.end;
  }
  if (cursor !== data.length) fail(`the data has ${data.length - cursor} trailing bytes not covered by any tensor`);
  return { entries, metadata };
}

/** Little-endian bytes → a typed array (copies, so the result is aligned and independent of the file). */
function readLittleEndian(entry: SafetensorsEntry): Float32Array | Int32Array | Uint8Array {
  const { dtype, bytes } = entry;
  const count = bytes.length / DTYPE_BYTES[dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const narrow = NARROW[dtype];
  if (narrow) {
    const out = new Float32Array(count);
    if (narrow === 'e4m3' || narrow === 'e5m2') decodeHost(narrow, bytes.slice(), out);
    else {
      const patterns = new Uint16Array(count);
      for (let i = 0; i < count; i++) patterns[i] = view.getUint16(2 * i, true);
      decodeHost(narrow, patterns, out);
    }
    return out;
  }
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case 'F64':
      return Float32Array.from({ length: count }, (_, i) => view.getFloat64(8 * i, true));
    case 'I64':
    case 'U64': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = dtype === 'I64' ? view.getBigInt64(8 * i, true) : view.getBigUint64(8 * i, true);
        if (v > 2147483647n || v < -2147483648n) {
          throw new ValueError(`precision.readSafetensors: an ${dtype} value (${v}) does not fit tfjs int32`);
        }
        out[i] = Number(v);
      }
      return out;
    }
    case 'U32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getUint32(4 * i, true);
        if (v > 2147483647) throw new ValueError(`precision.readSafetensors: a U32 value (${v}) does not fit tfjs int32`);
        out[i] = v;
      }
      return out;
    }
    case 'U16':
      return Int32Array.from({ length: count }, (_, i) => view.getUint16(2 * i, true));
    case 'I32':
      return Int32Array.from({ length: count }, (_, i) => view.getInt32(4 * i, true));
    case 'I16':
      return Int32Array.from({ length: count }, (_, i) => view.getInt16(2 * i, true));
    case 'I8':
      return Int32Array.from({ length: count }, (_, i) => view.getInt8(i));
    case 'U8':
      return Int32Array.from(bytes);
    default: // BOOL
      return Uint8Array.from(bytes, (b) => (b ? 1 : 0));
  }
}

/**
 * Reads a safetensors buffer into tensors: float dtypes (F16, BF16, fp8 decoded exactly, F64 rounded) as
 * float32, integers as int32 (values outside int32 are rejected), BOOL as bool. Throws on any malformation (see {@link parseSafetensors}).
 */
export function readSafetensors(buffer: Uint8Array | ArrayBuffer): {
  tensors: tf.NamedTensorMap;
  dtypes: Record<string, SafetensorsDtype>;
  metadata: Record<string, string>;
} {
  const { entries, metadata } = parseSafetensors(buffer);
  const decoded = Object.entries(entries).map(([name, entry]) => [name, entry, readLittleEndian(entry)] as const);
  const tensors: tf.NamedTensorMap = {};
  const dtypes: Record<string, SafetensorsDtype> = {};
  for (const [name, entry, values] of decoded) {
    const dtype = values instanceof Float32Array ? 'float32' : values instanceof Int32Array ? 'int32' : 'bool';
    tensors[name] = tf.tensor(values, entry.shape, dtype);
    dtypes[name] = entry.dtype;
  }
  return { tensors, dtypes, metadata };
}

export interface WriteSafetensorsOptions {
  /** Storage dtype of float tensors: one for all, or per tensor name (default 'F32'). */
  dtype?: SafetensorsFloatDtype | Record<string, SafetensorsFloatDtype>;
  /** String-to-string metadata (`__metadata__`). */
  metadata?: Record<string, string>;
  /** fp8 only: clamp out-of-range values to ±max instead of NaN/inf. */
  saturate?: boolean;
}

/**
 * Writes tensors to a safetensors buffer. float32 tensors are stored as `options.dtype` (F32, F16, BF16,
 * F8_E4M3 or F8_E5M2, rounded to nearest even), int32 tensors as I32, bool as BOOL. Tensors are laid out in
 * name order; the header is padded with spaces to a multiple of 8 bytes, as the reference writer does.
 */
export function writeSafetensors(tensors: tf.NamedTensorMap, options: WriteSafetensorsOptions = {}): Uint8Array {
  const fn = 'precision.writeSafetensors';
  assertKnownOptions(fn, options, ['dtype', 'metadata', 'saturate']);
  if (typeof tensors !== 'object' || tensors === null) throw new ValueError(argumentMessage(fn, 'tensors', 'a map from names to tensors', String(tensors)));
  const { dtype = 'F32', metadata, saturate = false } = options;
  const names = Object.keys(tensors).sort();
  const dtypeOf = (name: string): SafetensorsFloatDtype => (typeof dtype === 'string' ? dtype : (dtype[name] ?? 'F32'));
  for (const name of names) {
    if (name === '__metadata__') throw new ValueError(`${fn}: "__metadata__" is reserved and cannot name a tensor`);
    const t = tensors[name];
    if (!(t instanceof tf.Tensor) || t.isDisposed) throw new ValueError(argumentMessage(fn, `tensors[${JSON.stringify(name)}]`, 'a tf.Tensor', String(t)));
    if (!['float32', 'int32', 'bool'].includes(t.dtype)) {
      throw new ValueError(argumentMessage(fn, `tensors[${JSON.stringify(name)}]`, 'of dtype float32, int32 or bool', `dtype ${t.dtype}`));
    }
    if (!FLOAT_DTYPES.includes(dtypeOf(name))) {
      throw new ValueError(argumentMessage(fn, 'options.dtype', `one of ${FLOAT_DTYPES.join(', ')}`, JSON.stringify(dtypeOf(name))));
    }
  }
  if (typeof dtype === 'object') {
    for (const key of Object.keys(dtype)) if (!(key in tensors)) throw new ValueError(`${fn}: options.dtype names ${JSON.stringify(key)}, which is not in tensors`);
  }
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null) throw new ValueError(argumentMessage(fn, 'options.metadata', 'an object of strings', String(metadata)));
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new ValueError(argumentMessage(fn, `options.metadata[${JSON.stringify(k)}]`, 'a string', typeof v));
    }
  }
  const chunks: Uint8Array[] = [];
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    let stored: SafetensorsDtype;
    let bytes: Uint8Array;
    if (t.dtype === 'float32') {
      stored = dtypeOf(name);
      const values = t.dataSync() as Float32Array;
      bytes = new Uint8Array(values.length * DTYPE_BYTES[stored]);
      const view = new DataView(bytes.buffer);
      const narrow = NARROW[stored];
      if (!narrow) for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i]!, true);
      else if (narrow === 'e4m3' || narrow === 'e5m2') encodeHost(narrow, values, bytes, saturate);
      else {
        const patterns = new Uint16Array(values.length);
        encodeHost(narrow, values, patterns);
        for (let i = 0; i < patterns.length; i++) view.setUint16(2 * i, patterns[i]!, true);
      }
    } else if (t.dtype === 'int32') {
      stored = 'I32';
      const values = t.dataSync() as Int32Array;
      bytes = new Uint8Array(values.length * 4);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < values.length; i++) view.setInt32(4 * i, values[i]!, true);
    } else {
      stored = 'BOOL';
      bytes = Uint8Array.from(t.dataSync() as Uint8Array, (b) => (b ? 1 : 0));
    }
    header[name] = { dtype: stored, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    chunks.push(bytes);
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(json);
  const padding = (8 - (headerBytes.length % 8)) % 8;
  if (padding) {
    json += ' '.repeat(padding);
    headerBytes = encoder.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerBytes.length, true);
  view.setUint32(4, 0, true);
  out.set(headerBytes, 8);
  let cursor = 8 + headerBytes.length;
  for (const chunk of chunks) {
    out.set(chunk, cursor);
    cursor += chunk.length;
  }
  return out;
}
