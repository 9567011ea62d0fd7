// bench/tls: new TLS handshakes per second and keep-alive HTTPS requests per second, direct to an HTTPS upstream
// versus through a `tls` listener that terminates (policy terminatingTLS, L7 rule) and re-originates TLS verified
// with originatingTLS, in one run, with ratios.
//   npm run bench:tls              (BENCH_SECONDS=8 per measurement, BENCH_ROUNDS=1 by default; median of rounds)
// The upstream and Portcullis each run in their own process; the load (autocannon for keep-alive, a bounded loop of
// fresh verified TLS connections, one request each, for handshakes) runs in this one. Certificates are RSA-2048
// from the certs tool. The machine is shared and noisy: compare the ratios of one run.
import { readFileSync, mkdirSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createCa, issueCertificate } from '../src/secrets/certs-tool.js';
import autocannon from 'autocannon';
import { median, type LoadResult } from './lib/autocannon-run.js';
import { freePort, startChild, waitForPort, type Child } from './lib/processes.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const KEEPALIVE_CONNECTIONS = 20;
const HANDSHAKE_WORKERS = 16;
const NAME = 'api.bench.local';
const UPSTREAM_HOST = '127.0.0.20';
const here = fileURLToPath(new URL('.', import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'main.js');

interface Target {
  readonly name: string;
  readonly port: number;
  /** CA the client verifies the server it talks to with. */
  readonly ca: Buffer;
  readonly host: string;
}

/** `node bench/tls.js upstream <secret dir> <host> <port>`: the HTTPS upstream, in its own process. */
function runUpstream(dir: string, host: string, port: number): void {
  const body = JSON.stringify({ ok: true, service: NAME });
  https
    .createServer({ cert: readFileSync(join(dir, 'tls.crt')), key: readFileSync(join(dir, 'tls.key')), keepAliveTimeout: 30_000 }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    })
    .listen(port, host);
}

/** Secrets: the listener's certificate (internal CA), the upstream's (public CA), the public CA bundle. */
async function createSecrets(store: string): Promise<{ internalCa: Buffer; publicCa: Buffer }> {
  const internal = { namespace: 'kube-system', name: 'internal-ca' };
  const publicCa = { namespace: 'kube-system', name: 'public-ca' };
  await createCa({ store, secret: internal });
  await createCa({ store, secret: publicCa });
  await issueCertificate({ store, ca: internal, secret: { namespace: 'default', name: 'api-front' }, names: [NAME] });
  await issueCertificate({ store, ca: publicCa, secret: { namespace: 'default', name: 'api-upstream' }, names: [NAME] });
  mkdirSync(join(store, 'kube-system', 'public-trust'));
  copyFileSync(join(store, 'kube-system', 'public-ca', 'ca.crt'), join(store, 'kube-system', 'public-trust', 'ca.crt'));
  return { internalCa: readFileSync(join(store, 'kube-system', 'internal-ca', 'ca.crt')), publicCa: readFileSync(join(store, 'kube-system', 'public-ca', 'ca.crt')) };
}

function portcullisConfig(dir: string, store: string, proxyPort: number, upstreamPort: number): string {
  writeFileSync(
    join(dir, 'policy.yaml'),
    `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-tls, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
      serverNames: [${NAME}]
      terminatingTLS: {secret: {name: api-front}}
      originatingTLS: {secret: {namespace: kube-system, name: public-trust}}
      rules:
        http:
        - {method: GET, path: "/.*"}
`,
  );
  const file = join(dir, 'portcullis.yaml');
  writeFileSync(
    file,
    `policies: ${JSON.stringify(join(dir, 'policy.yaml'))}
certs: ${JSON.stringify(store)}
admin: off
flows: ${JSON.stringify(join(dir, 'flows.jsonl'))}
endpoints:
  - {name: api, labels: {app: api}, addresses: [${UPSTREAM_HOST}]}
  # The load generator cannot choose its source address: 127.0.0.1 is the client.
  - {name: client, labels: {app: client}, addresses: [127.0.0.1/32]}
listeners:
  - {name: api-tls, listen: "127.0.0.1:${proxyPort}", protocol: tls, to: api, upstream: "${UPSTREAM_HOST}:${upstreamPort}", port: 443}
`,
  );
  return file;
}

/** Fresh verified TLS connections (no session resumption), one `Connection: close` request each, for `seconds`. */
async function handshakes(target: Target, seconds: number): Promise<{ perSecond: number; errors: number }> {
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  const once = () =>
    new Promise<boolean>((resolve) => {
      const socket = tls.connect({ host: target.host, port: target.port, servername: NAME, ca: target.ca });
      let head = '';
      socket.setTimeout(5000, () => socket.destroy());
      socket.on('secureConnect', () => socket.write(`GET /anything HTTP/1.1\r\nHost: ${NAME}\r\nConnection: close\r\n\r\n`));
      socket.on('data', (c: Buffer) => {
        if (head.length < 16) head += c.toString('latin1');
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(head.startsWith('HTTP/1.1 200')));
    });
  const started = Date.now();
  await Promise.all(
    Array.from({ length: HANDSHAKE_WORKERS }, async () => {
      while (Date.now() < deadline) {
        if (await once()) done++;
        else errors++;
      }
    }),
  );
  return { perSecond: done / ((Date.now() - started) / 1000), errors };
}

/** autocannon over HTTPS (it does not verify certificates; the handshake loop above does). */
async function keepAlive(target: Target, seconds: number): Promise<LoadResult> {
  const r = await autocannon({
    url: `https://${target.host}:${target.port}/anything`,
    connections: KEEPALIVE_CONNECTIONS,
    duration: seconds,
    headers: { host: NAME },
    servername: NAME,
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-tls-'));
  const store = join(dir, 'certs');
  const children: Child[] = [];
  try {
    const { internalCa, publicCa } = await createSecrets(store);
    const upstreamPort = await freePort(UPSTREAM_HOST);
    children.push(startChild('https upstream', [fileURLToPath(import.meta.url), 'upstream', join(store, 'default', 'api-upstream'), UPSTREAM_HOST, String(upstreamPort)]));
    const proxyPort = await freePort();
    children.push(startChild('portcullis', [cli, 'run', '--no-watch', '--workers', '1', '-c', portcullisConfig(dir, store, proxyPort, upstreamPort)]));
    await Promise.all([waitForPort(UPSTREAM_HOST, upstreamPort), waitForPort('127.0.0.1', proxyPort)]);
    const targets: Target[] = [
      { name: 'direct HTTPS', host: UPSTREAM_HOST, port: upstreamPort, ca: publicCa },
      { name: 'portcullis terminate+originate', host: '127.0.0.1', port: proxyPort, ca: internalCa },
    ];
    // Rounds alternate the setups, so a burst of load from elsewhere on the machine hits both alike.
    const measured = new Map<string, Array<{ handshakes: number; hsErrors: number; ka: LoadResult }>>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        await handshakes(t, 1); // warm-up: JIT, the proxy's upstream pool
        const hs = await handshakes(t, SECONDS);
        process.stderr.write(`round ${round + 1} ${t.name}: ${Math.round(hs.perSecond)} new TLS connections/s\n`);
        await keepAlive(t, 2);
        const ka = await keepAlive(t, SECONDS);
        process.stderr.write(`round ${round + 1} ${t.name}: ${Math.round(ka.rps)} keep-alive req/s\n`);
        measured.set(t.name, [...(measured.get(t.name) ?? []), { handshakes: hs.perSecond, hsErrors: hs.errors, ka }]);
      }
    }
    const rows = targets.map((t) => {
      const runs = measured.get(t.name)!;
      return {
        name: t.name,
        handshakes: median(runs.map((r) => r.handshakes)),
        hsErrors: runs.reduce((n, r) => n + r.hsErrors, 0),
        rps: median(runs.map((r) => r.ka.rps)),
        p50: median(runs.map((r) => r.ka.p50)),
        p99: median(runs.map((r) => r.ka.p99)),
        bad: runs.reduce((n, r) => n + r.ka.errors + r.ka.non2xx, 0),
      };
    });
    const [direct, proxied] = rows as [(typeof rows)[0], (typeof rows)[0]];
    console.log(`\nTLS 1.3, RSA-2048, GET /anything; handshakes: ${HANDSHAKE_WORKERS} workers, keep-alive: ${KEEPALIVE_CONNECTIONS} connections; ${SECONDS} s x ${ROUNDS} round(s), median`);
    console.log('setup                           new conn/s  keep-alive req/s   p50 ms  p99 ms  errors');
    for (const r of rows) {
      console.log(`${r.name.padEnd(31)} ${String(Math.round(r.handshakes)).padStart(10)}  ${String(Math.round(r.rps)).padStart(16)}   ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${r.hsErrors + r.bad}`);
    }
    console.log(`\nportcullis / direct: new connections ${(proxied.handshakes / direct.handshakes).toFixed(2)}x, keep-alive requests ${(proxied.rps / direct.rps).toFixed(2)}x`);
    if (rows.some((r) => r.hsErrors + r.bad > 0)) {
      console.log('WARNING: some requests failed; those figures are not comparable');
      process.exitCode = 1;
    }
  } finally {
    for (const c of children) await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'upstream') runUpstream(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
else await main();
