/**
 * The deployment files agree with the service: docker-compose.yml,
 * deploy/prometheus, deploy/grafana/provisioning and deploy/kubernetes use the
 * ports of loadConfig({}), only variables src/config.ts reads (with values it
 * accepts), probe and scrape paths the REST app really routes, metric names a
 * Metrics registry really has, and a termination grace above the preStop
 * pause plus SHUTDOWN_TIMEOUT_MS. The model repository: each image's
 * (Dockerfile) and each mounted one (compose's host folder, the Kubernetes
 * volume, seeded by the Deployment's initContainer, whose script runs here)
 * holds the default model, scanned by the service's own scanRepository; the
 * volume is mounted where MODEL_REPOSITORY points; memory covers two loaded
 * versions; the admin token comes from the environment or a Secret, never a
 * literal. Every Kubernetes manifest validates against its Kubernetes schema.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { HEALTH_PATHS } from "../src/health/health-server.js";
import { testAdmission } from "./helpers/http-app.js";
import t, { type Test } from "tap";
import { parse } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1";

import { CONFIG_VARIABLES, defaultModelName, loadConfig, type Config } from "../src/config.js";
import { GRPC_SERVER_OPTIONS, grpcServerOptions } from "../src/grpc/server.js";
import { buildApp } from "../src/http/app.js";
import { createLogger } from "../src/logger.js";
import { SHUTDOWN_TIMEOUT_MS } from "../src/main.js";
import { Metrics } from "../src/metrics.js";
import { estimateMb } from "../src/models/memory.js";
import { readEntry, scanRepository } from "../src/models/repository.js";
import {
  K8S_DIR, ROOT, bytes, composeEnv, containerPorts, cpuCores, dockerStages, durationSeconds, exists, interpolate, k8sObjects,
  metricOf, nextwordMetricsIn, one, readText, readYaml, validateK8s, volumes, type Doc,
} from "./helpers/deploy-files.js";
import { pendingRegistry } from "./helpers/registry.js";

/** Measured (deploy/README.md): default bundle, 2 cores, WORKERS=2; slowest start to /readyz 200, peak RSS under load. */
const MEASURED_READY_S = 1.4;
const MEASURED_PEAK_RSS = 814 * 2 ** 20;
/** Measured (src/models/memory.ts): RSS growth of one loaded LSTM-512 version with 2 workers, upper end. */
const MEASURED_VERSION_MB = 210;
const MiB = 2 ** 20;

const defaults = loadConfig({});
const KNOWN = new Set<string>(CONFIG_VARIABLES);
const metricNames = new Set(new Metrics().registry.getMetricsAsArray().map((m) => m.name));
const NEW_METRICS = ["nextword_requests_in_flight", "nextword_sessions_open", "nextword_model_info"];
const dockerfile = exists("Dockerfile") ? readText("Dockerfile") : null;
const stages = dockerfile === null ? [] : dockerStages(dockerfile);
/** The ENV an image (a Dockerfile target) starts its process with. */
const imageEnv = (target: string): Record<string, string> => stages.find((s) => s.name === target)?.env ?? {};
const run = promisify(execFile);

const metrics = new Metrics();
const app = await buildApp({ service: pendingRegistry(defaults, createLogger({ logLevel: "silent" }), metrics).registry, admission: testAdmission(defaults, metrics), metrics, logger: createLogger({ logLevel: "silent" }), config: defaults });
t.teardown(() => app.close());
const isRoute = (p: string) => app.hasRoute({ method: "GET", url: p });

/**
 * The environment is only names src/config.ts reads, with values loadConfig
 * accepts; the config is what the process sees: the image's ENV under it.
 */
function checkEnv(t: Test, env: Record<string, string>, where: string, image: Record<string, string> = {}) {
  for (const name of Object.keys(env)) t.ok(KNOWN.has(name), `${where}: ${name} is a variable src/config.ts reads`);
  t.doesNotThrow(() => loadConfig({ ...image, ...env }), `${where}: loadConfig accepts its environment`);
  return loadConfig({ ...image, ...env });
}

/** The versions a repository folder on this machine holds, by the service's own scan. */
async function modelsIn(dir: string): Promise<string[]> {
  const scan = await scanRepository(dir);
  return scan.entries.map((e) => `${e.name}@${e.version}`);
}

/** The admin token's value in a compose file: an interpolation with an empty default, never a literal. */
const ENV_TOKEN = /^\$\{[A-Z][A-Z0-9_]*(:?-)?\}$/;

t.test("the service's routes and metrics the files rely on", async (t) => {
  for (const p of ["/healthz", "/readyz", "/metrics"]) t.ok(isRoute(p), `GET ${p} is routed`);
  t.notOk(isRoute("/health"), "hasRoute does report missing routes");
  t.equal((await app.inject({ url: "/healthz" })).statusCode, 200, "/healthz: live while the model loads");
  t.equal((await app.inject({ url: "/readyz" })).statusCode, 503, "/readyz: not ready while the model loads");
  for (const m of NEW_METRICS) t.ok(metricNames.has(m), `${m} is in the Metrics registry`);
  t.ok(GRPC_SERVER_OPTIONS["grpc.max_connection_age_ms"] > 0, "the server recycles connections (clients re-resolve DNS)");
  const defaults = loadConfig({});
  t.ok(
    Number(grpcServerOptions(defaults)["grpc.max_connection_age_grace_ms"]) > defaults.sessionMaxAgeS * 1000,
    "a recycled connection's grace outlasts the longest session, which ends itself cleanly",
  );
});

const compose = readYaml("docker-compose.yml");
/** What compose and Kubernetes serve: each default model with the providers it runs on. */
const served: Array<Pick<Config, "defaultModel" | "executionProviders">> = [];

t.test("docker-compose.yml", async (t) => {
  const s = compose.services;
  t.same(Object.keys(s).sort(), ["grafana", "nextword", "nextword-gpu", "prometheus"]);
  for (const [name, target] of [["nextword", "runtime"], ["nextword-gpu", "gpu"]] as const) {
    const svc = s[name];
    t.equal(svc.build.context, ".", `${name}: built from the repository`);
    t.equal(svc.build.target, target, `${name}: Dockerfile target ${target}`);
    const raw = composeEnv(svc);
    const env = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(v, {})]));
    const cfg = checkEnv(t, env, name, imageEnv(target));
    t.equal(cfg.port, defaults.port, `${name}: REST port is the default`);
    t.equal(cfg.grpcPort, defaults.grpcPort, `${name}: gRPC port is the default`);
    t.same(containerPorts(svc).sort(), [cfg.port, cfg.grpcPort].sort(), `${name}: publishes the REST and gRPC ports`);
    served.push(cfg);
    const probe = svc.healthcheck.test.join(" ");
    const url = /http:\/\/(?:127\.0\.0\.1|localhost):(\d+)(\/[a-z]+)/.exec(probe);
    t.ok(url, `${name}: healthcheck fetches a local URL`);
    t.equal(Number(url?.[1]), cfg.port, `${name}: healthcheck port`);
    t.ok(isRoute(url?.[2] ?? ""), `${name}: healthcheck path ${url?.[2]} is routed`);
    t.ok(durationSeconds(svc.stop_grace_period) > SHUTDOWN_TIMEOUT_MS / 1000, `${name}: stop_grace_period > SHUTDOWN_TIMEOUT_MS`);

    // The repository: a host folder mounted read-only where MODEL_REPOSITORY points, holding the default model, polled.
    t.equal(cfg.modelDir, null, `${name}: serves a repository, not MODEL_DIR`);
    const repo = (svc.volumes as string[]).find((v) => v.split(":")[1] === cfg.modelRepository);
    t.ok(repo, `${name}: a volume is mounted at MODEL_REPOSITORY ${cfg.modelRepository}`);
    const [src, , mode] = (repo ?? "").split(":");
    t.equal(mode, "ro", `${name}: the repository is mounted read-only`);
    t.match(src, /^\.\//, `${name}: the repository is a folder of this checkout`);
    const versions = await modelsIn(path.join(ROOT, src!));
    t.ok(versions.some((v) => v.startsWith(`${cfg.defaultModel}@`)), `${name}: ${src} holds ${cfg.defaultModel} (${versions.join(", ")})`);
    t.ok(cfg.modelPollS !== null && cfg.modelPollS <= 60, `${name}: the repository is polled (MODEL_POLL_S ${cfg.modelPollS})`);

    // The admin token: from the host's environment, off when it is unset or empty.
    t.match(raw.ADMIN_TOKEN, ENV_TOKEN, `${name}: ADMIN_TOKEN is an interpolation, not a literal`);
    const hostVar = /\$\{([A-Z0-9_]+)/.exec(raw.ADMIN_TOKEN ?? "")?.[1] ?? "";
    t.equal(loadConfig({ ADMIN_TOKEN: interpolate(raw.ADMIN_TOKEN ?? "", {}) }).adminToken, null, `${name}: no ${hostVar}: the admin API is off`);
    t.equal(loadConfig({ ADMIN_TOKEN: interpolate(raw.ADMIN_TOKEN ?? "", { [hostVar]: "" }) }).adminToken, null, `${name}: an empty ${hostVar}: off`);
    const token = "0123456789abcdef0123";
    t.equal(loadConfig({ ADMIN_TOKEN: interpolate(raw.ADMIN_TOKEN ?? "", { [hostVar]: token }) }).adminToken, token, `${name}: ${hostVar} is the token`);
  }
  t.equal(interpolate("${A:-x}", { A: "" }), "x", "interpolate: `:-` replaces an empty value");
  t.equal(interpolate("${A-x}", { A: "" }), "", "interpolate: `-` keeps an empty value");
  const gpu = s["nextword-gpu"];
  t.same(gpu.profiles, ["gpu"], "the GPU service only runs with --profile gpu");
  t.ok(loadConfig(composeEnv(gpu)).executionProviders.includes("cuda"), "the GPU service asks for CUDA");
  const dev = gpu.deploy.resources.reservations.devices[0];
  t.equal(dev.driver, "nvidia");
  t.ok(dev.count === "all" || (Number.isInteger(dev.count) && dev.count >= 1), "device count 1+ or all");
  t.ok(dev.capabilities.includes("gpu"), "capability gpu");
  const hostPorts = (svc: Doc) => (svc.ports as string[]).map((p) => String(p).split(":")[0]);
  t.notOk(hostPorts(s.nextword).some((p) => hostPorts(gpu).includes(p)), "CPU and GPU services publish different host ports");

  t.match(s.prometheus.image, /^prom\/prometheus/);
  const promConfig = (s.prometheus.command as string[]).find((a) => a.startsWith("--config.file="))?.split("=")[1] ?? "/etc/prometheus/prometheus.yml";
  t.same(volumes(s.prometheus).find(([src]) => src === "./deploy/prometheus/prometheus.yml"), ["./deploy/prometheus/prometheus.yml", promConfig]);

  t.match(s.grafana.image, /^grafana\/grafana/);
  t.ok(volumes(s.grafana).some(([src, dst]) => src === "./deploy/grafana/provisioning" && dst === "/etc/grafana/provisioning"), "provisioning mounted");
});

t.test("deploy/prometheus/prometheus.yml scrapes the compose services' metrics", async (t) => {
  const prom = readYaml("deploy/prometheus/prometheus.yml");
  const job = prom.scrape_configs.find((j: Doc) => j.job_name === "nextword");
  t.ok(job, "a nextword job");
  t.ok(isRoute(job.metrics_path ?? "/metrics"), "metrics_path is routed");
  t.ok(durationSeconds(job.scrape_interval ?? prom.global.scrape_interval) <= 10, "scraped every 10 s or faster");
  const targets: string[] = job.static_configs.flatMap((c: Doc) => c.targets);
  t.same(targets.sort(), ["nextword-gpu:8080", "nextword:8080"].sort());
  for (const target of targets) {
    const [host, port] = target.split(":");
    t.ok(compose.services[host!], `${host} is a compose service`);
    t.equal(Number(port), loadConfig(composeEnv(compose.services[host!])).port, `${target}: the service's REST port`);
  }
});

t.test("Grafana provisioning agrees with compose and the dashboard", async (t) => {
  const ds = readYaml("deploy/grafana/provisioning/datasources/prometheus.yml").datasources;
  t.equal(ds.length, 1);
  t.match(ds[0], { uid: "prometheus", type: "prometheus", url: "http://prometheus:9090", access: "proxy" });
  const scrape = readYaml("deploy/prometheus/prometheus.yml").scrape_configs.find((j: Doc) => j.job_name === "nextword").scrape_interval;
  t.equal(ds[0].jsonData.timeInterval, scrape, "Grafana's minimum step is the scrape interval");
  t.ok(compose.services.prometheus.ports.some((p: string) => p.endsWith(":9090")), "prometheus listens on 9090");

  const providers = readYaml("deploy/grafana/provisioning/dashboards/nextword.yml").providers;
  t.equal(providers.length, 1);
  t.equal(providers[0].type, "file");
  const mount = volumes(compose.services.grafana).find(([src]) => src === "./deploy/grafana/dashboards");
  t.ok(mount, "compose mounts deploy/grafana/dashboards");
  t.equal(providers[0].options.path, mount?.[1], "the provider loads the folder compose mounts");
  const home: string = compose.services.grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
  t.equal(home, `${mount?.[1]}/nextword.json`, "home dashboard is the mounted nextword.json");

  const dashboardFile = "deploy/grafana/dashboards/nextword.json";
  if (!exists(dashboardFile)) {
    t.comment(`${dashboardFile} not written yet: dashboard checks skipped`);
    return;
  }
  const dash = JSON.parse(readText(dashboardFile)) as Doc;
  t.equal(dash.uid, "nextword");
  const variable = dash.templating?.list?.find((v: Doc) => v.name === "datasource");
  t.match(variable, { type: "datasource", query: ds[0].type }, "a ${datasource} variable of the provisioned type");
  const refs: Doc[] = [];
  const walk = (x: Doc): void => {
    if (x && typeof x === "object") {
      if (x.datasource && typeof x.datasource === "object") refs.push(x.datasource);
      Object.values(x).forEach(walk);
    }
  };
  walk(dash.panels);
  for (const r of refs) t.ok(r.uid === "${datasource}" || r.uid === ds[0].uid || r.type !== "prometheus", `panel datasource ${r.uid}`);
  const used = new Set(nextwordMetricsIn(JSON.stringify(dash.panels)));
  for (const m of used) t.ok(metricNames.has(m), `dashboard metric ${m} is exported`);
});

const k8s = k8sObjects();
const deployment = one(k8s, "Deployment", "nextword");
const container = deployment.spec.template.spec.containers.find((c: Doc) => c.name === "nextword");
const podLabels = deployment.spec.template.metadata.labels;
const portNamed = (name: string | number) =>
  typeof name === "number" ? name : container.ports.find((p: Doc) => p.name === name)?.containerPort;
const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);

t.test("Kubernetes manifests validate as Kubernetes objects", async (t) => {
  t.ok(k8s.length >= 7, "manifests found");
  for (const { file, obj } of k8s) t.doesNotThrow(() => validateK8s(obj), `${file}: ${obj.kind} ${obj.metadata?.name}`);
  const bad = structuredClone(deployment);
  bad.spec.template.spec.containers[0].ports[0].containerPort = "http";
  t.throws(() => validateK8s(bad), "a string containerPort is rejected");
  t.throws(() => new Deployment({ metadata: { name: "x" }, spec: { template: {} } } as never).validate(), "a Deployment without selector is rejected");
  t.throws(() => validateK8s({ apiVersion: "v9", kind: "Gadget" }), "an unknown kind is rejected");

  const kustomization = readYaml(`${K8S_DIR}/kustomization.yaml`);
  const optional = ["servicemonitor.yaml", "prometheus-adapter-rules.yaml", "model-loader.yaml"];
  const files = [...new Set(k8s.map((o) => o.file))];
  t.same([...kustomization.resources].sort(), files.filter((f) => !optional.includes(f)).sort(), "every required manifest is a kustomize resource");
  t.equal(kustomization.images.find((i: Doc) => i.name === container.image)?.name, container.image, "kustomize sets the image");
});

const plainEnv = (c: Doc): Record<string, string> => Object.fromEntries(c.env.filter((e: Doc) => !e.valueFrom).map((e: Doc) => [e.name, e.value]));

t.test("the Deployment agrees with the service", async (t) => {
  const env = plainEnv(container);
  const cfg = checkEnv(t, env, "deployment", imageEnv("runtime"));
  t.equal(portNamed("http"), cfg.port);
  t.equal(portNamed("grpc"), cfg.grpcPort);
  t.equal(cfg.port, defaults.port);
  t.equal(cfg.grpcPort, defaults.grpcPort);
  served.push(cfg);

  const { startupProbe: startup, readinessProbe: ready, livenessProbe: live } = container;
  t.equal(ready.httpGet.path, "/readyz");
  t.equal(live.httpGet.path, "/healthz");
  t.ok(["/readyz", "/healthz"].includes(startup.httpGet.path));
  for (const p of [startup, ready, live]) {
    t.ok(isRoute(p.httpGet.path), `probe path ${p.httpGet.path} is routed (on the REST port too)`);
    t.ok(HEALTH_PATHS.includes(p.httpGet.path), `probe path ${p.httpGet.path} is answered by the health thread`);
    t.equal(portNamed(p.httpGet.port), cfg.healthPort, "probes go to HEALTH_PORT (their own thread)");
  }
  t.ok(cfg.healthStaleMs / 1000 < live.periodSeconds * live.failureThreshold + live.timeoutSeconds, "a stuck loop fails liveness before the kubelet gives up on it");
  t.ok(live.timeoutSeconds >= 1 && live.failureThreshold >= 2, "liveness has a timeout and tolerates one miss");
  t.ok(startup.periodSeconds * startup.failureThreshold >= 10 * MEASURED_READY_S, "startup budget >= 10x the measured model load");

  const preStop = container.lifecycle.preStop;
  const pause = preStop.sleep?.seconds ?? Number(/^sleep$/.test(preStop.exec?.command?.[0]) ? preStop.exec.command[1] : NaN);
  t.ok(pause >= 5, `preStop pauses ${pause} s before SIGTERM`);
  const grace = deployment.spec.template.spec.terminationGracePeriodSeconds;
  t.ok(grace > pause + SHUTDOWN_TIMEOUT_MS / 1000, `terminationGracePeriodSeconds ${grace} > ${pause} + ${SHUTDOWN_TIMEOUT_MS / 1000}`);

  const sc = container.securityContext;
  t.match(sc, { runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  t.same(sc.capabilities.drop, ["ALL"]);
  t.ok(container.volumeMounts.some((m: Doc) => m.mountPath === "/tmp"), "writable /tmp");
  const annotations = deployment.spec.template.metadata.annotations;
  t.equal(Number(annotations["prometheus.io/port"]), cfg.port);
  t.ok(isRoute(annotations["prometheus.io/path"]), "scrape path is routed");

  const { requests, limits } = container.resources;
  t.ok(cpuCores(requests.cpu) >= cfg.workers * cfg.threadsPerWorker, "a core per runner thread");
  t.ok(cpuCores(limits.cpu) > cpuCores(requests.cpu), "room for the event loop beside the runners");

  // Two versions at once during a `beside` swap: the old one under load, the new one loaded, and the new one's own cache.
  t.equal(cfg.modelSwap, "beside", "new versions load beside the serving one");
  const versionMb = Math.max(MEASURED_VERSION_MB, estimateMb(bundleBytes(cfg.defaultModel), cfg.workers));
  const swapPeak = MEASURED_PEAK_RSS + versionMb * MiB + cfg.cacheMaxMb * MiB;
  t.ok(bytes(limits.memory) >= 1.25 * swapPeak, `memory limit ${limits.memory} >= 1.25x (peak ${MEASURED_PEAK_RSS / MiB} + a version ${versionMb} + its cache ${cfg.cacheMaxMb}) MiB`);
  t.ok(bytes(requests.memory) >= MEASURED_PEAK_RSS + versionMb * MiB, "memory request covers the peak plus a second version loading");
  t.ok(bytes(requests.memory) <= bytes(limits.memory), "request <= limit");
  const budget = cfg.modelMemoryMb;
  t.ok(budget !== null && budget >= 2 * versionMb, `MODEL_MEMORY_MB ${budget} fits two versions of ${versionMb} MiB`);
  t.ok(budget !== null && budget < 3 * estimateMb(bundleBytes(cfg.defaultModel), cfg.workers), "a third version is refused");
  t.ok(budget !== null && budget * MiB < bytes(limits.memory) - MEASURED_PEAK_RSS, "the budget is within the memory limit");
});

/** Bytes of a model's bundle files in models/ (what the registry's estimate starts from). */
function bundleBytes(name: string): number {
  const dir = path.join(ROOT, "models", name);
  return readdirSync(dir, { withFileTypes: true }).filter((f) => f.isFile()).reduce((n, f) => n + readFileSync(path.join(dir, f.name)).length, 0);
}

const podSpec = deployment.spec.template.spec;
const seed = podSpec.initContainers?.find((c: Doc) => c.name === "seed-models");
const mountOf = (c: Doc, volume: string) => c.volumeMounts?.find((m: Doc) => m.name === volume);

t.test("the Deployment's model repository: a claim mounted read-only where MODEL_REPOSITORY points", async (t) => {
  const cfg = loadConfig({ ...imageEnv("runtime"), ...plainEnv(container) });
  t.equal(cfg.modelDir, null, "serves a repository, not MODEL_DIR");
  const mount = container.volumeMounts.find((m: Doc) => m.mountPath === cfg.modelRepository);
  t.ok(mount, `a volume is mounted at MODEL_REPOSITORY ${cfg.modelRepository}`);
  t.equal(mount?.readOnly, true, "read-only in the service container");
  const volume = podSpec.volumes.find((v: Doc) => v.name === mount?.name);
  const claim = one(k8s, "PersistentVolumeClaim", volume?.persistentVolumeClaim?.claimName);
  t.ok(claim.spec.accessModes.includes("ReadWriteMany"), "every pod, on any node, mounts the one repository");
  t.ok(bytes(claim.spec.resources.requests.storage) >= 10 * bundleBytes(cfg.defaultModel), "room for 10 versions");
  t.ok(readYaml(`${K8S_DIR}/kustomization.yaml`).resources.includes("model-repository.yaml"), "the claim is a kustomize resource");
  t.ok(cfg.modelPollS !== null && cfg.modelPollS <= 60, `every pod polls it (MODEL_POLL_S ${cfg.modelPollS})`);
  t.ok(cfg.models.all || cfg.models.entries.some((e) => e.name === cfg.defaultModel && e.version === null), "MODELS serves the default model's highest version");

  // The seed: the image's repository into the same volume, writable there only.
  t.ok(seed, "an initContainer seeds the volume");
  t.equal(seed.image, container.image, "from the service's image");
  const seedMount = mountOf(seed, mount?.name);
  t.ok(seedMount && !seedMount.readOnly, "it mounts the repository writable");
  const [from, to] = seed.command.slice(-2);
  t.equal(from, imageEnv("runtime").MODEL_REPOSITORY, "it copies from the image's MODEL_REPOSITORY");
  t.equal(to, seedMount?.mountPath, "into the volume it mounts");
  t.match(seed.securityContext, { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });

  // The loader pod (optional): the same claim, writable, the Deployment's image at kustomize's tag.
  const loader = one(k8s, "Pod", "nextword-model-loader");
  const loaderVolume = loader.spec.volumes.find((v: Doc) => v.persistentVolumeClaim?.claimName === claim.metadata.name);
  t.ok(loaderVolume, "the loader mounts the claim");
  const loaderMount = mountOf(loader.spec.containers[0], loaderVolume?.name);
  t.ok(loaderMount && !loaderMount.readOnly, "writable");
  const tag = readYaml(`${K8S_DIR}/kustomization.yaml`).images.find((i: Doc) => i.name === container.image)?.newTag;
  t.equal(loader.spec.containers[0].image, `${container.image}:${tag}`, "the Deployment's image");
});

t.test("the seed script (the initContainer's own text) copies the image's bundles whole, once", async (t) => {
  const script: string = seed.command[seed.command.indexOf("-e") + 1];
  const dir = mkdtempSync(path.join(tmpdir(), "nextword-seed-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const image = path.join(dir, "image");
  cpSync(path.join(ROOT, "models/tiny"), path.join(image, "tiny"), { recursive: true });
  const seedInto = async (to: string) => (await run(process.execPath, ["-e", script, image, to])).stdout;
  const visible = (to: string) => readdirSync(to);

  const empty = path.join(dir, "empty");
  mkdirSync(empty);
  t.match(await seedInto(empty), /seeded tiny@1\.0\.0/);
  t.same(await modelsIn(empty), ["tiny@1.0.0"], "the scan sees the seeded version");
  t.same(visible(empty), ["tiny"], "no leftover copy");
  t.same(readdirSync(path.join(empty, "tiny")), ["1.0.0"], "at <name>/<version>/");
  t.equal(await seedInto(empty), "", "a second start copies nothing");

  // A volume that holds another version of the name: the operator's, left alone.
  const other = path.join(dir, "other");
  cpSync(path.join(ROOT, "models/tiny"), path.join(other, "tiny-2"), { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(other, "tiny-2/manifest.json"), "utf8"));
  writeFileSync(path.join(other, "tiny-2/manifest.json.tmp"), JSON.stringify({ ...manifest, version: "2.0.0" }));
  renameSync(path.join(other, "tiny-2/manifest.json.tmp"), path.join(other, "tiny-2/manifest.json"));
  t.equal(await seedInto(other), "", "no copy beside the operator's version");
  t.same(await modelsIn(other), ["tiny@2.0.0"]);

  // Pods starting together: one copy wins, the others' are dropped, all succeed.
  const race = path.join(dir, "race");
  mkdirSync(race);
  const outs = await Promise.all([1, 2, 3].map(() => seedInto(race)));
  t.ok(outs.filter((o) => o.includes("seeded")).length >= 1, "at least one seeded");
  t.same(await modelsIn(race), ["tiny@1.0.0"], "one version, whole");
  t.same(visible(race), ["tiny"], "no leftover copies");
});

t.test("the admin token: from a Secret or the environment, never written in a file", async (t) => {
  const ref = container.env.find((e: Doc) => e.name === "ADMIN_TOKEN");
  t.ok(ref, "the Deployment sets ADMIN_TOKEN");
  t.equal(ref.value, undefined, "not as a value");
  t.match(ref.valueFrom?.secretKeyRef, { name: String, key: String, optional: true }, "from a Secret, optional (absent: admin API off)");
  t.notOk(k8s.some(({ obj }) => obj.kind === "Secret"), "no Secret in the manifests (created by hand: deploy/README.md)");
  t.notOk(stages.some((s) => "ADMIN_TOKEN" in s.env), "no image sets it");
  const files = ["Dockerfile", "docker-compose.yml", "deploy/README.md", ...readdirSync(path.join(ROOT, K8S_DIR)).map((f) => `${K8S_DIR}/${f}`)];
  for (const file of files) {
    for (const m of readText(file).matchAll(/ADMIN_TOKEN["']?\s*[:=]\s*["']?([^\s"'`)]+)/g)) {
      t.match(m[1], /^\$/, `${file}: ADMIN_TOKEN ${m[1]} is an expansion, not a literal`);
    }
    for (const m of readText(file).matchAll(/--from-literal=token=["']?([^\s"']+)/g)) t.match(m[1], /^\$/, `${file}: the Secret's token is generated, not written`);
  }
});

t.test("the Dockerfile: each image serves a repository that holds its default model; its user and ports", { skip: dockerfile === null && "no Dockerfile yet" }, async (t) => {
  const ignore = readText(".dockerignore").split("\n").map((l) => l.trim());
  for (const target of ["runtime", "gpu"]) {
    const stage = stages.find((s) => s.name === target);
    t.ok(stage, `a stage ${target}`);
    const env = imageEnv(target);
    t.notOk("MODEL_DIR" in env, `${target}: no MODEL_DIR (it would serve one bundle, no repository)`);
    // NODE_ENV is Node's and its libraries' (fastify, pino), MALLOC_MMAP_THRESHOLD_ glibc's: not the service's config.
    const { NODE_ENV, MALLOC_MMAP_THRESHOLD_, ...serviceEnv } = env;
    t.equal(NODE_ENV, "production", `${target}: NODE_ENV=production`);
    t.equal(MALLOC_MMAP_THRESHOLD_, "4194304", `${target}: a fixed mmap threshold, so unloaded model versions give their memory back`);
    const cfg = checkEnv(t, serviceEnv, `${target} image`);
    t.ok(path.posix.isAbsolute(cfg.modelRepository), `${target}: MODEL_REPOSITORY ${cfg.modelRepository} is absolute`);
    t.equal(env.DEFAULT_MODEL, defaultModelName(cfg.executionProviders), `${target}: DEFAULT_MODEL is stated, the providers' default`);
    // What the image's repository holds: the build context's folders its COPY lines put under it.
    const bundles = stage!.copies.filter((c) => c.from === null && path.posix.dirname(c.dest) === cfg.modelRepository);
    t.ok(bundles.length > 0, `${target}: bundles are copied into ${cfg.modelRepository}`);
    const names: string[] = [];
    for (const { sources } of bundles) {
      const found = await readEntry(path.join(ROOT, sources[0]!));
      t.ok(found && !("reason" in found), `${target}: ${sources[0]} is a bundle`);
      if (found && !("reason" in found)) names.push(found.name);
      t.ok(ignore.includes(`!${sources[0]!.replace(/\/?$/, "/")}`), `${target}: .dockerignore lets ${sources[0]} into the build context`);
    }
    t.ok(names.includes(cfg.defaultModel), `${target}: its repository holds ${cfg.defaultModel} (${names.join(", ")})`);
  }
  t.match(dockerfile!, /^USER 1000(:1000)?\s*$/m, "the image runs as uid 1000 (runAsUser)");
  for (const p of [defaults.port, defaults.grpcPort]) t.match(dockerfile!, new RegExp(`^EXPOSE .*\\b${p}\\b`, "m"), `EXPOSE ${p}`);
});

t.test("each service's default model is its providers' default, and a bundle of the repository", async (t) => {
  t.ok(served.length >= 3, "compose's two services and the Deployment");
  for (const { defaultModel, executionProviders } of served) {
    t.equal(defaultModel, defaultModelName(executionProviders), `${defaultModel} on ${executionProviders.join(",")}`);
    t.ok(exists(`models/${defaultModel}/manifest.json`), `models/${defaultModel} is in the repository`);
  }
});

t.test("Services, HPA, PDB, adapter rule and ServiceMonitor agree", async (t) => {
  const rest = one(k8s, "Service", "nextword");
  const grpc = one(k8s, "Service", "nextword-grpc");
  for (const svc of [rest, grpc]) t.ok(selects(svc.spec.selector), `${svc.metadata.name} selects the pods`);
  t.equal(portNamed(rest.spec.ports[0].targetPort), defaults.port);
  t.equal(grpc.spec.clusterIP, "None", "gRPC Service is headless");
  t.equal(portNamed(grpc.spec.ports[0].targetPort), defaults.grpcPort);
  t.equal(grpc.spec.ports[0].port, defaults.grpcPort, "clients dial :50051");
  const grpcDoc = readText(`${K8S_DIR}/service-grpc.yaml`);
  t.match(grpcDoc, `dns:///nextword-grpc.<namespace>.svc.cluster.local:${defaults.grpcPort}`);
  t.match(grpcDoc, /round_robin/);
  t.match(grpcDoc, /max_connection_age_ms/);
  t.match(readText(`${K8S_DIR}/deployment.yaml`), /cache.*per pod|per pod.*cache/is, "the per-pod cache is stated");

  const hpa = one(k8s, "HorizontalPodAutoscaler");
  t.match(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name });
  const pods = hpa.spec.metrics.find((m: Doc) => m.type === "Pods").pods;
  t.equal(pods.metric.name, "nextword_requests_in_flight");
  t.ok(metricNames.has(pods.metric.name), "the HPA's metric is exported");
  t.equal(pods.target.type, "AverageValue");
  t.ok(Number(pods.target.averageValue) > 0, "a per-pod target");
  t.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);

  const pdb = one(k8s, "PodDisruptionBudget");
  t.ok(selects(pdb.spec.selector.matchLabels), "PDB selects the pods");
  t.ok(pdb.spec.maxUnavailable < hpa.spec.minReplicas, "a drain never takes every pod");

  const adapter = one(k8s, "ConfigMap", "prometheus-adapter");
  const rules: Doc[] = parse(adapter.data["config.yaml"]).rules;
  const rule = rules.find((r) => r.name?.as === pods.metric.name);
  t.ok(rule, "an adapter rule serves the HPA's metric");
  t.ok(metricNames.has(metricOf(rule.seriesQuery)), `${metricOf(rule.seriesQuery)} is exported`);
  t.match(rule.metricsQuery, /<<\.Series>>\{<<\.LabelMatchers>>\}/);
  t.match(rule.resources.overrides, { namespace: { resource: "namespace" }, pod: { resource: "pod" } });

  const sm = one(k8s, "ServiceMonitor");
  t.ok(Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => rest.metadata.labels[k] === v), "selects the REST Service");
  t.equal(sm.spec.endpoints[0].port, rest.spec.ports[0].name, "by its port name");
  t.ok(isRoute(sm.spec.endpoints[0].path), "metrics path is routed");
  const keep = new RegExp(`^(?:${sm.spec.endpoints[0].metricRelabelings[0].regex})$`);
  for (const m of metricNames) if (m.startsWith("nextword_")) t.ok(keep.test(m), `${m} is kept`);
});
