// h2spec (installed by scripts/install-go-tools.sh) against the proxy's h2c listener: every case must pass
// (docs/h2spec.md), and the proxy must still serve a normal client after all those hostile connections.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { packageFile } from '../../src/package-root.js';
import { startH2EchoUpstream } from '../helpers/h2-echo-upstream.js';
import { BACKEND, connectFrom, startH2Proxy, STRANGER } from '../helpers/h2-proxy-fixture.js';

const H2SPEC = packageFile('.interop', 'bin', 'h2spec');

const execFileP = promisify(execFile);

/** Runs h2spec against host:port; returns the failed cases and the total count. */
async function h2spec(host: string, port: number): Promise<{ failed: string[]; total: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'h2spec-'));
  const report = join(dir, 'report.xml');
  try {
    // h2spec exits 1 when any case fails; the report says which.
    await execFileP(H2SPEC, ['-h', host, '-p', String(port), '-o', '2', '-j', report], { maxBuffer: 1 << 24 }).catch(() => undefined);
    const xml = readFileSync(report, 'utf8');
    const failed = [...xml.matchAll(/<testcase package="([^"]+)" classname="([^"]+)"[^>]*>\s*<(?:error|failure)>/g)].map((m) => `${m[1]}: ${unescapeXml(m[2]!)}`);
    return { failed, total: [...xml.matchAll(/<testcase /g)].length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

test('h2spec: the proxy passes every case', { timeout: 240_000 }, async () => {
  assert.ok(existsSync(H2SPEC), `${H2SPEC} is missing: run scripts/install-go-tools.sh`);
  const upstream = await startH2EchoUpstream(BACKEND);
  // h2spec connects from 127.0.0.1 (reserved:host); no policy, so every stream is relayed to the upstream.
  const proxy = await startH2Proxy({ upstreamPort: upstream.port });
  try {
    const viaProxy = await h2spec(proxy.host, proxy.port);
    assert.ok(viaProxy.total >= 140, `h2spec ran ${viaProxy.total} cases`);
    assert.deepEqual(viaProxy.failed, []);
    // After ~145 hostile connections the proxy still serves a normal client.
    const session = connectFrom(proxy, STRANGER);
    const req = session.request({ ':path': '/after-h2spec' });
    const status = await new Promise<number>((resolve) => req.on('response', (h) => resolve(Number(h[':status']))));
    req.resume();
    session.close();
    assert.equal(status, 200);
  } finally {
    await proxy.close();
    await upstream.close();
  }
});
