// bench:http1 compares Portcullis with haproxy and nginx only if the native peers enforce the same Star Wars
// rule: here each, in front of the real deathstar, must land a tiefighter's POST /v1/request-landing and refuse
// other methods, other paths and other sources with 403 (real processes, real sockets).
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { landingRule } from '../../bench/lib/http-rule.js';
import { startDeathstar, startNativePeers, type Running } from '../../bench/lib/starwars-http1.js';

function status(server: Running, method: string, path: string, localAddress = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: server.host, port: server.port, method, path, localAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{"ship":"tie-ln"}' : undefined);
  });
}

describe('bench:http1 native peers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-peers-'));
  const servers: Running[] = [];
  let peers: Running[] = [];

  before(async () => {
    const deathstar = await startDeathstar();
    servers.push(deathstar);
    peers = await startNativePeers(dir, deathstar.port, landingRule(['127.0.0.1']));
    servers.push(...peers);
  });

  after(async () => {
    for (const s of servers.reverse()) await s.child.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('haproxy and nginx each enforce the Star Wars rule', async (t) => {
    if (peers.length < 2) t.diagnostic(`only ${peers.map((p) => p.name).join(', ') || 'none'} installed`);
    assert.ok(peers.length > 0, 'neither haproxy nor nginx is installed (.ci/run installs both)');
    for (const peer of peers) {
      assert.equal(await status(peer, 'POST', '/v1/request-landing'), 200, `${peer.name}: tiefighter landing`);
      assert.equal(await status(peer, 'PUT', '/v1/exhaust-port'), 403, `${peer.name}: other path`);
      assert.equal(await status(peer, 'GET', '/v1/request-landing'), 403, `${peer.name}: other method`);
      assert.equal(await status(peer, 'POST', '/v1/request-landing', '127.0.0.2'), 403, `${peer.name}: other source`);
    }
  });
});
