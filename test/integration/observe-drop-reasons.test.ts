// A dropped connection is counted in hubble_drop_total under the reason its flow record gives: POLICY_DENY when a
// deny rule decided, POLICY_DENIED when no rule allowed it (Cilium's two datapath drop reasons).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';

const DEATHSTAR = '127.0.0.1';
const XWING = '127.0.0.3';
const BWING = '127.0.0.4';

let runtime: Runtime;

before(async () => {
  runtime = await startRuntime({
    admin: true,
    policies: {
      'deathstar.yaml': `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deathstar, namespace: default}
spec:
  endpointSelector: {matchLabels: {class: deathstar}}
  ingress:
  - fromEndpoints: [{matchLabels: {org: empire}}]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {class: xwing}}]
`,
    },
    endpoints: `
- {name: deathstar, namespace: default, labels: {class: deathstar, org: empire}, addresses: [${DEATHSTAR}]}
- {name: xwing, namespace: default, labels: {class: xwing, org: alliance}, addresses: [${XWING}]}
- {name: bwing, namespace: default, labels: {class: bwing, org: alliance}, addresses: [${BWING}]}`,
    listeners: `
- {name: deathstar-http, listen: "127.0.0.1:0", protocol: http, to: deathstar, upstream: "127.0.0.1:9"}`,
  });
});

after(async () => {
  await runtime?.close();
});

/** Connects from `localAddress` and resolves when the proxy ends the connection. */
function connectFrom(localAddress: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: runtime.port('deathstar-http'), localAddress });
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nhost: deathstar\r\n\r\n'));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
}

async function dropCounts(): Promise<Record<string, number>> {
  const { host, port } = runtime.proxy.admin!.address;
  const text = await (await fetch(`http://${host}:${port}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^hubble_drop_total\{reason="([A-Z_]+)",protocol="TCP"\} (\d+)$/gm)) counts[m[1]!] = Number(m[2]);
  return counts;
}

describe('hubble_drop_total and the flow agree on why a connection was dropped', () => {
  it('a deny rule: POLICY_DENY in both; no allowing rule: POLICY_DENIED in both', async () => {
    await connectFrom(XWING);
    await connectFrom(BWING);
    const drops = await runtime.waitForFlows((f) => f.Type === 'L3_L4' && f.verdict === 'DROPPED', 2);
    const reasonOf = (address: string) => drops.find((f) => f.IP.source === address)?.drop_reason_desc;
    assert.equal(reasonOf(XWING), 'POLICY_DENY');
    assert.equal(reasonOf(BWING), 'POLICY_DENIED');
    assert.deepEqual(await dropCounts(), { POLICY_DENY: 1, POLICY_DENIED: 1 });
  });
});
