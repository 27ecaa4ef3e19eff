/** Messages between the front thread (./front.ts) and the main thread (./server.ts) of the experiment. */
import type { ErrorCode } from "../../src/errors.js";

export type FrontRequest =
  | { type: "predict" | "score"; id: number; req: unknown; deadline: number | undefined }
  | { type: "cancel"; id: number };

export type FrontReply = { id: number; queued: number } & (
  | { ok: true; result: unknown }
  | { ok: false; error: { code: ErrorCode; message: string; field?: string; retryAfterMs?: number } }
);
