// The `grpc` convenience rule form: it compiles to the http rule Cilium users write for gRPC
// (`method: POST`, `path: /pkg.Service/Method`), so both forms decide alike and merge on one port.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, endpoint, errorsOf, http, snapshotOf } from '../helpers/policy-fixtures.js';

const CLOUD_CITY = [
  endpoint('cc-door-mgr', { app: 'cc-door-mgr' }, ['127.0.0.31']),
  endpoint('terminal', { app: 'public-terminal' }, ['127.0.0.32']),
];

const policy = (rules: string) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: doors}
spec:
  endpointSelector: {matchLabels: {app: cc-door-mgr}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: public-terminal}}]
    toPorts:
    - ports: [{port: "50051", protocol: TCP}]
      rules:
${rules}`;

const call = (method: string) => http('POST', `/cloudcity.DoorManager/${method}`, 'doors', [['content-type', 'application/grpc']]);

test('grpc service+method rules allow exactly those calls', () => {
  const snap = snapshotOf(policy('        grpc:\n        - {service: cloudcity.DoorManager, method: GetName}\n        - {service: cloudcity.DoorManager, method: GetLocation}\n'), CLOUD_CITY);
  const c = connect(snap, 'terminal', 'cc-door-mgr', 50051);
  assert.equal(c.l7, 'http');
  assert.equal(c.decideHttp(call('GetName')).verdict, 'FORWARDED');
  assert.equal(c.decideHttp(call('GetLocation')).verdict, 'FORWARDED');
  const denied = c.decideHttp(call('SetAccessCode'));
  assert.equal(denied.verdict, 'DROPPED');
  assert.match(denied.reason, /grpc cloudcity\.DoorManager\/GetName/);
  assert.equal(c.decideHttp(http('GET', '/cloudcity.DoorManager/GetName')).verdict, 'DROPPED', 'gRPC calls are POSTs');
});

test('a grpc rule without method allows every method of that service only', () => {
  const snap = snapshotOf(policy('        grpc:\n        - service: cloudcity.DoorManager\n'), CLOUD_CITY);
  const c = connect(snap, 'terminal', 'cc-door-mgr', 50051);
  assert.equal(c.decideHttp(call('SetAccessCode')).verdict, 'FORWARDED');
  assert.equal(c.decideHttp(http('POST', '/cloudcityXDoorManager/GetName')).verdict, 'DROPPED', 'the dot is literal');
  assert.equal(c.decideHttp(http('POST', '/cloudcity.DoorManager/GetName/x')).verdict, 'DROPPED');
  assert.equal(c.decideHttp(http('POST', '/other.Service/GetName')).verdict, 'DROPPED');
});

test('grpc and http rules share a port rule and are ORed', () => {
  const snap = snapshotOf(
    policy('        http:\n        - {method: POST, path: /cloudcity.DoorManager/RequestMaintenance}\n        grpc:\n        - {service: cloudcity.DoorManager, method: GetName}\n'),
    CLOUD_CITY,
  );
  const c = connect(snap, 'terminal', 'cc-door-mgr', 50051);
  assert.equal(c.decideHttp(call('GetName')).verdict, 'FORWARDED');
  assert.equal(c.decideHttp(call('RequestMaintenance')).verdict, 'FORWARDED');
  assert.equal(c.decideHttp(call('SetAccessCode')).verdict, 'DROPPED');
});

test('bad grpc rules are located errors', () => {
  const errors = errorsOf(policy('        grpc:\n        - {service: "cloudcity/DoorManager", method: GetName}\n        - {service: cloudcity.DoorManager, method: "Get Name"}\n        - {service: cloudcity.DoorManager, verb: GetName}\n'));
  assert.deepEqual(
    errors.map((e) => `${e.line}:${e.path}: ${e.message}`),
    [
      '12:spec.ingress[0].toPorts[0].rules.grpc[0].service: must be a fully qualified gRPC service name, e.g. cloudcity.DoorManager',
      '13:spec.ingress[0].toPorts[0].rules.grpc[1].method: must be a gRPC method name, e.g. GetName',
      '14:spec.ingress[0].toPorts[0].rules.grpc[2].verb: unknown field "verb"',
    ],
  );
  assert.match(errorsOf(policy('        grpc:\n        - {service: a.B}\n        kafka:\n        - {topic: x}\n'))[0]!.message, /multiple L7 protocol rule types/);
});
