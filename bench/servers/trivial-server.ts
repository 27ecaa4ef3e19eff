/**
 * Ceiling reference for bench/http.ts: fastify answering POST /v1/predict
 * with a fixed prediction, no model, no logging. Same transport, same JSON
 * body parsing, same response size class as the real service.
 *
 *   HOST=127.0.0.1 PORT=8099 node dist-bench/bench/servers/trivial-server.js
 */
import Fastify from "fastify";

const answer = {
  predictions: [
    { word: "the", probability: 0.0523, logProb: -2.9506, corrected: false },
    { word: "a", probability: 0.0311, logProb: -3.4704, corrected: false },
    { word: "his", probability: 0.0107, logProb: -4.5375, corrected: false },
  ],
  model: { name: "trivial", version: "0.0.0" },
};

const app = Fastify({ logger: false });
app.post("/v1/predict", async () => answer);
app.get("/readyz", async () => ({ status: "ready" }));

const stop = () => void app.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

await app.listen({ host: process.env.HOST || "127.0.0.1", port: Number(process.env.PORT || 0) });
