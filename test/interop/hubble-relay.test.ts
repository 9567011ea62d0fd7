// The real Hubble Relay (cilium v1.20.2, scripts/install-hubble.sh) over two Portcullis processes on different
// loopback addresses: node-a's peer service announces itself and node-b, Relay connects to both, and
// `hubble observe --server <relay>` shows both nodes' flows as one stream.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { startDeathstar, type Deathstar } from '../../src/demo/starwars/deathstar.js';
import { HUBBLE_RELAY, hubble, hubbleAddress, landThrough, skipWithoutHubble } from '../helpers/hubble-tools.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { freePort } from '../../bench/lib/processes.js';
import { waitUntil } from '../helpers/wait.js';

const skip = skipWithoutHubble();
const DEATHSTAR = '127.0.0.10';
let deathstar: Deathstar;
const proxies: ProxyProcess[] = [];
let relay: ChildProcess | undefined;
let relayAddress: string;

/** A Portcullis whose listener and Hubble server are on `host`, named `node`, announcing `peers`. */
function config(host: string, node: string, peers: string): string {
  return `policies: []
admin: off
flows: off
workers: 1
nodeName: ${node}
hubble: {listen: "${host}:0"${peers}}
endpoints:
  - {name: deathstar, namespace: default, labels: {class: deathstar}, addresses: [${DEATHSTAR}]}
listeners:
  - {name: web, listen: "${host}:0", protocol: http, to: deathstar, upstream: "${DEATHSTAR}:${deathstar.port}", port: 80}
`;
}

before(async () => {
  if (skip) return;
  deathstar = await startDeathstar(DEATHSTAR);
  const b = await startProxyProcess(config('127.0.0.5', 'node-b', ''));
  proxies.push(b);
  const a = await startProxyProcess(config('127.0.0.1', 'node-a', `, peers: [{name: node-b, address: "${hubbleAddress(b)}"}]`));
  proxies.push(a);
  // Relay's listeners: free ports picked by the OS, on loopback only (its defaults bind every interface).
  relayAddress = `127.0.0.1:${await freePort()}`;
  const health = `127.0.0.1:${await freePort()}`;
  relay = spawn(HUBBLE_RELAY, ['serve', '--peer-service', hubbleAddress(a), '--listen-address', relayAddress, '--health-listen-address', health,
    '--disable-server-tls', '--disable-client-tls', '--gops=false', '--retry-timeout', '1s', '--sort-buffer-drain-timeout', '100ms'], { stdio: 'ignore' });
});
after(async () => {
  if (relay && relay.exitCode === null) {
    relay.kill();
    await once(relay, 'exit');
  }
  for (const p of proxies) await p.close();
  await deathstar?.close();
});

test('hubble status through Relay: both Portcullis nodes connected', { skip }, async () => {
  const status = await waitUntil('relay to connect both nodes', async () => {
    const run = await hubble(['status', '--server', relayAddress]);
    return run.code === 0 && /Connected Nodes: 2\/2/.test(run.stdout) && run.stdout;
  }, 30_000, 500);
  assert.match(status, /Current\/Max Flows: 0\/8,190/);
});

test('hubble observe through Relay shows the flows of both nodes as one stream', { skip }, async () => {
  for (const p of proxies) assert.equal(await landThrough(p), '200');
  const nodes = await waitUntil('flows of both nodes through relay', async () => {
    const run = await hubble(['observe', '--server', relayAddress, '-o', 'json', '--last', '100']);
    if (run.code !== 0) return undefined;
    const flows = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const byNode = new Map<string, string[]>();
    for (const f of flows) byNode.set(f.node_name, [...(byNode.get(f.node_name) ?? []), `${f.flow.l7.type} ${f.flow.IP.destination}`]);
    return byNode.size === 2 && [...byNode.values()].every((v) => v.length === 2) && byNode;
  }, 30_000, 500);
  assert.deepEqual(nodes.get('node-a'), ['REQUEST 127.0.0.10', 'RESPONSE 127.0.0.2']);
  assert.deepEqual(nodes.get('node-b'), ['REQUEST 127.0.0.10', 'RESPONSE 127.0.0.2']);
  const nodeB = await hubble(['observe', '--server', relayAddress, '-o', 'json', '--node-name', 'node-b']);
  assert.equal(nodeB.code, 0, nodeB.stderr);
  assert.deepEqual([...new Set(nodeB.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).node_name))], ['node-b']);
});
