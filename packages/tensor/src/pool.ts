/**
 * A worker pool for the WebAssembly kernels. Workers instantiate each kernel module on the module's shared
 * memory, so a kernel splits its work (heads, query blocks, channels) into parts that the calling thread and
 * the workers take from one atomic counter; the call returns when every part is done. Synchronous from the
 * caller's view, as tfjs kernels are.
 *
 * Needs shared memory and a thread that may block (`Atomics.wait`): Node's worker_threads on any thread, and in
 * browsers a cross-origin-isolated page (COOP/COEP) calling from a Web Worker. Elsewhere kernels run on one
 * thread, with the same results: every part computes the same values wherever it runs.
 */
import { ValueError } from './errors.js';

/** What the pool needs of a kernel module. */
export interface PoolModule {
  readonly name: string;
  readonly isShared: boolean;
  sharedHandle(): { module: WebAssembly.Module; memory: WebAssembly.Memory };
  instantiate(shared: boolean): void;
}

// Control block (Int32Array over a SharedArrayBuffer).
const SEQ = 0; // bumped for each job
const DONE = 1; // workers finished with the current job
const NEXT = 2; // next part to take
const PARTS = 3;
const MODULE = 4;
const FN = 5;
const NARGS = 6;
const KIND = 7; // 0 = run, 1 = return to the event loop (to receive modules), 2 = exit
const ERROR = 8; // a worker's kernel threw
const CTRL_WORDS = 16;
const MAX_ARGS = 64;

interface WorkerMessage {
  type: 'init' | 'module' | 'loop';
  ctrl: SharedArrayBuffer;
  args: SharedArrayBuffer;
  id: number;
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  names: string[];
  seq: number;
}

interface PoolMessage {
  type: 'ready' | 'registered';
  id?: number;
}

/**
 * The code each worker runs, as plain JavaScript source. It is kept as a string (not a function turned into
 * a string) so that no transpiler can add helpers to it (esbuild's keepNames adds `__name(...)` calls, which
 * do not exist inside a worker). `post` sends a message to the pool; `listen` receives messages from it.
 *
 * Protocol: 'init' hands over the control block; 'module' instantiates a kernel module on its shared memory;
 * 'loop' enters the job loop (blocking on Atomics.wait), which returns to the event loop on a KIND 1 job.
 */
const WORKER_SOURCE = `(function (post, listen) {
  var kernels = [];
  var ctrl, args;
  function loop(from) {
    var seen = from;
    for (;;) {
      Atomics.wait(ctrl, ${SEQ}, seen);
      var seq = Atomics.load(ctrl, ${SEQ});
      if (seq === seen) continue;
      seen = seq;
      var kind = Atomics.load(ctrl, ${KIND});
      if (kind === 0) {
        var fn = kernels[Atomics.load(ctrl, ${MODULE})][Atomics.load(ctrl, ${FN})];
        var n = Atomics.load(ctrl, ${NARGS});
        var parts = Atomics.load(ctrl, ${PARTS});
        var a = [];
        for (var i = 0; i < n; i++) a.push(args[i]);
        a.push(0, parts);
        try {
          for (;;) {
            var p = Atomics.add(ctrl, ${NEXT}, 1);
            if (p >= parts) break;
            a[n] = p;
            fn.apply(null, a);
          }
        } catch (e) {
          Atomics.store(ctrl, ${ERROR}, 1);
        }
      }
      Atomics.add(ctrl, ${DONE}, 1);
      Atomics.notify(ctrl, ${DONE});
      if (kind !== 0) return;
    }
  }
  listen(function (msg) {
    if (msg.type === 'init') {
      ctrl = new Int32Array(msg.ctrl);
      args = new Float64Array(msg.args);
      post({ type: 'ready' });
    } else if (msg.type === 'module') {
      var instance = new WebAssembly.Instance(msg.module, { env: { memory: msg.memory } });
      kernels[msg.id] = msg.names.map(function (name) { return instance.exports[name]; });
      post({ type: 'registered', id: msg.id });
    } else if (msg.type === 'loop') {
      loop(msg.seq);
    }
  });
})`;

interface WorkerHandle {
  post(message: Partial<WorkerMessage>): void;
  onMessage(handler: (message: PoolMessage) => void): void;
  /** Called when the worker fails to start or dies. */
  onError(handler: (error: unknown) => void): void;
  terminate(): void;
}

function isBrowserMainThread(): boolean {
  const g = globalThis as { document?: unknown; window?: unknown };
  return typeof g.window !== 'undefined' && typeof g.document !== 'undefined';
}

interface NodeWorker {
  postMessage(m: unknown): void;
  on(event: 'message', h: (m: PoolMessage) => void): void;
  on(event: 'error' | 'exit', h: (e: unknown) => void): void;
  terminate(): Promise<number>;
  unref(): void;
}
interface NodeWorkerThreads {
  Worker: new (code: string, options: { eval: boolean }) => NodeWorker;
}
type NodeProcess = { versions?: { node?: string }; getBuiltinModule?: (m: string) => unknown };

function nodeWorkerThreads(): NodeWorkerThreads | undefined {
  const p = (globalThis as { process?: NodeProcess }).process;
  if (!p?.versions?.node || typeof p.getBuiltinModule !== 'function') return undefined;
  return p.getBuiltinModule('node:worker_threads') as NodeWorkerThreads;
}

/** Cores on this machine (Node: os.availableParallelism; browsers: navigator.hardwareConcurrency). */
export function hardwareConcurrency(): number {
  const p = (globalThis as { process?: NodeProcess }).process;
  const os =
    typeof p?.getBuiltinModule === 'function'
      ? (p.getBuiltinModule('node:os') as { availableParallelism?: () => number })
      : undefined;
  if (os?.availableParallelism) return os.availableParallelism();
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return nav?.hardwareConcurrency ?? 1;
}

/** Why the pool cannot run here, or undefined when it can. */
export function poolUnavailableReason(): string | undefined {
  if (typeof SharedArrayBuffer === 'undefined') return 'SharedArrayBuffer is unavailable (browsers: serve with COOP/COEP)';
  const g = globalThis as { crossOriginIsolated?: boolean };
  if (g.crossOriginIsolated === false) return 'the page is not cross-origin isolated (COOP/COEP headers)';
  if (isBrowserMainThread()) return "a browser's main thread may not block (Atomics.wait); call from a Web Worker";
  if (!nodeWorkerThreads() && typeof Worker === 'undefined') return 'no worker threads in this environment';
  return undefined;
}

function spawnWorker(): WorkerHandle {
  const source = WORKER_SOURCE;
  const wt = nodeWorkerThreads();
  if (wt) {
    const code = `const { parentPort } = require('node:worker_threads');\n${source}((m) => parentPort.postMessage(m), (h) => parentPort.on('message', h));`;
    const worker = new wt.Worker(code, { eval: true });
    worker.unref();
    return {
      post: (m) => worker.postMessage(m),
      onMessage: (h) => worker.on('message', h),
      onError: (h) => {
        worker.on('error', h);
        worker.on('exit', (code) => h(new Error(`worker exited with code ${String(code)}`)));
      },
      terminate: () => void worker.terminate(),
    };
  }
  const code = `${source}((m) => self.postMessage(m), (h) => { self.onmessage = (e) => h(e.data); });`;
  const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
  const worker = new Worker(url);
  return {
    post: (m) => worker.postMessage(m),
    onMessage: (h) => worker.addEventListener('message', (e) => h((e as MessageEvent).data)),
    onError: (h) => worker.addEventListener('error', (e) => h((e as ErrorEvent).message)),
    terminate: () => worker.terminate(),
  };
}

class WorkerPool {
  private workers: WorkerHandle[] = [];
  private ctrl!: Int32Array<SharedArrayBuffer>; // created by start(): SharedArrayBuffer may not exist here
  private args!: Float64Array<SharedArrayBuffer>;
  private modules = new Map<PoolModule, { id: number; names: string[] }>();
  private looping = false;
  private starting: Promise<void> | undefined;
  private waiters = new Map<string, () => void>();
  private failure: ((error: unknown) => void) | undefined;

  /** True when workers are running and kernels may be split across them. */
  get active(): boolean {
    return this.workers.length > 0 && this.looping;
  }

  /** Threads that take parts of a kernel: the caller plus the workers. */
  get threads(): number {
    return this.workers.length + 1;
  }

  canRun(module: PoolModule): boolean {
    return this.modules.has(module);
  }

  /** Resolves when a worker sends `key`; rejects when any worker fails or after 60 s. */
  private expect(key: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new ValueError(`worker pool: no answer from a worker (${key})`)), 60_000);
      this.waiters.set(key, () => {
        clearTimeout(timer);
        this.waiters.delete(key);
        resolve();
      });
      const previous = this.failure;
      this.failure = (error) => {
        clearTimeout(timer);
        previous?.(error);
        reject(new ValueError(`worker pool: a worker failed: ${String(error)}`));
      };
    });
  }

  async start(threads: number, modules: readonly PoolModule[]): Promise<number> {
    if (this.starting) await this.starting;
    if (threads <= 1) {
      await this.stop();
      return 1;
    }
    const reason = poolUnavailableReason();
    if (reason) throw new ValueError(`initThreads: the worker pool cannot run here: ${reason}`);
    if (this.workers.length !== threads - 1) {
      await this.stop();
      this.starting = (async () => {
        this.ctrl = new Int32Array(new SharedArrayBuffer(CTRL_WORDS * 4));
        this.args = new Float64Array(new SharedArrayBuffer(MAX_ARGS * 8));
        const ready: Promise<void>[] = [];
        for (let i = 0; i < threads - 1; i++) {
          const w = spawnWorker();
          w.onMessage((m) => this.waiters.get(`${m.type}:${i}:${m.id ?? ''}`)?.());
          w.onError((error) => {
            if (this.workers.includes(w)) this.failure?.(error);
          });
          ready.push(this.expect(`ready:${i}:`));
          w.post({ type: 'init', ctrl: this.ctrl.buffer, args: this.args.buffer });
          this.workers.push(w);
        }
        await Promise.all(ready);
      })();
      try {
        await this.starting;
      } catch (error) {
        await this.stop();
        throw error;
      } finally {
        this.starting = undefined;
      }
    }
    try {
      await this.register(modules);
    } catch (error) {
      await this.stop();
      throw error;
    }
    return this.threads;
  }

  /** Instantiates modules in every worker (on each module's shared memory). */
  async register(modules: readonly PoolModule[]): Promise<void> {
    const fresh = modules.filter((m) => !this.modules.has(m));
    if (this.workers.length === 0 || (fresh.length === 0 && this.looping)) return;
    this.leaveLoop();
    for (const m of fresh) {
      const { module, memory } = m.sharedHandle();
      const names = WebAssembly.Module.exports(module)
        .filter((e) => e.kind === 'function')
        .map((e) => e.name);
      const id = this.modules.size;
      this.modules.set(m, { id, names });
      await Promise.all(
        this.workers.map((w, i) => {
          const done = this.expect(`registered:${i}:${id}`);
          w.post({ type: 'module', id, module, memory, names });
          return done;
        }),
      );
    }
    const seq = Atomics.load(this.ctrl, SEQ);
    for (const w of this.workers) w.post({ type: 'loop', seq });
    this.looping = true;
  }

  private command(kind: number): void {
    const ctrl = this.ctrl;
    Atomics.store(ctrl, DONE, 0);
    Atomics.store(ctrl, KIND, kind);
    Atomics.add(ctrl, SEQ, 1);
    Atomics.notify(ctrl, SEQ);
  }

  private waitDone(): void {
    const ctrl = this.ctrl;
    const n = this.workers.length;
    for (let d = Atomics.load(ctrl, DONE); d < n; d = Atomics.load(ctrl, DONE)) Atomics.wait(ctrl, DONE, d, 1000);
  }

  private leaveLoop(): void {
    if (!this.looping) return;
    this.command(1);
    this.waitDone();
    this.looping = false;
  }

  run(
    module: PoolModule,
    kernel: string,
    args: readonly number[],
    parts: number,
    local: (...a: number[]) => unknown,
  ): void {
    const entry = this.modules.get(module)!;
    const fn = entry.names.indexOf(kernel);
    if (args.length > MAX_ARGS) throw new ValueError(`worker pool: at most ${MAX_ARGS} kernel arguments`);
    const ctrl = this.ctrl;
    for (let i = 0; i < args.length; i++) this.args[i] = args[i]!;
    Atomics.store(ctrl, MODULE, entry.id);
    Atomics.store(ctrl, FN, fn);
    Atomics.store(ctrl, NARGS, args.length);
    Atomics.store(ctrl, PARTS, parts);
    Atomics.store(ctrl, NEXT, 0);
    Atomics.store(ctrl, ERROR, 0);
    this.command(0);
    for (;;) {
      const p = Atomics.add(ctrl, NEXT, 1);
      if (p >= parts) break;
      local(...args, p, parts);
    }
    this.waitDone();
    if (Atomics.load(ctrl, ERROR)) throw new ValueError(`worker pool: kernel ${module.name}.${kernel} failed in a worker`);
  }

  async stop(): Promise<void> {
    if (this.workers.length === 0) return;
    if (this.looping) {
      this.command(2);
      this.waitDone();
    }
    const workers = this.workers;
    this.workers = [];
    for (const w of workers) w.terminate();
    this.failure = undefined;
    this.looping = false;
    for (const m of this.modules.keys()) m.instantiate(false);
    this.modules.clear();
  }
}

/** @internal the process-wide pool. */
export const pool = new WorkerPool();
