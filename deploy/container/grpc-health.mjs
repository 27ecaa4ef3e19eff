// gRPC health check of a running service: grpc.health.v1.Health/Check, the
// health proto loaded from the grpc-health-check package the service uses.
// Prints the status; exit 0 only for SERVING.
//
//   node deploy/container/grpc-health.mjs 127.0.0.1:50051 [service] [deadline-ms]
//
// service: "" (default, the whole server) or e.g. nextword.v1.NextWord.
// Resolves @grpc/* from the repository's node_modules (npm ci first).
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const { protoPath } = require("grpc-health-check");

const [target, service = "", deadlineArg = "5000"] = process.argv.slice(2);
if (!target) {
  console.error("usage: grpc-health.mjs HOST:PORT [service] [deadline-ms]");
  process.exit(2);
}

// protoPath is <pkg>/proto/health/v1/health.proto; include its root so the
// import path is health/v1/health.proto, as src/grpc/server.ts loads it.
const includeRoot = path.resolve(path.dirname(protoPath), "../..");
const def = protoLoader.loadSync("health/v1/health.proto", { includeDirs: [includeRoot], keepCase: true, enums: String });
const { Health } = grpc.loadPackageDefinition(def).grpc.health.v1;
const client = new Health(target, grpc.credentials.createInsecure());

client.Check({ service }, { deadline: Date.now() + Number(deadlineArg) }, (err, res) => {
  client.close();
  if (err) {
    console.error(`grpc health ${target} "${service}": error ${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`);
    process.exit(1);
  }
  console.log(`grpc health ${target} "${service}": ${res.status}`);
  process.exit(res.status === "SERVING" ? 0 : 1);
});
