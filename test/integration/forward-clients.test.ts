// Who a forward listener serves: only clients that some policy selects for egress (else it would relay anywhere
// for anyone who can reach it), unless `forward.allowUnselectedClients: true`, which logs a warning at start-up.
// Real curl through the proxy (`-x`, absolute-form and `-p` CONNECT) from a registered client with an egress
// policy, a registered one without, and an unregistered loopback address, under `default` and `always`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/observe/logger.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/http-echo-upstream.js';
import { captureLog, type LogCapture } from '../helpers/observe-log-capture.js';
import { runCommand } from '../helpers/tls-net.js';
import { startRuntime, type Runtime } from '../helpers/tls-runtime.js';

const MEDIABOT = '127.0.0.101'; // registered, selected for egress
const IDLE = '127.0.0.102'; // registered, no egress policy
const STRANGER = '127.0.0.103'; // not registered: reserved:host

type Status = 200 | 403;
interface Expected {
  readonly client: string;
  readonly listener: 'egress' | 'egress-open';
  readonly status: Status;
  /** What the DROPPED flow's reason says. */
  readonly reason?: RegExp;
}

const REFUSED_IDLE = /^(connection dropped: )?forward proxy client refused: no policy selects default\/idle for egress; this listener serves only clients that some policy selects for egress/;
const REFUSED_STRANGER = /^(connection dropped: )?forward proxy client refused: host \(127\.0\.0\.103\) is not a registered endpoint; this listener serves only clients/;

const MODES: ReadonlyArray<{ mode: 'default' | 'always'; expected: readonly Expected[] }> = [
  {
    mode: 'default',
    expected: [
      { client: MEDIABOT, listener: 'egress', status: 200 },
      { client: IDLE, listener: 'egress', status: 403, reason: REFUSED_IDLE },
      { client: STRANGER, listener: 'egress', status: 403, reason: REFUSED_STRANGER },
      { client: MEDIABOT, listener: 'egress-open', status: 200 },
      { client: IDLE, listener: 'egress-open', status: 200 },
      { client: STRANGER, listener: 'egress-open', status: 200 },
    ],
  },
  {
    mode: 'always',
    expected: [
      { client: MEDIABOT, listener: 'egress', status: 200 },
      { client: IDLE, listener: 'egress', status: 403, reason: REFUSED_IDLE },
      { client: STRANGER, listener: 'egress', status: 403, reason: REFUSED_STRANGER },
      { client: MEDIABOT, listener: 'egress-open', status: 200 },
      // Admitted, but `always` still denies what no rule allows: idle's egress is enforced with no rule ...
      { client: IDLE, listener: 'egress-open', status: 403, reason: /^(connection dropped: )?no egress rule of default\/idle allows world .*enforcement: always/ },
      // ... and a stranger going to a world destination has no rule on either side.
      { client: STRANGER, listener: 'egress-open', status: 403, reason: /^(connection dropped: )?forward proxy client refused: host \(127\.0\.0\.103\) is not a registered endpoint; enforcement: always/ },
    ],
  },
];

let upstream: EchoUpstream;
before(async () => {
  upstream = await startEchoUpstream();
});
after(async () => {
  await upstream?.close();
});

for (const { mode, expected } of MODES) {
  describe(`forward listener clients, enforcement: ${mode}`, () => {
    let runtime: Runtime;
    let log: LogCapture;
    before(async () => {
      log = captureLog();
      runtime = await startRuntime({
        enforcement: mode,
        log: createLogger({ level: 'info', destination: log.stream }),
        policies: {
          'mediabot.yaml': `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: mediabot-egress, namespace: default}
spec:
  endpointSelector: {matchLabels: {class: mediabot}}
  egress:
  - toFQDNs: [{matchName: api.example.local}]
    toPorts: [{ports: [{port: "${upstream.port}", protocol: TCP}]}]
`,
        },
        endpoints: `
- {name: mediabot, namespace: default, labels: {class: mediabot}, addresses: [${MEDIABOT}]}
- {name: idle, namespace: default, labels: {class: idle}, addresses: [${IDLE}]}`,
        listeners: `
- {name: egress, listen: "127.0.0.1:0", protocol: forward, forward: {systemResolver: false, hosts: {api.example.local: [127.0.0.1]}}}
- {name: egress-open, listen: "127.0.0.1:0", protocol: forward, forward: {systemResolver: false, allowUnselectedClients: true, hosts: {api.example.local: [127.0.0.1]}}}`,
      });
    });
    after(async () => {
      await runtime?.close();
    });

    const proxied = (e: Expected, tunnel: boolean) =>
      runCommand('curl', [
        '-sS', '--max-time', '5', '--interface', e.client, '-x', `http://127.0.0.1:${runtime.port(e.listener)}`,
        ...(tunnel ? ['-p'] : []), '-o', '/dev/null', '-w', '%{http_code} %{http_connect}', `http://api.example.local:${upstream.port}/get`,
      ]);

    for (const e of expected) {
      it(`${e.client} through ${e.listener}: ${e.status} for absolute-form and CONNECT`, async () => {
        const plain = await proxied(e, false);
        assert.equal(plain.stdout.split(' ')[0], String(e.status), plain.stderr);
        const tunnel = await proxied(e, true);
        if (e.status === 200) assert.deepEqual([tunnel.code, tunnel.stdout], [0, '200 200'], tunnel.stderr);
        else {
          assert.notEqual(tunnel.code, 0);
          assert.match(tunnel.stderr, /CONNECT tunnel failed, response 403/);
        }
        if (e.reason === undefined) return;
        const urls = [`http://api.example.local:${upstream.port}/get`, `api.example.local:${upstream.port}`];
        const dropped = await runtime.waitForFlows((f) => f.Type === 'L7' && f.verdict === 'DROPPED' && f.IP?.source === e.client && f.portcullis?.listener === e.listener, 2);
        assert.deepEqual(dropped.map((f) => f.l7.http.url).sort(), urls.sort());
        for (const f of dropped) {
          assert.equal(f.traffic_direction, 'EGRESS');
          assert.match(f.portcullis.reason, e.reason);
        }
      });
    }

    it('a refused client is answered before any name lookup: 403 for a name that would not resolve, where a served client gets 502', async () => {
      const lookup = (client: string, tunnel: boolean) =>
        runCommand('curl', [
          '-sS', '--max-time', '5', '--interface', client, '-x', `http://127.0.0.1:${runtime.port('egress')}`, ...(tunnel ? ['-p'] : []),
          '-o', '/dev/null', '-w', '%{http_code} %{http_connect}', `http://nowhere.example.local:${upstream.port}/get`,
        ]);
      for (const client of [IDLE, STRANGER]) {
        assert.equal((await lookup(client, false)).stdout, '403 000', client);
        assert.match((await lookup(client, true)).stderr, /CONNECT tunnel failed, response 403/, client);
      }
      assert.equal((await lookup(MEDIABOT, false)).stdout, '502 000');
      assert.match((await lookup(MEDIABOT, true)).stderr, /CONNECT tunnel failed, response 502/);
      const refused = await runtime.waitForFlows((f) => f.Type === 'L7' && f.verdict === 'DROPPED' && /nowhere\.example\.local/.test(f.l7.http.url) && f.IP?.source !== MEDIABOT, 4);
      assert.equal(refused.length, 4);
      for (const f of refused) assert.match(f.portcullis.reason, /forward proxy client refused/);
    });

    it('warns at start-up about the listener that relays for unselected clients, and only about it', () => {
      const warnings = log.lines().filter((l) => l.level === 40 || l.level === 'warn');
      assert.deepEqual(warnings.map((l) => l.listener), ['egress-open']);
      assert.match(String(warnings[0]!.msg), /allowUnselectedClients: true/);
    });
  });
}
