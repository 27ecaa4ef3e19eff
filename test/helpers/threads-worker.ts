/**
 * A worker thread for test/threads.test.ts: answers calls after a delay it
 * is told, throws or exits on request, keeps its loop busy, beats one
 * heartbeat and reads another.
 */
import { parentPort, workerData } from "node:worker_threads";

import { Heartbeat } from "../../src/threads/heartbeat.js";

export type ToTestWorker =
  | { type: "call"; id: number; value: string; delayMs: number }
  | { type: "throw"; message: string }
  | { type: "exit"; code: number }
  | { type: "block"; ms: number }
  | { type: "look" };

export type FromTestWorker = { type: "answer"; id: number; value: string } | { type: "seen"; ageMs: number; flag: boolean };

export interface TestWorkerInit {
  /** This thread beats it. */
  beats: SharedArrayBuffer;
  /** The main thread beats it, with one flag; "look" reports both. */
  watches: SharedArrayBuffer;
}

const port = parentPort!;
const init = workerData as TestWorkerInit;
Heartbeat.attach(init.beats).start();
const watched = Heartbeat.attach(init.watches);
const post = (msg: FromTestWorker) => port.postMessage(msg);

port.on("message", (msg: ToTestWorker) => {
  switch (msg.type) {
    case "call":
      setTimeout(() => post({ type: "answer", id: msg.id, value: msg.value.toUpperCase() }), msg.delayMs);
      return;
    case "throw":
      setImmediate(() => {
        throw new Error(msg.message);
      });
      return;
    case "exit":
      process.exit(msg.code);
    case "block": {
      const until = Date.now() + msg.ms;
      while (Date.now() < until);
      return;
    }
    case "look":
      post({ type: "seen", ageMs: watched.ageMs(), flag: watched.flag(0) });
  }
});
