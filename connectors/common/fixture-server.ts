import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A canned response. */
export interface CannedResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** Picks the response for a request (by URL); a list is served in order, the last one repeating. */
export type Route = (url: URL, req: IncomingMessage) => CannedResponse | CannedResponse[] | undefined;

/**
 * A local HTTP server for connector tests, serving recorded payloads on 127.0.0.1 (never the internet).
 * Records every request so tests can check URLs, headers and counts.
 */
export class FixtureServer {
  readonly requests: URL[] = [];
  readonly headers: Record<string, string | string[] | undefined>[] = [];
  private server?: Server;
  private readonly served = new Map<string, number>();

  constructor(private readonly route: Route) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      this.requests.push(url);
      this.headers.push(req.headers);
      let r = this.route(url, req);
      if (Array.isArray(r)) {
        const key = `${url.pathname}?${url.search}`;
        const n = this.served.get(key) ?? 0;
        this.served.set(key, n + 1);
        r = r[Math.min(n, r.length - 1)];
      }
      const resp = r ?? { status: 404, body: 'no fixture for this request' };
      res.writeHead(resp.status ?? 200, resp.headers ?? {});
      res.end(resp.body ?? '');
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
