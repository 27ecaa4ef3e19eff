/**
 * The deployment files agree with the service: docker-compose.yml,
 * deploy/prometheus, deploy/grafana/provisioning and deploy/kubernetes use the
 * ports of loadConfig({}), only variables src/config.ts reads (with values it
 * accepts), probe and scrape paths the REST app really routes, the Dockerfile's
 * model directory and user, metric names a Metrics registry really has, and a
 * termination grace above the preStop pause plus SHUTDOWN_TIMEOUT_MS. Every
 * Kubernetes manifest validates against its Kubernetes schema.
 */
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
import {
  K8S_DIR, bytes, composeEnv, containerPorts, cpuCores, durationSeconds, exists, k8sObjects, metricOf,
  nextwordMetricsIn, one, readText, readYaml, validateK8s, volumes, type Doc,
} from "./helpers/deploy-files.js";
import { pendingRegistry } from "./helpers/registry.js";

/** Measured (deploy/README.md): default bundle, 2 cores, WORKERS=2; slowest start to /readyz 200, peak RSS under load. */
const MEASURED_READY_S = 1.4;
const MEASURED_PEAK_RSS = 814 * 2 ** 20;

const defaults = loadConfig({});
const KNOWN = new Set<string>(CONFIG_VARIABLES);
const metricNames = new Set(new Metrics().registry.getMetricsAsArray().map((m) => m.name));
const NEW_METRICS = ["nextword_requests_in_flight", "nextword_sessions_open", "nextword_model_info"];
const dockerfile = exists("Dockerfile") ? readText("Dockerfile") : null;

const metrics = new Metrics();
const app = await buildApp({ service: pendingRegistry(defaults, createLogger({ logLevel: "silent" }), metrics).registry, admission: testAdmission(defaults, metrics), metrics, logger: createLogger({ logLevel: "silent" }), config: defaults });
t.teardown(() => app.close());
const isRoute = (p: string) => app.hasRoute({ method: "GET", url: p });

/** The environment is only names src/config.ts reads, with values loadConfig accepts. */
function checkEnv(t: Test, env: Record<string, string>, where: string) {
  for (const name of Object.keys(env)) t.ok(KNOWN.has(name), `${where}: ${name} is a variable src/config.ts reads`);
  t.doesNotThrow(() => loadConfig(env), `${where}: loadConfig accepts its environment`);
  return loadConfig(env);
}

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
/** What compose and Kubernetes serve: each MODEL_DIR with the providers it runs on. */
const served: Array<Pick<Config, "modelDir" | "executionProviders">> = [];

t.test("docker-compose.yml", async (t) => {
  const s = compose.services;
  t.same(Object.keys(s).sort(), ["grafana", "nextword", "nextword-gpu", "prometheus"]);
  for (const [name, target] of [["nextword", "runtime"], ["nextword-gpu", "gpu"]] as const) {
    const svc = s[name];
    t.equal(svc.build.context, ".", `${name}: built from the repository`);
    t.equal(svc.build.target, target, `${name}: Dockerfile target ${target}`);
    const cfg = checkEnv(t, composeEnv(svc), name);
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
  }
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
  const optional = ["servicemonitor.yaml", "prometheus-adapter-rules.yaml"];
  const files = [...new Set(k8s.map((o) => o.file))];
  t.same([...kustomization.resources].sort(), files.filter((f) => !optional.includes(f)).sort(), "every required manifest is a kustomize resource");
  t.equal(kustomization.images.find((i: Doc) => i.name === container.image)?.name, container.image, "kustomize sets the image");
});

t.test("the Deployment agrees with the service", async (t) => {
  const env = Object.fromEntries(container.env.map((e: Doc) => [e.name, e.value]));
  const cfg = checkEnv(t, env, "deployment");
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
  t.ok(bytes(limits.memory) >= 1.25 * MEASURED_PEAK_RSS, "memory limit >= 1.25x the measured peak RSS");
  t.ok(bytes(requests.memory) >= MEASURED_PEAK_RSS && bytes(requests.memory) <= bytes(limits.memory), "memory request covers the peak");
  t.ok(cpuCores(requests.cpu) >= cfg.workers * cfg.threadsPerWorker, "a core per runner thread");
  t.ok(cpuCores(limits.cpu) > cpuCores(requests.cpu), "room for the event loop beside the runners");
});

t.test("the Dockerfile's model directory and user", { skip: dockerfile === null && "no Dockerfile yet" }, async (t) => {
  const dirs = [...dockerfile!.matchAll(/\bMODEL_DIR[= ]"?([^\s"\\]+)/g)].map((m) => m[1]!);
  t.ok(dirs.length > 0, "the Dockerfile sets MODEL_DIR");
  for (const { modelDir } of served) t.ok(modelDir !== null && dirs.includes(modelDir), `${modelDir} is an image's MODEL_DIR`);
  t.match(dockerfile!, /^USER 1000(:1000)?\s*$/m, "the image runs as uid 1000 (runAsUser)");
  for (const p of [defaults.port, defaults.grpcPort]) t.match(dockerfile!, new RegExp(`^EXPOSE .*\\b${p}\\b`, "m"), `EXPOSE ${p}`);
});

t.test("model directories are the default bundle for their execution providers", async (t) => {
  t.ok(served.length >= 3, "compose's two services and the Deployment");
  for (const { modelDir, executionProviders } of served) {
    const def = `models/${defaultModelName(executionProviders)}`;
    t.ok(exists(`${def}/manifest.json`), `${def} is in the repository`);
    t.ok(modelDir?.endsWith(`/${def}`), `${modelDir} is ${def} in the image (${executionProviders.join(",")})`);
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
