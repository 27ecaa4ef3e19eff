/** The part of autocannon's programmatic API (v9) the benchmarks use; the package ships no types. */
declare module "autocannon" {
  namespace autocannon {
    interface Request {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
      /** Called before each request (per connection); returns the request to send. */
      setupRequest?: (req: Request, context: Record<string, unknown>) => Request;
    }
    interface Options {
      url: string;
      connections?: number;
      pipelining?: number;
      /** Seconds. */
      duration?: number;
      /** Per-request timeout in seconds. */
      timeout?: number;
      requests?: Request[];
      title?: string;
    }
    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total: number;
      p50: number;
      p90: number;
      p97_5: number;
      p99: number;
      p99_9: number;
      sent?: number;
    }
    interface Result {
      duration: number;
      errors: number;
      timeouts: number;
      non2xx: number;
      resets: number;
      "2xx": number;
      "4xx": number;
      "5xx": number;
      statusCodeStats: Record<string, { count: number }>;
      latency: Histogram & { totalCount: number };
      requests: Histogram;
      throughput: Histogram;
    }
  }
  /** Without a callback: a thenable that resolves with the aggregated result, and an emitter of per-response events. */
  function autocannon(opts: autocannon.Options): PromiseLike<autocannon.Result> & {
    on(event: "response", listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): unknown;
    on(event: "reqError", listener: (err: Error) => void): unknown;
  };
  export default autocannon;
}
