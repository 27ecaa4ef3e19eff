/**
 * Structured JSON logs (pino) to stdout, one line per event; the level comes
 * from Config.logLevel. `createLogger(config, destination)` takes a stream so
 * tests can capture the lines.
 *
 * Privacy: users' typed text must never reach the logs. The request fields
 * that carry it (context, prefix, words) are redacted wherever they appear at
 * the top level or one object down; do not log them under other names.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import type { Config } from "./config.js";

export type { Logger } from "pino";

const TEXT_FIELDS = ["context", "prefix", "words"];

export function createLogger(config: Pick<Config, "logLevel">, destination?: DestinationStream): Logger {
  const options = {
    name: "nextword",
    level: config.logLevel,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...TEXT_FIELDS, ...TEXT_FIELDS.map((f) => `*.${f}`)], censor: "[redacted]" },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Writes a line another thread's logger (createLogger, same redaction) already serialized to this logger's destination. */
export function writeLine(logger: Logger, line: string): void {
  (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym]!.write(line);
}
