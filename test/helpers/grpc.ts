/**
 * The gRPC transport over the REAL service on models/tiny, bound on
 * 127.0.0.1 port 0, with real grpc-js clients (NextWord and
 * grpc.health.v1.Health) loaded from the same .proto files.
 */
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import path from "node:path";
import { protoPath as healthProtoPath } from "grpc-health-check";

import { createGrpcServer, PROTO_FILE, PROTO_LOADER_OPTIONS, PROTO_ROOT, type GrpcServer } from "../../src/grpc/server.js";
import type { InferenceService } from "../../src/inference/types.js";
import { Metrics } from "../../src/metrics.js";
import { testAdmission, captureLogger, startRealService, tinyConfig, type LogCapture, type RealService } from "./http-app.js";
import type { Config } from "../../src/config.js";

type Callback<T> = (err: grpc.ServiceError | null, res?: T) => void;

/** The generated-at-runtime client, typed loosely (what a test needs). */
export interface NextWordClient extends grpc.Client {
  Predict(req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: Callback<any>): grpc.ClientUnaryCall;
  Score(req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: Callback<any>): grpc.ClientUnaryCall;
  Session(md?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientDuplexStream<object, any>;
}

export interface HealthClient extends grpc.Client {
  Check(req: { service: string }, md: grpc.Metadata, opts: grpc.CallOptions, cb: Callback<{ status: string }>): grpc.ClientUnaryCall;
  Watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
}

const nextwordDef = loadSync(PROTO_FILE, { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_ROOT] });
const healthDef = loadSync("health/v1/health.proto", {
  keepCase: true,
  enums: String,
  includeDirs: [path.resolve(path.dirname(healthProtoPath), "../..")],
});
const NextWord = (grpc.loadPackageDefinition(nextwordDef) as any).nextword.v1.NextWord as new (
  address: string,
  creds: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => NextWordClient;
const Health = (grpc.loadPackageDefinition(healthDef) as any).grpc.health.v1.Health as new (
  address: string,
  creds: grpc.ChannelCredentials,
) => HealthClient;

export function nextwordClient(address: string, options: grpc.ChannelOptions = {}): NextWordClient {
  return new NextWord(address, grpc.credentials.createInsecure(), options);
}

export function healthClient(address: string): HealthClient {
  return new Health(address, grpc.credentials.createInsecure());
}

/** A unary call as a promise: resolves the reply, or rejects with the grpc ServiceError. */
export function unary<T = any>(
  client: NextWordClient,
  method: "Predict" | "Score",
  req: object,
  opts: grpc.CallOptions = {},
  onCall?: (call: grpc.ClientUnaryCall) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const call = client[method](req, new grpc.Metadata(), opts, (err, res) => (err ? reject(err) : resolve(res as T)));
    onCall?.(call);
  });
}

export function check(client: HealthClient, service = ""): Promise<string> {
  return new Promise((resolve, reject) =>
    client.Check({ service }, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res!.status))),
  );
}

/** Sends events one at a time on a Session, collecting each answer (or the stream's error). */
export class SessionClient {
  readonly answers: any[] = [];
  error: grpc.ServiceError | null = null;
  readonly ended: Promise<void>;
  private waiting: Array<() => void> = [];
  /** The stream has ended: a send after that gets no answer, at once. */
  private over = false;

  constructor(readonly call: grpc.ClientDuplexStream<object, any>) {
    call.on("data", (m) => {
      this.answers.push(m);
      this.waiting.shift()?.();
    });
    this.ended = new Promise((resolve) => {
      call.on("error", (err: grpc.ServiceError) => {
        this.error = err;
        resolve();
      });
      call.on("end", () => resolve());
    });
    void this.ended.then(() => {
      this.over = true;
      for (const w of this.waiting.splice(0)) w();
    });
  }

  /** Sends one event and waits for its answer (or the end of the stream). */
  async send(event: object): Promise<any> {
    if (this.over) return undefined;
    const n = this.answers.length;
    const answered = new Promise<void>((resolve) => this.waiting.push(resolve));
    this.call.write(event);
    await answered;
    return this.answers.length > n ? this.answers[n] : undefined;
  }
}

export interface GrpcHarness extends RealService {
  grpc: GrpcServer;
  address: string;
  client: NextWordClient;
  health: HealthClient;
  metrics: Metrics;
  config: Config;
  logs: LogCapture;
  close(): Promise<void>;
}

export async function startGrpc(
  env: Record<string, string> = {},
  wrap: (s: InferenceService) => InferenceService = (s) => s,
  channelOptions?: (config: Config) => grpc.ChannelOptions,
): Promise<GrpcHarness> {
  const config = tinyConfig({ LOG_LEVEL: "warn", ...env });
  const { logger, logs } = captureLogger(config);
  const metrics = new Metrics();
  const real = await startRealService(config, logger, metrics);
  const server = createGrpcServer({
    service: wrap(real.service),
    admission: testAdmission(config, metrics),
    metrics,
    logger,
    config,
    channelOptions: channelOptions?.(config),
  });
  const port = await server.bind("127.0.0.1", 0);
  const address = `127.0.0.1:${port}`;
  const client = nextwordClient(address);
  const health = healthClient(address);
  return {
    ...real,
    grpc: server,
    address,
    client,
    health,
    metrics,
    config,
    logs,
    close: async () => {
      client.close();
      health.close();
      await server.close(2000);
      await real.service.close();
    },
  };
}

/** The service's answer in the shape the gRPC client decodes (what Predict must equal). */
export function asPredictMsg(r: { predictions: Array<{ word: string; probability: number; logProb: number; corrected: boolean }>; model: { name: string; version: string } }) {
  return {
    predictions: r.predictions.map((p) => ({ word: p.word, probability: p.probability, log_prob: p.logProb, corrected: p.corrected })),
    model: { name: r.model.name, version: r.model.version },
  };
}
