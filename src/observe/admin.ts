// The admin listener, modelled on Envoy's: read-only GET endpoints for probes, scrapes and debugging.
// It is unauthenticated, so the config binds it to loopback by default; it only ever reads state.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { PolicySnapshot } from '../policy/types.js';
import { FlowStreams, type FlowFeed } from './admin-flows.js';

export interface AdminOptions {
  readonly listen: { readonly host: string; readonly port: number };
  /** A registry, or (with workers) anything that renders the sum of the workers' registries. */
  readonly metrics: { readonly registry: Pick<Registry, 'metrics' | 'contentType'> };
  /** True once the first snapshot is loaded and every listener is accepting. */
  ready(): boolean;
  /** The snapshot currently in use. */
  snapshot(): PolicySnapshot;
  /** With workers: one entry per worker, for /workers. */
  workers?(): Promise<readonly unknown[]>;
  /** Where /flows reads flow records (default: off, a 409). */
  readonly flows?: FlowFeed;
  readonly log: Logger;
  /** ms for a request head to arrive (default 10000; tests shorten it). */
  readonly headersTimeoutMs?: number;
}

/** Probes and scrapes need a handful of connections; more are closed at accept so a flood cannot take every fd. */
export const ADMIN_MAX_CONNECTIONS = 64;
const ADMIN_HEADERS_TIMEOUT_MS = 10_000;

export interface RunningAdmin {
  readonly address: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

type Handler = (opts: AdminOptions, res: ServerResponse) => Promise<void> | void;

const ROUTES: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['/ready', serveReady],
  ['/metrics', serveMetrics],
  ['/policies', servePolicies],
  ['/endpoints', serveEndpoints],
  ['/workers', serveWorkers],
]);
/** The streaming route: answered by FlowStreams, which keeps the response open while following. */
const FLOWS_PATH = '/flows';

export async function startAdmin(opts: AdminOptions): Promise<RunningAdmin> {
  const headersTimeout = opts.headersTimeoutMs ?? ADMIN_HEADERS_TIMEOUT_MS;
  const flows = new FlowStreams(opts.flows ?? { kind: 'off' });
  const server = createServer(
    {
      headersTimeout,
      requestTimeout: 30_000,
      keepAliveTimeout: 5_000,
      maxHeaderSize: 16 * 1024,
      // Node checks the header and request deadlines on this interval (default 30 s, which stretched the 10 s
      // header timeout to up to 40 s); once a second holds it to within a second.
      connectionsCheckingInterval: Math.min(1000, headersTimeout),
    },
    (req, res) => {
      handle(opts, flows, req, res).catch((err: unknown) => {
        opts.log.error({ err, path: req.url }, 'admin request failed');
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.destroy();
      });
    },
  );
  server.maxConnections = ADMIN_MAX_CONNECTIONS;
  server.on('drop', () => opts.log.debug({ maxConnections: ADMIN_MAX_CONNECTIONS }, 'admin connection refused: too many open'));
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(new Error(`admin: cannot listen on ${opts.listen.host}:${opts.listen.port}: ${err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => opts.log.error({ err }, 'admin listener error'));
  const bound = server.address() as AddressInfo;
  const address = { host: bound.address, port: bound.port };
  opts.log.info({ address }, 'admin listener started');

  let closing: Promise<void> | undefined;
  return {
    address,
    close() {
      // Flow streams end with their last chunk first, so a watcher sees the stream end rather than a cut.
      closing ??= flows.close().then(
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      );
      return closing;
    },
  };
}

async function handle(opts: AdminOptions, flows: FlowStreams, req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.resume(); // a body on a GET is ignored, but must be read for keep-alive to work
  const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
  const route = ROUTES.get(path);
  if (!route && path !== FLOWS_PATH) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  if (route) await route(opts, res);
  else await flows.serve(req, res);
}

function serveReady(opts: AdminOptions, res: ServerResponse): void {
  let ready = false;
  try {
    ready = opts.ready();
  } catch (err) {
    opts.log.warn({ err }, 'readiness check failed');
  }
  if (ready) send(res, 200, 'text/plain; charset=utf-8', 'LIVE\n');
  else send(res, 503, 'text/plain; charset=utf-8', 'NOT READY\n');
}

async function serveMetrics(opts: AdminOptions, res: ServerResponse): Promise<void> {
  const text = await opts.metrics.registry.metrics();
  send(res, 200, opts.metrics.registry.contentType, text);
}

function servePolicies(opts: AdminOptions, res: ServerResponse): void {
  const snapshot = currentSnapshot(opts, res);
  if (snapshot) sendJson(res, { revision: snapshot.revision, policies: snapshot.policies });
}

function serveEndpoints(opts: AdminOptions, res: ServerResponse): void {
  const snapshot = currentSnapshot(opts, res);
  if (!snapshot) return;
  const endpoints = snapshot.endpoints.list().map((e) => ({
    name: e.name,
    namespace: e.namespace,
    labels: e.labels,
    addresses: e.addresses,
    identity: e.identity.id,
  }));
  sendJson(res, { revision: snapshot.revision, endpoints });
}

async function serveWorkers(opts: AdminOptions, res: ServerResponse): Promise<void> {
  if (opts.workers === undefined) return send(res, 404, 'text/plain; charset=utf-8', 'not found: this proxy runs in one process (workers: 1)\n');
  sendJson(res, { workers: await opts.workers() });
}

/** No snapshot yet (startup) is a 503 a client can retry, not a server error. */
function currentSnapshot(opts: AdminOptions, res: ServerResponse): PolicySnapshot | undefined {
  try {
    return opts.snapshot();
  } catch (err) {
    opts.log.warn({ err }, 'no policy snapshot for admin request');
    sendJson(res, { error: 'no policy snapshot loaded' }, 503);
    return undefined;
  }
}

function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body, null, 2) + '\n');
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}
