/**
 * The end of every request, whatever became of it: the raw response's
 * 'close', which comes after the response was written, or alone when the
 * client went away first. fastify's onResponse misses the second case (its
 * 'finish' never comes), and a listener per concern would cost one per
 * concern per request; so one listener runs the handlers that the other
 * plugins add with `app.onRequestEnd`, in the order they were added.
 *
 * Registered first: every request that reaches fastify, refused ones
 * included, then reaches these handlers.
 */
import type { FastifyReply, FastifyRequest } from "fastify";

import { appWide, syncHook } from "./hooks.js";

/** `finished`: the response was written in full (false: the client went away first). Must not throw. */
export type RequestEndHandler = (request: FastifyRequest, reply: FastifyReply, finished: boolean) => void;

declare module "fastify" {
  interface FastifyInstance {
    /** Runs `handler` once at the end of every request (plugins/request-end.ts). */
    onRequestEnd(handler: RequestEndHandler): void;
  }
}

export const requestEnd = appWide(async (app) => {
  const handlers: RequestEndHandler[] = [];
  app.decorate("onRequestEnd", (handler: RequestEndHandler) => void handlers.push(handler));
  app.addHook(
    "onRequest",
    syncHook((request, reply) => {
      reply.raw.once("close", () => {
        const finished = reply.raw.writableEnded;
        for (const handler of handlers) handler(request, reply, finished);
      });
    }),
  );
});
