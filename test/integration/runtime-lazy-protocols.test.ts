// A protocol's machinery is loaded only when a listener of it is configured: an http-only `portcullis run` does
// not load the Kafka codec and its schema tables, the TLS front or the forward proxy (their memory would be paid
// by every deployment). The modules the process loads are recorded by a module-loader hook.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startProxyProcess } from '../helpers/proxy-process.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-modules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ENDPOINTS = `endpoints:
  - {name: deathstar, labels: {class: deathstar}, addresses: [127.0.0.10]}
`;

/** The dist/src modules (paths under dist/src/) a `portcullis run` on `listeners` has loaded once it listens. */
async function modulesLoaded(name: string, listeners: string): Promise<string[]> {
  const file = join(dir, `${name}.txt`);
  const hooks = `import { appendFileSync } from 'node:fs';
let file;
export function initialize(f) { file = f; }
export async function load(url, context, next) { appendFileSync(file, url + '\\n'); return next(url, context); }`;
  const register = `import { register } from 'node:module';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)}, { data: ${JSON.stringify(file)} });`;
  const proxy = await startProxyProcess(`admin: off\nflows: off\n${ENDPOINTS}listeners:\n${listeners}`, {
    nodeArgs: ['--import', `data:text/javascript,${encodeURIComponent(register)}`],
  });
  await proxy.close();
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((url) => /\/dist\/src\/(.+)$/.exec(url)?.[1] ?? []);
}

test('an http listener loads neither the Kafka, TLS-front nor forward-proxy machinery, nor the Hubble server', async () => {
  const loaded = await modulesLoaded('http', '  - {name: h, listen: "127.0.0.1:0", protocol: http, to: deathstar, upstream: "127.0.0.10:9", port: 80}\n');
  assert.ok(loaded.includes('protocols/http/listener.js'), loaded.join(' '));
  const others = loaded.filter((m) => /^(protocols\/(kafka\/|forward\/|tls\/listener)|observe\/hubble\/)/.test(m));
  assert.deepEqual(others, []);
});

test('a kafka listener loads the Kafka machinery', async () => {
  const loaded = await modulesLoaded('kafka', '  - {name: k, listen: "127.0.0.1:0", protocol: kafka, to: deathstar, upstream: "127.0.0.10:9"}\n');
  assert.ok(loaded.includes('protocols/kafka/proxy/listener.js') && loaded.includes('protocols/kafka/codec/codec.js'), loaded.join(' '));
});
