/**
 * Optional API keys: a client sends `authorization: Bearer <secret>` (REST
 * header or gRPC metadata). Keys come from API_KEYS_FILE (one per line) and
 * API_KEYS (comma-separated), each `name:secret` or `name:secret:ratePerS`;
 * `#` starts a comment. The name is what logs and limits use; secrets are
 * kept only as SHA-256 digests, so a lookup never compares secrets
 * character by character. No keys configured: the API is open.
 *
 * Guard is what the transports call: who is asking, and may they now (the
 * key's token bucket, rate-limit.ts). Health, readiness and metrics never
 * ask it.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

import { ConfigError } from "../config.js";
import { rateLimited, unauthenticated, type ServiceError } from "../errors.js";
import { RateLimiter, type Limit, type RateDecision } from "./rate-limit.js";

export interface ApiKey {
  name: string;
  /** null: no rate limit for this key. */
  limit: Limit | null;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const MIN_SECRET = 16;

const digest = (secret: string) => createHash("sha256").update(secret).digest("hex");

/** Parses key lines; an error names the source and line, never the secret. */
export function parseApiKeys(lines: Array<{ text: string; where: string }>, defaultLimit: Limit | null): Map<string, ApiKey> {
  const byDigest = new Map<string, ApiKey>();
  const names = new Set<string>();
  for (const { text, where } of lines) {
    const line = text.replace(/#.*/, "").trim();
    if (line === "") continue;
    const [name = "", secret = "", rate, ...rest] = line.split(":");
    if (!NAME.test(name) || rest.length > 0) throw new ConfigError(`${where}: expected name:secret or name:secret:ratePerS, name of [A-Za-z0-9._-]{1,64}`);
    if (secret.length < MIN_SECRET) throw new ConfigError(`${where}: the secret of key "${name}" must have at least ${MIN_SECRET} characters`);
    if (names.has(name)) throw new ConfigError(`${where}: key name "${name}" appears twice`);
    let limit = defaultLimit;
    if (rate !== undefined) {
      const r = Number(rate);
      if (!(r > 0)) throw new ConfigError(`${where}: ratePerS of key "${name}" must be a number > 0, got "${rate}"`);
      limit = { ratePerS: r, burst: Math.max(1, Math.round(2 * r)) };
    }
    const d = digest(secret);
    if (byDigest.has(d)) throw new ConfigError(`${where}: key "${name}" has the same secret as "${byDigest.get(d)!.name}"`);
    names.add(name);
    byDigest.set(d, { name, limit });
  }
  return byDigest;
}

/** The keys of API_KEYS_FILE and API_KEYS, or null when neither is set (the API is open). A file that cannot be read stops the start. */
export function readApiKeys(file: string | null, env: string | null, defaultLimit: Limit | null): Map<string, ApiKey> | null {
  if (file === null && env === null) return null;
  const lines: Array<{ text: string; where: string }> = [];
  if (file !== null) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigError(`API_KEYS_FILE: cannot read ${file}: ${(err as Error).message}`);
    }
    text.split("\n").forEach((t, i) => lines.push({ text: t, where: `API_KEYS_FILE ${file} line ${i + 1}` }));
  }
  env?.split(",").forEach((t, i) => lines.push({ text: t, where: `API_KEYS entry ${i + 1}` }));
  const keys = parseApiKeys(lines, defaultLimit);
  if (keys.size === 0) throw new ConfigError("API_KEYS_FILE / API_KEYS: set, but no key in them");
  return keys;
}

export class Guard {
  private readonly limiter = new RateLimiter();

  /** keys null: open (everyone is anonymous, nothing is limited). */
  constructor(
    private readonly keys: Map<string, ApiKey> | null,
    private readonly now: () => number = Date.now,
  ) {}

  get open(): boolean {
    return this.keys === null;
  }

  /** The key an `authorization` value names; throws UNAUTHENTICATED. null when the API is open. */
  authenticate(authorization: string | undefined): ApiKey | null {
    if (this.keys === null) return null;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (!m) throw unauthenticated("authorization: an API key is required (authorization: Bearer <key>)");
    const key = this.keys.get(digest(m[1]!));
    if (!key) throw unauthenticated("authorization: unknown API key");
    return key;
  }

  /** Takes one request from the key's limit if it has one left (see .allowed). null when nothing limits the key. */
  check(key: ApiKey | null): RateDecision | null {
    if (key === null || key.limit === null) return null;
    return this.limiter.take(key.name, key.limit, this.now());
  }

  /** The error for a refused check. */
  limited(key: ApiKey, d: RateDecision): ServiceError {
    const { ratePerS, burst } = key.limit!;
    return rateLimited(`rate limit of key "${key.name}" reached (${ratePerS}/s, burst ${burst}); retry later`, d.retryAfterMs);
  }

  /** check, throwing RATE_LIMITED when the key has no request left (a typing session's events: the key is known). */
  take(key: ApiKey | null): void {
    const d = this.check(key);
    if (d && !d.allowed) throw this.limited(key!, d);
  }

  /** authenticate, then take; throws UNAUTHENTICATED or RATE_LIMITED. */
  admit(authorization: string | undefined): void {
    this.take(this.authenticate(authorization));
  }
}
