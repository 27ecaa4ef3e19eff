/**
 * Starting a worker thread, and hearing when it ends. The three threads of
 * the service (runner workers, the inference thread, the health thread)
 * start this way; each owner keeps its own messages and lifecycle.
 */
import { Worker, type WorkerOptions } from "node:worker_threads";

/**
 * The module `name` (no extension) next to the module `from` (the caller's
 * import.meta.url). The built service runs dist/*.js; tests run the .ts
 * sources under tap, whose loader the worker inherits (execArgv), so the
 * thread's module has the caller's extension.
 */
export function threadModule(from: string, name: string): URL {
  return new URL(`./${name}${from.endsWith(".ts") ? ".ts" : ".js"}`, from);
}

/** Starts a worker thread on the module `name` next to `from` (see threadModule). */
export function spawnThread(from: string, name: string, options: WorkerOptions): Worker {
  return new Worker(threadModule(from, name), options);
}

/**
 * Calls `ended` once, when the thread has exited (crash, uncaught error,
 * process.exit in it, terminate): with its exit code, and the error it
 * threw if it threw one. Listening to "error" also keeps an uncaught error
 * there from being rethrown on this thread (an EventEmitter's "error"
 * without a listener throws).
 */
export function onExit(worker: Worker, ended: (code: number, thrown: Error | undefined) => void): void {
  let thrown: Error | undefined;
  // A thread may throw anything; callers get an Error.
  worker.on("error", (err: unknown) => (thrown ??= err instanceof Error ? err : new Error(`the thread threw ${String(err)}`)));
  worker.once("exit", (code) => ended(code, thrown));
}
