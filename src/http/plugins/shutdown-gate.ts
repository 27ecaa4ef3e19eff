/**
 * Shutdown as the REST app sees it, in two steps. markNotReady(): /readyz
 * answers 503 so load balancers stop sending, while requests are still
 * served. fastify's close() (its preClose): requests still arriving on
 * open connections get 503 UNAVAILABLE with Connection: close, except
 * /healthz (the process is alive while it drains); in-flight ones finish.
 */
import type { FastifyPluginAsync } from "fastify";

import { unavailable } from "../../errors.js";
import { appWide, syncHook } from "./hooks.js";

/** What main needs beyond the fastify instance (App["nextword"]). */
export interface AppControl {
  /** Start of shutdown: /readyz answers 503, requests are still served. Idempotent. */
  markNotReady(): void;
  /** False once markNotReady() or the app's close() was called. */
  readyForTraffic(): boolean;
}

/** The plugin, and the AppControl that reads its state. */
export function shutdownGate(): { plugin: FastifyPluginAsync; control: AppControl } {
  let notReady = false;
  let closing = false;
  const plugin = appWide(async (app) => {
    app.addHook("preClose", async () => {
      closing = true;
    });
    app.addHook(
      "onRequest",
      syncHook((request, reply) => {
        if (!closing || request.routeOptions.config?.metricMethod === "healthz") return;
        void reply.header("connection", "close");
        throw unavailable("server is shutting down", 1000);
      }),
    );
  });
  const control: AppControl = {
    markNotReady: () => {
      notReady = true;
    },
    readyForTraffic: () => !notReady && !closing,
  };
  return { plugin, control };
}
