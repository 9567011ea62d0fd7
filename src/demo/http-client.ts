// A one-shot HTTP/1.1 client for the demos: every request from its own loopback source address, as a
// separate workload would send it.
import http from 'node:http';

export type HttpOutcome = { status: number; body: string } | { error: string };

export function httpRequest(opts: {
  host: string;
  port: number;
  method: string;
  path: string;
  localAddress: string;
  timeoutMs?: number;
}): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: opts.host, port: opts.port, method: opts.method, path: opts.path, localAddress: opts.localAddress, agent: false, headers: { host: 'deathstar.default.svc.cluster.local' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
      },
    );
    req.setTimeout(opts.timeoutMs ?? 5000, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}

export function describeOutcome(o: HttpOutcome): string {
  if ('error' in o) return `connection failed (${o.error})`;
  const first = o.body.split('\n')[0] ?? '';
  return `${o.status} ${first.trim()}`;
}
