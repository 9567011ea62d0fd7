// Validation: every problem of a file is reported, each at the exact line/column/path of the offending
// key or value, with Cilium's wording where Cilium has one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cnp, endpoint, errorsOf, snapshotOf } from '../helpers/policy-fixtures.js';
import { formatSourceError } from '../../src/policy/index.js';
import type { SourceError } from '../../src/policy/index.js';

/** 1-based line/column of the `nth` occurrence of `needle` in `text`. */
function pos(text: string, needle: string, nth = 0): { line: number; column: number } {
  let i = -1;
  for (let k = 0; k <= nth; k++) {
    i = text.indexOf(needle, i + 1);
    assert.ok(i >= 0, `"${needle}" not in the document`);
  }
  const before = text.slice(0, i).split('\n');
  return { line: before.length, column: before[before.length - 1]!.length + 1 };
}

function expectOne(doc: string, needle: string, path: string, message: string | RegExp): SourceError {
  const errors = errorsOf(doc);
  assert.equal(errors.length, 1, `expected one error, got:\n${errors.map(formatSourceError).join('\n')}`);
  const e = errors[0]!;
  assert.deepEqual({ line: e.line, column: e.column }, pos(doc, needle), formatSourceError(e));
  assert.equal(e.path, path);
  if (typeof message === 'string') assert.equal(e.message, message);
  else assert.match(e.message, message);
  assert.equal(e.file, 'bad.yaml');
  return e;
}

test('bad RE2 regex: located at the value, Cilium-style path', () => {
  const doc = cnp('re', `
endpointSelector: {}
ingress:
- toPorts:
  - ports: [{port: "80", protocol: TCP}]
    rules:
      http:
      - path: /ok
      - path: /v1/(abc`);
  const e = expectOne(doc, '/v1/(abc', 'spec.ingress[0].toPorts[0].rules.http[1].path', 'invalid RE2 regex: missing closing )');
  assert.equal(formatSourceError(e), `bad.yaml:13:17: spec.ingress[0].toPorts[0].rules.http[1].path: invalid RE2 regex: missing closing )`);
  expectOne(doc.replace('/v1/(abc', '"(?=x)"'), '"(?=x)"', 'spec.ingress[0].toPorts[0].rules.http[1].path', /^invalid RE2 regex: invalid or unsupported Perl syntax/);
  expectOne(doc.replace('path: /v1/(abc', 'method: "a**"'), '"a**"', 'spec.ingress[0].toPorts[0].rules.http[1].method', /^invalid RE2 regex: invalid nested repetition operator/);
});

test('unknown fields are errors, with a suggestion for typos', () => {
  expectOne(cnp('t', `endpointSelector: {}\ningres: [{}]\negress: [{}]`), 'ingres', 'spec.ingres', 'unknown field "ingres" (did you mean "ingress"?)');
  expectOne(cnp('t', `endpointSelector: {matchLabel: {a: b}}\ningress: [{}]`), 'matchLabel', 'spec.endpointSelector.matchLabel', 'unknown field "matchLabel" (did you mean "matchLabels"?)');
  expectOne(cnp('t', `endpointSelector: {}\ningress: [{toPorts: [{ports: [{port: "80", proto: TCP}]}]}]`), 'proto', 'spec.ingress[0].toPorts[0].ports[0].proto', /^unknown field "proto"/);
  expectOne(cnp('t', `endpointSelector: {}\ningress: [{toFQDNs: [{matchName: a.com}]}]`), 'toFQDNs', 'spec.ingress[0].toFQDNs', /^unknown field "toFQDNs"/);
});

test('each unsupported field: "<field> is not supported by Portcullis (<why>)" at the key', () => {
  const cases: Array<[string, string, string]> = [
    [`egress: [{toServices: [{k8sService: {serviceName: s, namespace: d}}]}]`, 'toServices', 'spec.egress[0].toServices'],
    [`ingress: [{fromNodes: [{}]}]`, 'fromNodes', 'spec.ingress[0].fromNodes'],
    [`egress: [{toNodes: [{}]}]`, 'toNodes', 'spec.egress[0].toNodes'],
    [`ingress: [{icmps: [{fields: [{type: 8}]}]}]`, 'icmps', 'spec.ingress[0].icmps'],
    [`ingress: [{fromEndpoints: [{}], authentication: {mode: required}}]`, 'authentication', 'spec.ingress[0].authentication'],
    [`egress: [{toGroups: [{aws: {labels: {a: b}}}]}]`, 'toGroups', 'spec.egress[0].toGroups'],
    [`ingress: [{fromGroups: [{aws: {labels: {a: b}}}]}]`, 'fromGroups', 'spec.ingress[0].fromGroups'],
    [`ingress: [{fromCIDRSet: [{cidrGroupRef: corp}]}]`, 'cidrGroupRef', 'spec.ingress[0].fromCIDRSet[0].cidrGroupRef'],
    [`ingress: [{fromCIDRSet: [{cidrGroupSelector: {}}]}]`, 'cidrGroupSelector', 'spec.ingress[0].fromCIDRSet[0].cidrGroupSelector'],
    [`egress: [{toPorts: [{ports: [{port: "80"}], listener: {envoyConfig: {kind: CiliumEnvoyConfig, name: x}, name: l}}]}]`, 'listener', 'spec.egress[0].toPorts[0].listener'],
    [`egress: [{toPorts: [{ports: [{port: "80"}], rules: {l7proto: r2d2}}]}]`, 'l7proto', 'spec.egress[0].toPorts[0].rules.l7proto'],
    [`egress: [{toPorts: [{ports: [{port: "80"}], rules: {l7: [{cmd: READ}]}}]}]`, 'l7:', 'spec.egress[0].toPorts[0].rules.l7'],
    [`egress: [{toPorts: [{ports: [{port: "80"}], rules: {http: [{headerMatches: [{name: x, secret: {name: s}}]}]}}]}]`, 'secret', 'spec.egress[0].toPorts[0].rules.http[0].headerMatches[0].secret'],
  ];
  for (const [rule, needle, path] of cases) {
    const field = path.slice(path.lastIndexOf('.') + 1);
    expectOne(cnp('u', `endpointSelector: {}\n${rule}`), needle, path, new RegExp(`^${field} is not supported by Portcullis \\(.+\\)$`));
  }
  // fromRequires/toRequires: only empty lists are accepted.
  expectOne(cnp('u', `endpointSelector: {}\ningress: [{fromRequires: [{}], fromEndpoints: [{}]}]`), '[{}], fromEndpoints', 'spec.ingress[0].fromRequires', /^fromRequires is not supported by Portcullis/);
  assert.deepEqual(errorsOf(cnp('u', `endpointSelector: {}\ningress: [{fromRequires: [], fromEndpoints: [{}]}]`)), []);
});

test('nodeSelector: Cilium\'s error in a CNP, unsupported in a CCNP', () => {
  expectOne(cnp('n', `nodeSelector: {}\ningress: [{}]`), '{}', 'spec.nodeSelector', 'Invalid CiliumNetworkPolicy spec: rule cannot have NodeSelector');
  const ccnp = `apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: n}\nspec:\n  nodeSelector: {}\n  ingress: [{}]\n`;
  expectOne(ccnp, '{}', 'spec.nodeSelector', /^nodeSelector is not supported by Portcullis/);
});

test('bad CIDRs and excepts', () => {
  expectOne(cnp('c', `endpointSelector: {}\ningress: [{fromCIDR: [10.0.0.0/33]}]`), '10.0.0.0/33', 'spec.ingress[0].fromCIDR[0]', /^invalid CIDR "10\.0\.0\.0\/33"/);
  expectOne(cnp('c', `endpointSelector: {}\negress: [{toCIDR: ["fd00::/129"]}]`), '"fd00::/129"', 'spec.egress[0].toCIDR[0]', /^invalid CIDR/);
  expectOne(cnp('c', `endpointSelector: {}\ningress: [{fromCIDRSet: [{cidr: 10.0.0.0/8, except: [192.168.0.0/16]}]}]`), '192.168', 'spec.ingress[0].fromCIDRSet[0].except[0]',
    'allow CIDR prefix 10.0.0.0/8 does not contain exclude CIDR prefix 192.168.0.0/16');
  expectOne(cnp('c', `endpointSelector: {}\ningress: [{fromCIDRSet: [{except: [10.0.0.0/8]}]}]`), '{except', 'spec.ingress[0].fromCIDRSet[0]', 'one of cidr, cidrGroupRef, or cidrGroupSelector is required');
});

test('bad ports', () => {
  const port = (p: string) => cnp('p', `endpointSelector: {}\ningress:\n- toPorts:\n  - ports:\n    - ${p}`);
  expectOne(port('port: http'), 'http', 'spec.ingress[0].toPorts[0].ports[0].port', 'named ports are not supported by Portcullis (use the port number instead of "http")');
  expectOne(port('port: "70000"'), '"70000"', 'spec.ingress[0].toPorts[0].ports[0].port', 'port "70000" is out of range 0-65535');
  expectOne(port('port: "080"'), '"080"', 'spec.ingress[0].toPorts[0].ports[0].port', /leading zero/);
  expectOne(port('port: "8-0"'), '"8-0"', 'spec.ingress[0].toPorts[0].ports[0].port', /^invalid port "8-0"/);
  expectOne(port('{protocol: TCP}'), '{protocol', 'spec.ingress[0].toPorts[0].ports[0].port', 'port must be specified');
  expectOne(port('{port: "80", endPort: 79}'), '79', 'spec.ingress[0].toPorts[0].ports[0].endPort', 'endPort 79 is smaller than port 80');
  expectOne(port('{port: "80", protocol: ICMP}'), 'ICMP', 'spec.ingress[0].toPorts[0].ports[0].protocol', 'invalid protocol "ICMP", must be { tcp | udp | sctp | any }');
  const many = Array.from({ length: 41 }, (_, i) => `{port: "${i + 1}"}`).join(', ');
  expectOne(cnp('p', `endpointSelector: {}\ningress: [{toPorts: [{ports: [${many}]}]}]`), '[{port: "1"', 'spec.ingress[0].toPorts[0].ports', 'too many ports, the max is 40');
  // Numbers are accepted as well as strings; protocol is case-insensitive.
  assert.deepEqual(errorsOf(port('{port: 80, protocol: tcp}')), []);
});

test('L7 placement rules', () => {
  const rule = (ports: string, rules: string, dir = 'ingress') => cnp('l', `endpointSelector: {}\n${dir}:\n- toPorts:\n  - ports: [${ports}]\n    rules: ${rules}`);
  expectOne(rule('{port: "0"}', '{http: [{}]}'), '"0"', 'spec.ingress[0].toPorts[0].ports[0].port', 'L7 rules can not be used when a port is 0');
  expectOne(rule('{port: "80", protocol: UDP}', '{http: [{}]}'), 'UDP', 'spec.ingress[0].toPorts[0].ports[0].protocol', 'L7 rules can only apply to TCP (not UDP) except for DNS rules');
  expectOne(rule('{port: "53"}', '{dns: [{matchPattern: "*"}]}'), '{dns', 'spec.ingress[0].toPorts[0].rules', 'DNS rules are not allowed on ingress');
  expectOne(rule('{port: "53", endPort: 60}', '{dns: [{matchPattern: "*"}]}', 'egress'), '60', 'spec.egress[0].toPorts[0].ports[0].endPort', 'DNS rules do not support port ranges');
  expectOne(rule('{port: "80"}', '{http: [{}], kafka: [{}]}'), '{http', 'spec.ingress[0].toPorts[0].rules', 'multiple L7 protocol rule types specified in single rule');
  expectOne(rule('{port: "53"}', '{dns: [{matchName: a.com, matchPattern: "*"}]}', 'egress'), '{matchName', 'spec.egress[0].toPorts[0].rules.dns[0]', 'exactly one of matchName or matchPattern is required');
  expectOne(cnp('d', `endpointSelector: {}\ningressDeny: [{toPorts: [{ports: [{port: "80"}], rules: {http: [{}]}}]}]`), 'rules', 'spec.ingressDeny[0].toPorts[0].rules',
    'rules is not supported by Portcullis (deny rules are L3/L4 only)');
  expectOne(cnp('d', `endpointSelector: {}\negress: [{toPorts: [{rules: {dns: [{matchPattern: "*"}]}}]}]`), '{rules', 'spec.egress[0].toPorts[0].ports', 'port 53 must be specified for DNS rules');
  expectOne(cnp('d', `endpointSelector: {}\negress: [{toPorts: [{ports: []}]}]`), '[]', 'spec.egress[0].toPorts[0].ports', 'toPorts entry must list at least one port in ports');
  // DNS on egress with explicit ports and ANY protocol is fine.
  assert.deepEqual(errorsOf(rule('{port: "53", protocol: ANY}', '{dns: [{matchPattern: "*.cilium.io"}]}', 'egress')), []);
});

test('selector keys that can never match are errors at the key or value, never accepted silently', () => {
  const peers = (sel: string) => cnp('s', `endpointSelector: {}\ningress: [{fromEndpoints: [${sel}]}]`);
  expectOne(peers('{matchLabels: {"reserved.wrld": ""}}'), '"reserved.wrld"', 'spec.ingress[0].fromEndpoints[0].matchLabels["reserved.wrld"]', /^unknown reserved label "wrld"/);
  expectOne(peers('{matchLabels: {"reserved.": ""}}'), '"reserved."', 'spec.ingress[0].fromEndpoints[0].matchLabels["reserved."]', /^unknown reserved label ""/);
  // Reserved identities no Portcullis peer ever has (peers are registered endpoints, reserved:host or reserved:world).
  for (const name of ['health', 'init', 'unmanaged', 'remote-node', 'kube-apiserver', 'ingress', 'world-ipv4']) {
    expectOne(peers(`{matchLabels: {"reserved:${name}": ""}}`), `"reserved:${name}"`, `spec.ingress[0].fromEndpoints[0].matchLabels["reserved:${name}"]`, new RegExp(`^reserved:${name} can never match: Portcullis peers are registered endpoints, reserved:host or reserved:world`));
  }
  expectOne(peers('{matchExpressions: [{key: "reserved.kube-apiserver", operator: Exists}]}'), '"reserved.kube-apiserver"', 'spec.ingress[0].fromEndpoints[0].matchExpressions[0].key', /^reserved:kube-apiserver can never match/);
  assert.match(errorsOf(peers('{matchLabels: {"reserved:world-ipv6": ""}}'))[0]!.message, /fromEntities: \[world-ipv6\]/);
  // Reserved labels have no value.
  expectOne(peers('{matchLabels: {"reserved:world": "yes"}}'), '"yes"', 'spec.ingress[0].fromEndpoints[0].matchLabels["reserved:world"]', 'reserved labels carry no value: "reserved:world": "yes" can never match (write "")');
  expectOne(peers('{matchExpressions: [{key: "reserved:host", operator: In, values: [x]}]}'), '[x]', 'spec.ingress[0].fromEndpoints[0].matchExpressions[0].values', /^reserved labels carry no value: reserved:host In \[x\] can never match/);
  // A subject selector requiring a reserved label selects no registered endpoint.
  expectOne(cnp('s', `endpointSelector: {matchLabels: {"reserved:host": ""}}\ningress: [{}]`), '"reserved:host"', 'spec.endpointSelector.matchLabels["reserved:host"]', /^endpointSelector on reserved:host selects no endpoint: Portcullis applies policy to registered endpoints/);
  // What can match stays valid: none on purpose, negations, host and world peers.
  for (const sel of ['{matchLabels: {"reserved:none": ""}}', '{matchLabels: {"reserved.world": ""}}', '{matchExpressions: [{key: "reserved:health", operator: DoesNotExist}]}']) assert.deepEqual(errorsOf(peers(sel)), [], sel);
  assert.deepEqual(errorsOf(cnp('s', `endpointSelector: {matchExpressions: [{key: "reserved:host", operator: DoesNotExist}]}\ningress: [{}]`)), []);
});

test('selectors, entities and peers', () => {
  expectOne(cnp('s', `endpointSelector: {matchExpressions: [{key: app, operator: Like, values: [a]}]}\ningress: [{}]`), 'Like', 'spec.endpointSelector.matchExpressions[0].operator', '"Like" is not a valid label selector operator');
  expectOne(cnp('s', `endpointSelector: {matchExpressions: [{key: app, operator: In}]}\ningress: [{}]`), '{key', 'spec.endpointSelector.matchExpressions[0].values', "for 'In', 'NotIn' operators, values set can't be empty");
  expectOne(cnp('s', `endpointSelector: {matchLabels: {outpostid: 8888}}\ningress: [{}]`), '8888', 'spec.endpointSelector.matchLabels.outpostid', 'label value must be a string (quote it: "8888")');
  expectOne(cnp('s', `endpointSelector: {matchLabels: {"k8:app": x}}\ningress: [{}]`), '"k8:app"', 'spec.endpointSelector.matchLabels["k8:app"]', /^unknown label source "k8"/);
  expectOne(cnp('s', `endpointSelector: {matchLabels: {"reserved:hots": ""}}\ningress: [{}]`), '"reserved:hots"', 'spec.endpointSelector.matchLabels["reserved:hots"]', /^unknown reserved label "hots"/);
  expectOne(cnp('s', `endpointSelector: {matchLabels: {"cidr:10.0.0.0/8": ""}}\ningress: [{}]`), '"cidr:', 'spec.endpointSelector.matchLabels["cidr:10.0.0.0/8"]', /not supported by Portcullis \(use fromCIDR/);
  expectOne(cnp('s', `endpointSelector: {}\ningress: [{fromEntities: [wrld]}]`), 'wrld', 'spec.ingress[0].fromEntities[0]', 'unsupported entity: wrld');
  expectOne(cnp('s', `endpointSelector: {}\ningress: [{fromEndpoints: [{}], fromCIDR: [10.0.0.0/8]}]`), 'fromCIDR', 'spec.ingress[0].fromCIDR', 'combining fromEndpoints and fromCIDR is not supported yet');
  expectOne(cnp('s', `endpointSelector: {}\negress: [{toFQDNs: [{matchName: "a_b!.com"}]}]`), '"a_b!', 'spec.egress[0].toFQDNs[0].matchName', /^invalid matchName/);
  expectOne(cnp('s', `endpointSelector: {}\negress: [{toPorts: [{ports: [{port: "443"}], serverNames: [""]}]}]`), '""', 'spec.egress[0].toPorts[0].serverNames[0]', 'empty server name is not allowed');
});

test('envelope: empty policy, missing name, kinds, rules without selector or directions', () => {
  expectOne(`apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: e}\n`, 'apiVersion', '', 'Invalid CiliumNetworkPolicy spec(s): empty policy');
  expectOne(`apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: e}\nspecs: []\n`, 'apiVersion', '', 'Invalid CiliumClusterwideNetworkPolicy spec(s): empty policy');
  expectOne(`apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {namespace: x}\nspec: {endpointSelector: {}, ingress: [{}]}\n`, '{namespace', 'metadata.name', 'CiliumNetworkPolicy must have name');
  expectOne(`apiVersion: cilium.io/v2\nkind: NetworkPolicy\nmetadata: {name: x}\n`, 'NetworkPolicy', 'kind', /^unsupported kind "NetworkPolicy"/);
  expectOne(`apiVersion: cilium.io/v1\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\nspec: {endpointSelector: {}, ingress: [{}]}\n`, 'cilium.io/v1', 'apiVersion', 'unsupported apiVersion "cilium.io/v1" (expected cilium.io/v2)');
  expectOne(cnp('r', `ingress: [{}]`), 'ingress', 'spec.endpointSelector', 'rule must have one of EndpointSelector or NodeSelector');
  expectOne(cnp('r', `endpointSelector: {}`), 'endpointSelector', 'spec', 'rule must have at least one of Ingress, IngressDeny, Egress, EgressDeny');
  expectOne(cnp('r', `endpointSelector: {}\ningress: {fromEndpoints: [{}]}`), '{fromEndpoints', 'spec.ingress', 'expected a list, got a map');
  expectOne(`apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: x, namespace: default}\nspec: {endpointSelector: {}, ingress: [{}]}\n`, 'default', 'metadata.namespace', /cluster-scoped/);
});

test('YAML problems: duplicate keys and syntax errors are located; other documents still load', () => {
  const dup = cnp('d', `endpointSelector: {}\ningress: [{}]\ningress: [{}]`);
  const errors = errorsOf(dup);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /^invalid YAML: Map keys must be unique/);
  assert.equal(errors[0]!.line, 8);
});

test('every error of a file is reported, across documents; valid documents are kept', async () => {
  const { parsePolicyText } = await import('../../src/policy/index.js');
  const text = [
    cnp('good', `endpointSelector: {}\ningress: [{}]`),
    cnp('bad1', `endpointSelector: {}\ningress:\n- fromEntities: [wrld]\n  toPorts: [{ports: [{port: http}]}]\negres: []`),
    cnp('bad2', `endpointSelector: {}\ningress: [{fromCIDR: [nope]}]`),
  ].join('---\n');
  const r = parsePolicyText(text, 'multi.yaml');
  assert.deepEqual(r.documents.map((d) => d.name), ['good']);
  assert.deepEqual(r.errors.map((e) => [e.line, e.path, e.message.split(' (')[0]]), [
    [18, 'spec.egres', 'unknown field "egres"'],
    [16, 'spec.ingress[0].fromEntities[0]', 'unsupported entity: wrld'],
    [17, 'spec.ingress[0].toPorts[0].ports[0].port', 'named ports are not supported by Portcullis'],
    [26, 'spec.ingress[0].fromCIDR[0]', 'invalid CIDR "nope"'],
  ]);
});

test('mixed L7 types on one port of one endpoint are rejected when the snapshot is built', () => {
  const docs = [
    cnp('h', `endpointSelector: {matchLabels: {app: x}}\ningress: [{toPorts: [{ports: [{port: "8080"}], rules: {http: [{}]}}]}]`),
    cnp('k', `endpointSelector: {matchLabels: {app: x}}\ningress: [{fromEntities: [host], toPorts: [{ports: [{port: "8000", endPort: 9000}], rules: {kafka: [{}]}}]}]`),
  ];
  assert.throws(() => snapshotOf(docs, [endpoint('x', { app: 'x' }, ['127.0.0.60'])]),
    /policy-1\.yaml:7:\d+: spec\.ingress\[0\]\.toPorts\[0\]\.rules: cannot merge conflicting L7 parsers \(http\/kafka\) on a port of default\/x \(ingress\)/);
  // No endpoint selected: nothing to merge, no error.
  assert.doesNotThrow(() => snapshotOf(docs, [endpoint('y', { app: 'y' }, ['127.0.0.61'])]));
});

test('endpoint configuration errors are located at the endpoint', () => {
  const bad = [
    endpoint('a', { app: 'a' }, ['127.0.0.70', '10.0.0.0/33'], { line: 12 }),
    endpoint('b', { 'bad key': 'x' }, ['127.0.0.70'], { line: 20 }),
  ];
  assert.throws(() => snapshotOf(cnp('p', `endpointSelector: {}\ningress: [{}]`), bad), (e: Error) => {
    assert.match(e.message, /portcullis\.yaml:12:1: endpoints\[0\]\.addresses\[1\]: invalid address "10\.0\.0\.0\/33"/);
    assert.match(e.message, /portcullis\.yaml:20:1: endpoints\[1\]\.labels\.bad key: invalid label key "bad key"/);
    assert.match(e.message, /portcullis\.yaml:20:1: endpoints\[1\]\.addresses\[0\]: address 127\.0\.0\.70\/32 is already used by endpoint default\/a/);
    return true;
  });
});

test('validation itself is linear: pathological names and field names answer immediately', () => {
  const long = `${'a'.repeat(250)}!`;
  const start = Date.now();
  expectOne(cnp('s', `endpointSelector: {}\negress: [{toFQDNs: [{matchName: "${long}"}]}]`), `"${long}"`, 'spec.egress[0].toFQDNs[0].matchName', /^invalid matchName/);
  expectOne(cnp('s', `endpointSelector: {}\negress: [{toFQDNs: [{matchPattern: "${long}"}]}]`), `"${long}"`, 'spec.egress[0].toFQDNs[0].matchPattern', /^invalid matchPattern/);
  expectOne(cnp('s', `endpointSelector: {}\negress: [{toPorts: [{ports: [{port: "443"}], serverNames: ["${'a*'.repeat(120)}!"]}]}]`), '"a*a*', 'spec.egress[0].toPorts[0].serverNames[0]', /^invalid server name/);
  assert.ok(Date.now() - start < 5000);
  // Inherited object properties are not field names or label sources.
  expectOne(cnp('s', `endpointSelector: {}\ningress: [{constructor: x}]`), 'constructor', 'spec.ingress[0].constructor', /^unknown field "constructor"/);
  expectOne(cnp('s', `endpointSelector: {matchLabels: {"constructor:x": y}}\ningress: [{}]`), '"constructor:x"', 'spec.endpointSelector.matchLabels["constructor:x"]', /^unknown label source "constructor"/);
  expectOne(cnp('s', `endpointSelector: {}\ningress: [{fromEntities: [constructor]}]`), 'constructor]', 'spec.ingress[0].fromEntities[0]', 'unsupported entity: constructor');
});

test('headerMatches: a name that is not a token or a value with control characters is an error at that field (actions write them upstream)', () => {
  const rule = (match: string) => cnp('hm', `endpointSelector: {}\ningress: [{toPorts: [{ports: [{port: "80"}], rules: {http: [{headerMatches: [${match}]}]}}]}]`);
  const at = 'spec.ingress[0].toPorts[0].rules.http[0].headerMatches[0]';
  expectOne(rule('{name: "x-a: b", value: v, mismatch: ADD}'), '"x-a: b"', `${at}.name`, /^not a valid header name/);
  expectOne(rule('{name: x-a, value: "v\\r\\nx-injected: 1", mismatch: REPLACE}'), '"v\\r\\n', `${at}.value`, /^header value with a control character/);
  expectOne(rule('{name: x-a, value: "v\\u0000"}'), '"v\\u0000"', `${at}.value`, /^header value with a control character/);
  assert.deepEqual(errorsOf(rule('{name: x-a, value: "tab\\there, obs-text é", mismatch: ADD}')), []);
});
