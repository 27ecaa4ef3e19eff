/**
 * The deployment files (docker-compose.yml, deploy/**, the Dockerfile) as
 * parsed data, and the small parsers test/deploy-config.test.ts needs to
 * compare them with the service: Kubernetes quantities, compose durations,
 * port mappings and interpolation, Dockerfile stages, and the Kubernetes
 * schema validation of kubernetes-models.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { Namespace, Service, ConfigMap, PersistentVolumeClaim, Pod } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

/** A parsed YAML/JSON document: shapes are what the assertions check. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Doc = any;

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const K8S_DIR = "deploy/kubernetes";

export function readText(rel: string): string {
  return readFileSync(path.join(ROOT, rel), "utf8");
}

export function exists(rel: string): boolean {
  return existsSync(path.join(ROOT, rel));
}

/** One YAML document; `<<` merge keys resolved (compose's x- anchors). */
export function readYaml(rel: string): Doc {
  return parse(readText(rel), { merge: true });
}

/** Every document of a (possibly multi-document) YAML file; a syntax error throws. */
export function readYamlDocs(rel: string): Doc[] {
  return parseAllDocuments(readText(rel), { merge: true }).map((d) => {
    if (d.errors.length > 0) throw new Error(`${rel}: ${d.errors[0]!.message}`);
    return d.toJS() as Doc;
  });
}

/** deploy/kubernetes/*.yaml (kustomization.yaml excepted), each object with its file. */
export function k8sObjects(): Array<{ file: string; obj: Doc }> {
  return readdirSync(path.join(ROOT, K8S_DIR))
    .filter((f) => /\.ya?ml$/.test(f) && f !== "kustomization.yaml")
    .sort()
    .flatMap((file) => readYamlDocs(`${K8S_DIR}/${file}`).filter((o) => o != null).map((obj) => ({ file, obj })));
}

/** The one object of this kind (and name, if given); throws if there is not exactly one. */
export function one(objects: Array<{ obj: Doc }>, kind: string, name?: string): Doc {
  const found = objects.filter(({ obj }) => obj.kind === kind && (name === undefined || obj.metadata?.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}, found ${found.length}`);
  return found[0]!.obj;
}

const MODELS: Record<string, new (data: Doc) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/Service": Service,
  "v1/ConfigMap": ConfigMap,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "v1/Pod": Pod,
  "apps/v1/Deployment": Deployment,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

/**
 * Validates a manifest against the Kubernetes OpenAPI schema of its
 * apiVersion/kind (kubernetes-models; the prometheus-operator's CRD schema for
 * ServiceMonitor): types, required fields, enums. Throws on an error or an
 * unknown kind. (Unknown fields are not reported: the schemas allow them.)
 */
export function validateK8s(obj: Doc): void {
  const key = `${obj?.apiVersion}/${obj?.kind}`;
  const Model = MODELS[key];
  if (!Model) throw new Error(`no schema for ${key}`);
  new Model(obj).validate();
}

/** A Kubernetes CPU quantity in cores: "2", "500m", "1.5". */
export function cpuCores(q: string | number): number {
  const s = String(q);
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(s);
  if (!m) throw new Error(`bad cpu quantity ${s}`);
  return Number(m[1]) / (m[2] === "m" ? 1000 : 1);
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DECIMAL: Record<string, number> = { "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** A Kubernetes memory quantity in bytes: "1Gi", "1536Mi", "800M", "1000000". */
export function bytes(q: string | number): number {
  const s = String(q);
  const m = /^(\d+(?:\.\d+)?)([KMGT]i|[kMGT]?)$/.exec(s);
  if (!m) throw new Error(`bad memory quantity ${s}`);
  return Number(m[1]) * (BINARY[m[2]!] ?? DECIMAL[m[2]!]!);
}

/** A compose / Go duration in seconds: "40s", "1m30s", "500ms". */
export function durationSeconds(d: string): number {
  const parts = [...d.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== d) throw new Error(`bad duration ${d}`);
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]!]!, 0);
}

/** Compose `environment`, map or list form, as strings. */
export function composeEnv(service: Doc): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e: string) => [e.split("=")[0]!, e.slice(e.indexOf("=") + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v == null ? "" : String(v)]));
}

/** Compose `ports` ("8081:8080", "127.0.0.1:8080:8080/tcp", {target: 8080}) as container ports. */
export function containerPorts(service: Doc): number[] {
  return (service.ports ?? []).map((p: string | number | { target: number }) => {
    if (typeof p === "object") return Number(p.target);
    const last = String(p).split(":").pop()!;
    return Number(last.split("/")[0]);
  });
}

/** Compose short volume syntax "src:dst[:mode]" -> [src, dst]. */
export function volumes(service: Doc): Array<[string, string]> {
  return (service.volumes ?? []).map((v: string | { source: string; target: string }) => {
    if (typeof v === "object") return [v.source, v.target];
    const [src, dst] = v.split(":");
    return [src!, dst!];
  });
}

/** The metric a PromQL selector or name starts with: `foo{a="b"}` -> foo. */
export function metricOf(selector: string): string {
  return /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(selector)?.[1] ?? "";
}

/** nextword_* names in PromQL text, histogram suffixes stripped to the metric's name. */
export function nextwordMetricsIn(text: string): string[] {
  return [...text.matchAll(/\bnextword_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ""));
}

/**
 * Compose's interpolation of one value: `${VAR:-default}` (default when VAR
 * is unset or empty), `${VAR-default}` (when unset), `${VAR}` and `$VAR`,
 * from `env` (the host's environment as the test sets it).
 */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, name, colon, fallback, bare) => {
    const v = env[(name ?? bare) as string];
    if (fallback === undefined) return v ?? "";
    return v === undefined || (colon === ":" && v === "") ? fallback : v;
  });
}

/** One stage of a Dockerfile: its base, WORKDIR, ENV (in order, later wins) and COPY lines (sources, destination). */
export interface DockerStage {
  name: string;
  from: string;
  workdir: string;
  env: Record<string, string>;
  copies: Array<{ from: string | null; sources: string[]; dest: string }>;
}

/**
 * The stages of a Dockerfile: continuation lines joined, comments dropped;
 * ENV in its `K=V K=V` form (unquoted values), WORKDIR absolute, COPY's
 * `--from=` kept and other flags dropped. Enough for this repository's file.
 */
export function dockerStages(text: string): DockerStage[] {
  const lines = text
    .replace(/\\\n(\s*#.*\n)*/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    const stage = stages.at(-1);
    switch (op!.toUpperCase()) {
      case "FROM": {
        const as = rest.findIndex((w) => w.toUpperCase() === "AS");
        stages.push({ name: as >= 0 ? rest[as + 1]! : String(stages.length), from: rest[0]!, workdir: "/", env: {}, copies: [] });
        break;
      }
      case "WORKDIR":
        if (stage) stage.workdir = path.posix.resolve(stage.workdir, rest[0]!);
        break;
      case "ENV":
        for (const kv of rest) {
          const eq = kv.indexOf("=");
          if (stage && eq > 0) stage.env[kv.slice(0, eq)] = kv.slice(eq + 1);
        }
        break;
      case "COPY": {
        const from = rest.find((w) => w.startsWith("--from="))?.slice("--from=".length) ?? null;
        const args = rest.filter((w) => !w.startsWith("--"));
        if (stage) stage.copies.push({ from, sources: args.slice(0, -1), dest: path.posix.resolve(stage.workdir, args.at(-1)!) });
        break;
      }
    }
  }
  return stages;
}
