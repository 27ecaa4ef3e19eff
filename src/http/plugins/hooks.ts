/**
 * How the plugins in this folder declare themselves and their hooks.
 *
 * - appWide: fastify-plugin's skip-override, without the dependency: a
 *   plugin marked so adds its hooks and decorators to the instance it is
 *   registered on (the app) instead of an encapsulated child, so they
 *   apply to every route registered after it.
 * - syncHook: an onRequest hook as a plain function that returns or
 *   throws. fastify runs a callback-style hook without the promise an
 *   async one costs per request; a throw becomes done(error): the
 *   request's error response.
 * - forRoutes: adds a hook to the routes whose `metricMethod` is listed
 *   (at registration, through onRoute), so the other routes do not run it.
 *   fastify runs the app's hooks first, then the routes' own, each in the
 *   order they were added.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyPluginOptions, FastifyReply, FastifyRequest, onRequestHookHandler } from "fastify";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route's name: the `method` label of nextword_request_duration_seconds, and what forRoutes selects by. */
    metricMethod?: string;
  }
}

export function appWide<Options extends FastifyPluginOptions = Record<never, never>>(plugin: FastifyPluginAsync<Options>): FastifyPluginAsync<Options> {
  return Object.assign(plugin, { [Symbol.for("skip-override")]: true });
}

export function syncHook(step: (request: FastifyRequest, reply: FastifyReply) => void): onRequestHookHandler {
  return function (request, reply, done) {
    try {
      step(request, reply);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  };
}

export function forRoutes(app: FastifyInstance, methods: ReadonlySet<string>, hook: onRequestHookHandler): void {
  app.addHook("onRoute", (route) => {
    if (!methods.has(route.config?.metricMethod ?? "")) return;
    const own = route.onRequest;
    route.onRequest = own === undefined ? [hook] : [...(Array.isArray(own) ? own : [own]), hook];
  });
}
