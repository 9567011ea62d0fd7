// Forward-proxy destinations without sockets: target names resolved through `hosts:` (and the system resolver),
// authorities split, every resolved address decided under real compiled policy, and the Host/SNI comparison
// behind 421.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { parsePolicyText } from '../../src/policy/load.js';
import { buildSnapshot } from '../../src/policy/snapshot.js';
import { formatSourceError } from '../../src/policy/types.js';
import type { ListenerContext } from '../../src/protocols/context.js';
import { chooseTarget, splitAuthority } from '../../src/protocols/forward/destination.js';
import { ResolveError, TargetResolver } from '../../src/protocols/forward/resolve.js';
import { LISTENER_TIMINGS } from '../../src/protocols/timings.js';
import { authorityHost, misdirectedRequest } from '../../src/protocols/http/misdirected-request.js';
import { RecordingFlows, RecordingMetrics } from '../helpers/http-observers.js';

const hosts = new Map([
  ['api.example.com', ['192.0.2.10']],
  ['mixed.example.com', ['10.0.0.5', '192.0.2.11']],
  ['db.example.com', ['10.1.0.9']],
]);

describe('TargetResolver', () => {
  const resolver = new TargetResolver({ hosts, systemResolver: false, resolveTimeoutMs: 1000 });

  it('IP literals are their own address and have no names', async () => {
    assert.deepEqual(await resolver.resolve('192.0.2.7'), { names: [], addresses: ['192.0.2.7'] });
    assert.deepEqual(await resolver.resolve('[2001:db8::7]'), { names: [], addresses: ['2001:db8::7'] });
  });

  it('names are lower-cased, lose a trailing dot, and come from hosts in order', async () => {
    assert.deepEqual(await resolver.resolve('Mixed.Example.COM.'), { names: ['mixed.example.com'], addresses: ['10.0.0.5', '192.0.2.11'] });
  });

  it('a name not in hosts with the system resolver off is an error (502), a non-name a bad request (400)', async () => {
    await assert.rejects(resolver.resolve('other.example.com'), (e: unknown) => e instanceof ResolveError && !e.badRequest && /system resolver is off/.test(e.message));
    for (const bad of ['exa mple.com', 'a..b', '-x.example.com', 'x'.repeat(64) + '.com']) {
      await assert.rejects(resolver.resolve(bad), (e: unknown) => e instanceof ResolveError && e.badRequest, bad);
    }
  });

  it('the system resolver answers for names not in hosts (localhost)', async () => {
    const system = new TargetResolver({ hosts, systemResolver: true, resolveTimeoutMs: 2000 });
    const resolved = await system.resolve('localhost');
    assert.deepEqual(resolved.names, ['localhost']);
    assert.ok(resolved.addresses.some((a) => a === '127.0.0.1' || a === '::1'), resolved.addresses.join());
  });
});

describe('splitAuthority', () => {
  const cases: Array<[string, number | undefined, { host: string; port: number } | undefined]> = [
    ['api.example.com:443', undefined, { host: 'api.example.com', port: 443 }],
    ['api.example.com', 80, { host: 'api.example.com', port: 80 }],
    ['api.example.com', undefined, undefined],
    ['[2001:db8::1]:8443', undefined, { host: '[2001:db8::1]', port: 8443 }],
    ['user@api.example.com:443', undefined, undefined],
    ['api.example.com:0', undefined, undefined],
    ['api.example.com:99999', undefined, undefined],
    ['a/b:443', undefined, undefined],
  ];
  for (const [input, defaultPort, expected] of cases) {
    it(`${JSON.stringify(input)}${defaultPort ? ` (default ${defaultPort})` : ''}`, () => assert.deepEqual(splitAuthority(input, defaultPort), expected));
  }
});

describe('chooseTarget: every resolved address is decided', () => {
  const { config, errors } = parseConfigText(
    `endpoints:
  - {name: bot, labels: {class: bot}, addresses: [127.0.0.5]}
  - {name: db, labels: {app: db}, addresses: [10.1.0.0/16]}
listeners:
  - {name: egress, listen: "127.0.0.1:0", protocol: forward}
`,
    'portcullis.yaml',
  );
  if (config === undefined) throw new Error(errors.map(formatSourceError).join('\n'));
  const parsed = parsePolicyText(
    `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bot, namespace: default}
spec:
  endpointSelector: {matchLabels: {class: bot}}
  egress:
  - toFQDNs: [{matchPattern: "*.example.com"}]
    toPorts: [{ports: [{port: "443"}]}]
  egressDeny:
  - toCIDR: [10.0.0.0/16]
`,
    'bot.yaml',
  );
  const built = buildSnapshot({ documents: parsed.documents, endpoints: config.endpoints, enforcement: 'default', audit: false, revision: 1 });
  const snapshot = built.snapshot!;
  const ctx: ListenerContext = { config: config.listeners[0]!, snapshot: () => snapshot, flows: new RecordingFlows(), metrics: new RecordingMetrics(), log: pino({ level: 'silent' }), timings: LISTENER_TIMINGS };
  const bot = { address: '127.0.0.5', port: 40000 };

  it('an allowed name: world peer with its names, egress, the target port', () => {
    const chosen = chooseTarget(ctx, bot, { names: ['api.example.com'], addresses: ['192.0.2.10'] }, 443);
    assert.equal(chosen.decision.allowed, true, chosen.decision.reason);
    assert.deepEqual(chosen.target, { address: '192.0.2.10', port: 443, names: ['api.example.com'] });
    assert.deepEqual(chosen.parties.destination.names, ['api.example.com']);
    assert.equal(chosen.parties.destination.identity.name, 'world');
    assert.equal(chosen.parties.direction, 'egress');
    assert.equal(chosen.parties.destinationPort, 443);
  });

  it('[denied CIDR, allowed address]: the allowed address is chosen', () => {
    const chosen = chooseTarget(ctx, bot, { names: ['mixed.example.com'], addresses: ['10.0.0.5', '192.0.2.11'] }, 443);
    assert.equal(chosen.decision.allowed, true);
    assert.equal(chosen.target.address, '192.0.2.11');
  });

  it('a name resolving only into a denied CIDR is refused by the deny rule', () => {
    const chosen = chooseTarget(ctx, bot, { names: ['deny.example.com'], addresses: ['10.0.0.6'] }, 443);
    assert.equal(chosen.decision.allowed, false);
    assert.match(chosen.decision.reason, /egressDeny/);
  });

  it('a name resolving onto a registered endpoint is that endpoint, not an FQDN peer: refused', () => {
    const chosen = chooseTarget(ctx, bot, { names: ['db.example.com'], addresses: ['10.1.0.9'] }, 443);
    assert.equal(chosen.decision.allowed, false);
    assert.equal(chosen.parties.destination.identity.name, 'db');
    assert.equal(chosen.parties.destination.names, undefined);
  });

  it('the port is part of the decision', () => {
    assert.equal(chooseTarget(ctx, bot, { names: ['api.example.com'], addresses: ['192.0.2.10'] }, 80).decision.allowed, false);
  });
});

describe('421: Host/:authority against the SNI', () => {
  it('authorityHost strips port, brackets and the trailing dot, lower-cases', () => {
    assert.equal(authorityHost('API.Example.com:8443'), 'api.example.com');
    assert.equal(authorityHost('api.example.com.'), 'api.example.com');
    assert.equal(authorityHost('[2001:DB8::1]:443'), '2001:db8::1');
    assert.equal(authorityHost('2001:db8::1'), '2001:db8::1');
  });

  it('misdirected only on a TLS socket with an SNI that differs', () => {
    const tlsSocket = (servername: string | false) => ({ servername }) as unknown as import('node:net').Socket;
    assert.equal(misdirectedRequest(tlsSocket('api.example.com'), 'API.example.com:443'), undefined);
    assert.match(misdirectedRequest(tlsSocket('api.example.com'), 'other.example.com') ?? '', /does not match the TLS server name/);
    assert.equal(misdirectedRequest(tlsSocket(false), 'other.example.com'), undefined, 'no SNI: nothing to disagree with');
    assert.equal(misdirectedRequest({} as import('node:net').Socket, 'other.example.com'), undefined, 'cleartext socket');
  });
});
