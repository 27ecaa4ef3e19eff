/** A free loopback port, for a server (or a Prometheus) started on it by a test or a benchmark. */
import { createServer } from "node:net";

export const HOST = "127.0.0.1";

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, HOST, () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => (port ? resolve(port) : reject(new Error("could not get a free port"))));
    });
  });
}
