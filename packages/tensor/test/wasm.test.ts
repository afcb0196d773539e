import { describe, expect, it } from 'vitest';
import { createRng, kernelModules, matmulHost, matmulPacked, matmulWasm, packMatrix, ValueError, wasmSimdSupported } from '../src/index.js';
import { tensorKernels } from '../src/kernels/module.js';

describe('kernel modules', () => {
  it('detects WebAssembly SIMD', () => {
    expect(wasmSimdSupported()).toBe(true);
  });
  it('registers each module once', () => {
    expect(kernelModules().filter((m) => m.name === 'tensor')).toHaveLength(1);
  });
  it('grows memory for large calls and releases it after each call', () => {
    const n = 3_000_000; // 12 MB per array: more than the initial 4 MiB
    const x = createRng(4).uniformData(n);
    const y = tensorKernels.withArena((arena) => {
      const px = arena.write(x);
      const py = arena.allocF32(n);
      arena.fillF32(py, n, 1);
      tensorKernels.run('axpy', [2, px, py, n], 3);
      return arena.readF32(py, n);
    });
    let bad = 0;
    for (let i = 0; i < n; i++) if (y[i] !== Math.fround(1 + Math.fround(2 * x[i]!))) bad++;
    expect(bad).toBe(0);
    expect(tensorKernels.memory.buffer.byteLength).toBeGreaterThan(2 * 4 * n);
    // the arena is released: a second call starts at the same place
    tensorKernels.resetPeak();
    tensorKernels.withArena((arena) => arena.allocF32(16));
    expect(tensorKernels.peakBytes).toBeLessThan(1024);
  });
  it('releases memory when a call throws', () => {
    tensorKernels.resetPeak();
    expect(() =>
      tensorKernels.withArena((arena) => {
        arena.allocF32(1000);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    tensorKernels.resetPeak();
    expect(tensorKernels.peakBytes).toBe(0);
    // still usable
    expect(Array.from(matmulWasm(new Float32Array([2]), new Float32Array([3]), 1, 1, 1))).toEqual([6]);
  });
  it('refuses to run an unknown kernel', () => {
    expect(() => tensorKernels.run('nope' as 'axpy', [], 1)).toThrow('tensor kernels: no exported kernel nope');
  });
  it('keeps resident blocks across calls and re-instantiation, and reuses released ones', () => {
    const before = tensorKernels.residentBytes;
    const data = createRng(5).normalData(1000);
    const block = tensorKernels.resident(4 * 1000);
    new Float32Array(tensorKernels.memory.buffer, block.ptr, 1000).set(data);
    // A large call grows the memory above the block and leaves it as it was.
    tensorKernels.withArena((arena) => arena.fillF32(arena.allocF32(2_000_000), 2_000_000, -1));
    expect(new Float32Array(tensorKernels.memory.buffer, block.ptr, 1000)).toEqual(data);
    // The pool re-instantiates modules on a new memory between calls: contents move with it.
    const shared = tensorKernels.isShared;
    tensorKernels.instantiate(!shared);
    expect(new Float32Array(tensorKernels.memory.buffer, block.ptr, 1000)).toEqual(data);
    tensorKernels.instantiate(shared);
    expect(new Float32Array(tensorKernels.memory.buffer, block.ptr, 1000)).toEqual(data);
    // Not inside a call; not zero bytes.
    expect(() => tensorKernels.withArena(() => tensorKernels.resident(64))).toThrow(ValueError);
    expect(() => tensorKernels.resident(0)).toThrow('a resident block needs a positive whole number of bytes, got 0');
    const ptr = block.ptr;
    block.release();
    block.release();
    expect(() => block.ptr).toThrow('released');
    expect(tensorKernels.residentBytes).toBe(before);
    // The arena starts where it did before the block was reserved.
    const again = tensorKernels.resident(4 * 500);
    expect(again.ptr).toBe(ptr);
    again.release();
  });
  it('packMatrix + matmulPacked equal matmulHost bit for bit, and pack once', () => {
    const rng = createRng(6);
    const [m, k, n] = [3, 70, 45];
    const b = rng.normalData(k * n);
    const packed = packMatrix(b, k, n);
    for (let i = 0; i < 3; i++) {
      const a = rng.normalData(m * k);
      expect(matmulPacked(a, packed, m)).toEqual(matmulHost(a, b, m, k, n));
    }
    const held = tensorKernels.residentBytes;
    expect(held).toBeGreaterThanOrEqual(4 * k * 48);
    matmulPacked(rng.normalData(m * k), packed, m);
    expect(tensorKernels.residentBytes).toBe(held);
    packed.dispose();
    expect(tensorKernels.residentBytes).toBe(held - 4 * k * 48);
    expect(() => matmulPacked(new Float32Array(5), packed, m)).toThrow('matmulPacked: a has 5 values, expected m·k = 210');
    expect(() => packMatrix(b, k, n + 1)).toThrow('packMatrix: b has 3150 values, expected k·n = 3220');
  });
});
