/**
 * The `model` label of a request that no model version answered
 * (nextword_request_duration_seconds, metrics.ts): the name its `model` asks
 * for when the service serves a model of that name, the default model's
 * name when it names none, else "". A client's text never becomes a label
 * value as such: the label has at most as many values as there are models.
 *
 * The names come from service.models(), read at most once per REFRESH_MS
 * (the registry builds that list on each call, and a flood of refusals must
 * not): a model loaded or unloaded within the last REFRESH_MS may still be
 * labelled as before it was.
 */
import type { InferenceService } from "../inference/types.js";

export const REFRESH_MS = 1000;

export class RequestModelLabel {
  private names: ReadonlySet<string> = new Set();
  private defaultName = "";
  private readAt = -Infinity;

  constructor(
    private readonly service: Pick<InferenceService, "models">,
    /** A monotonic clock in ms (tests pass their own). */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The label for a request's `model` (undefined: it named none). */
  of(spec: string | undefined): string {
    const now = this.now();
    if (now - this.readAt >= REFRESH_MS) this.read(now);
    if (spec === undefined) return this.defaultName;
    const at = spec.indexOf("@");
    const name = at < 0 ? spec : spec.slice(0, at);
    return this.names.has(name) ? name : "";
  }

  private read(now: number): void {
    this.readAt = now;
    const models = this.service.models();
    this.names = new Set(models.map((m) => m.name));
    this.defaultName = models.find((m) => m.default)?.name ?? "";
  }
}
