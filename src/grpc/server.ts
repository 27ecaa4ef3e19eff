/**
 * The gRPC transport: nextword.v1.NextWord (proto/nextword/v1/nextword.proto,
 * loaded at runtime with @grpc/proto-loader), the standard health service
 * grpc.health.v1.Health (grpc-health-check) and server reflection
 * (@grpc/reflection: v1 and v1alpha, so grpcurl/grpc_cli work without the
 * .proto).
 *
 * createGrpcServer() never binds: src/main.ts (and tests) call bind(). Like
 * the REST app, it holds the service from the start:
 *
 * - health is NOT_SERVING until service.ready(), SERVING while it is, and
 *   NOT_SERVING again from the start of close() (polled every second, and
 *   refreshHealth() for an immediate update). Both "" (the whole server) and
 *   "nextword.v1.NextWord" are reported.
 * - close(graceMs): NOT_SERVING; open Sessions answer what they received and
 *   end with UNAVAILABLE; health Watch streams get NOT_SERVING and end;
 *   tryShutdown (stop accepting, let in-flight calls finish) for up to
 *   graceMs, then forceShutdown. Idempotent.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Server, ServerCredentials, type ChannelOptions, type ServerWritableStream, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, protoPath as healthProtoPath, type ServingStatus } from "grpc-health-check";
import type { Config } from "../config.js";
import { MALFORMED_REQUEST } from "./call-scope.js";
import { createHandlers, type HandlerDeps } from "./handlers.js";
import type { SessionRegistry } from "./session.js";

export const SERVICE_NAME = "nextword.v1.NextWord";
export const PROTO_FILE = "nextword/v1/nextword.proto";

/** proto/ at the repository root, from src/grpc (tests), dist/grpc (the server) or dist-bench/src/grpc (benchmarks). */
export const PROTO_ROOT: string = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ["../..", "../../.."]) {
    const dir = path.resolve(here, up, "proto");
    if (existsSync(path.join(dir, PROTO_FILE))) return dir;
  }
  return path.resolve(here, "../../proto");
})();

/**
 * keepCase: the messages use the .proto's own field names (log_prob,
 * in_vocabulary), and reflection then describes the .proto as written.
 * oneofs: a SessionEvent says which event it carries; proto3 `optional`
 * fields (k, log_prob) are present only when set (defaults: false).
 */
export const PROTO_LOADER_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true } as const;

export function loadNextwordProto(): PackageDefinition {
  const healthRoot = path.resolve(path.dirname(healthProtoPath), "../..");
  return loadSync([PROTO_FILE, "health/v1/health.proto"], { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_ROOT, healthRoot] });
}

/**
 * Server options, each set on purpose:
 */
export const GRPC_SERVER_OPTIONS = {
  // The largest valid request is a Score with a 4000-character context and
  // 100 words of 64 characters: at most ~42 KB of UTF-8 plus framing. Anything
  // larger cannot be valid, so it is refused (RESOURCE_EXHAUSTED) before it
  // is decoded; the 4 MB default would let a client make us buffer 100x that.
  "grpc.max_receive_message_length": 64 * 1024,
  // Replies are small (k <= 50 predictions, <= 100 scores); a bound catches bugs.
  "grpc.max_send_message_length": 1024 * 1024,
  // No keepalive pings from the server ("grpc.keepalive_time_ms" unset): in
  // grpc-js 1.14 a ping due after a connection's age GOAWAY cannot be sent
  // (Node refuses pings on a closing HTTP/2 session) and grpc-js then
  // destroys the connection, cutting every stream still in its grace with
  // INTERNAL; it cut each typing session at each recycling
  // (bench/notebook/soak.md, "Run G's errors, found";
  // test/grpc-connection-age.test.ts). A dead peer's session state is still
  // freed at SESSION_MAX_AGE_S and its connection at its age plus grace at
  // the latest.
  // Long-lived HTTP/2 connections pin clients to one replica behind an L4
  // load balancer; recycling connections every 30 min (GOAWAY, clients
  // reconnect transparently) rebalances after scale-out. Streams already
  // open go on through the grace, after which grpc-js resets them (the
  // client sees INTERNAL): grpcServerOptions() makes the grace outlast the
  // longest typing session, which ends itself cleanly (UNAVAILABLE: reopen).
  "grpc.max_connection_age_ms": 30 * 60_000,
  // Idle connections (no call for 10 min) are closed to free their memory.
  "grpc.max_connection_idle_ms": 10 * 60_000,
  // One connection may multiplex many sessions (a gateway), but not without
  // bound: each stream holds per-session state and queued events. The
  // batcher's queue bound sheds load across connections; this caps what a
  // single connection can pin.
  "grpc.max_concurrent_streams": 256,
} as const;

/** The options for a config: GRPC_SERVER_OPTIONS, and a grace one minute past SESSION_MAX_AGE_S. */
export function grpcServerOptions(config: Pick<Config, "sessionMaxAgeS">): ChannelOptions {
  return { ...GRPC_SERVER_OPTIONS, "grpc.max_connection_age_grace_ms": (config.sessionMaxAgeS + 60) * 1000 };
}

/**
 * The service's methods with request decoding that never throws: grpc-js
 * answers bytes that are not a protobuf message of the method's type with
 * INTERNAL, which is a client's error; decoded as MALFORMED instead, the
 * handlers answer INVALID_ARGUMENT (call-scope.ts).
 */
function tolerantRequests(def: ServiceDefinition): ServiceDefinition {
  const out: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(def)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch {
          return MALFORMED_REQUEST;
        }
      },
    };
  }
  return out as ServiceDefinition;
}

/** The handlers' deps (handlers.ts), and the server's own settings. */
export interface GrpcServerDeps extends HandlerDeps {
  /** How often health follows service.ready() (ms); default 1000. */
  healthPollMs?: number;
  /** grpc-js server options; default grpcServerOptions(config). Tests shorten the connection timers. */
  channelOptions?: ChannelOptions;
}

export interface GrpcServer {
  /** Binds host:port (0: any free port) with insecure credentials; resolves to the bound port. */
  bind(host: string, port: number): Promise<number>;
  /** Health now: SERVING when the service is ready and close() has not begun. */
  refreshHealth(): ServingStatus;
  /** Sessions open now. */
  readonly openSessions: number;
  /** See the module comment. Idempotent. */
  close(graceMs?: number): Promise<void>;
}

export const DEFAULT_GRACE_MS = 10_000;

export function createGrpcServer(deps: GrpcServerDeps): GrpcServer {
  const log = deps.logger.child({ component: "grpc" });
  const packageDefinition = loadNextwordProto();
  const server = new Server(deps.channelOptions ?? grpcServerOptions(deps.config));

  const registry: SessionRegistry = { sessions: new Set(), closing: false };
  const nextword = tolerantRequests(packageDefinition[SERVICE_NAME] as ServiceDefinition);
  server.addService(nextword, createHandlers(deps, registry) as unknown as UntypedServiceImplementation);

  let closing: Promise<void> | null = null;
  let shuttingDown = false;

  // Health, with its Watch streams tracked so that close() can end them.
  const health = new HealthImplementation({ "": "NOT_SERVING", [SERVICE_NAME]: "NOT_SERVING" });
  const watches = new Set<ServerWritableStream<unknown, unknown>>();
  health.addToServer({
    addService(def: ServiceDefinition, impl: UntypedServiceImplementation) {
      const watch = impl.watch as (call: ServerWritableStream<unknown, unknown>) => void;
      server.addService(def, {
        ...impl,
        watch: (call: ServerWritableStream<unknown, unknown>) => {
          if (shuttingDown) {
            call.write({ status: "NOT_SERVING" });
            call.end();
            return;
          }
          watches.add(call);
          call.on("cancelled", () => watches.delete(call));
          watch(call);
        },
      });
    },
  } as unknown as Server);

  new ReflectionService(packageDefinition).addToServer(server);

  let status: ServingStatus = "NOT_SERVING";
  const refreshHealth = (): ServingStatus => {
    const next: ServingStatus = !shuttingDown && deps.service.ready() ? "SERVING" : "NOT_SERVING";
    if (next !== status) {
      status = next;
      health.setStatus("", next);
      health.setStatus(SERVICE_NAME, next);
      log.info({ status: next }, `grpc health: ${next}`);
    }
    return status;
  };
  const poll = setInterval(refreshHealth, deps.healthPollMs ?? 1000);
  poll.unref();
  refreshHealth();

  return {
    get openSessions() {
      return registry.sessions.size;
    },
    bind(host: string, port: number): Promise<number> {
      const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
      return new Promise((resolve, reject) =>
        server.bindAsync(address, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
      );
    },
    refreshHealth,
    close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
      closing ??= (async () => {
        shuttingDown = true;
        clearInterval(poll);
        registry.closing = true;
        refreshHealth(); // NOT_SERVING, written to every Watch stream
        for (const s of [...registry.sessions]) s.shutdown();
        for (const w of watches) w.end();
        watches.clear();
        const drained = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), graceMs);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve(true);
          });
        });
        if (!drained) {
          log.warn({ graceMs, openSessions: registry.sessions.size }, "grpc calls still open after the grace period: forcing shutdown");
          server.forceShutdown();
        }
        log.info("grpc server closed");
      })();
      return closing;
    },
  };
}
