import { describe, expect, it } from 'vitest';
import { createRng, kernelModules, matmulWasm, wasmSimdSupported } from '../src/index.js';
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
});
