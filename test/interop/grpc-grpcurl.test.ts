// grpcurl (installed by scripts/install-go-tools.sh) through the proxy to the Cloud City door manager,
// using cloudcity.proto (no reflection), plaintext: allowed calls answer, denied ones are PermissionDenied.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { startDoorServer, type DoorServer } from '../../src/demo/cloudcity/door-server.js';
import { cloudCityProtoPath } from '../../src/demo/cloudcity/proto.js';
import { packageFile } from '../../src/package-root.js';
import { BACKEND, startH2Proxy, type H2Proxy } from '../helpers/h2-proxy-fixture.js';

const GRPCURL = packageFile('.interop', 'bin', 'grpcurl');
const execFileP = promisify(execFile);

// grpcurl cannot pick its source address, so it is reserved:host: the guide's rules, granted to `host`.
const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: rule1-for-host}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
  - fromEntities: [host]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http:
        - {method: POST, path: /cloudcity.DoorManager/GetName}
        - {method: POST, path: /cloudcity.DoorManager/GetLocation}
        - {method: POST, path: /cloudcity.DoorManager/RequestMaintenance}
`;

let door: DoorServer;
let proxy: H2Proxy;
before(async () => {
  assert.ok(existsSync(GRPCURL), `${GRPCURL} is missing: run scripts/install-go-tools.sh`);
  door = await startDoorServer(BACKEND);
  proxy = await startH2Proxy({ upstreamPort: door.port, policy: POLICY });
});
after(async () => {
  await proxy?.close();
  await door?.close();
});

async function grpcurl(method: string, data: object): Promise<{ code: number; stdout: string; stderr: string }> {
  const proto = cloudCityProtoPath();
  const args = ['-plaintext', '-max-time', '5', '-import-path', dirname(proto), '-proto', 'cloudcity.proto', '-d', JSON.stringify(data), `${proxy.host}:${proxy.port}`, `cloudcity.DoorManager/${method}`];
  try {
    const { stdout, stderr } = await execFileP(GRPCURL, args, { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

test('grpcurl: allowed methods answer with the door manager values', async () => {
  const name = await grpcurl('GetName', { door_id: 1 });
  assert.equal(name.code, 0, name.stderr);
  assert.deepEqual(JSON.parse(name.stdout), { name: 'Spaceport Door #1' });
  const location = await grpcurl('GetLocation', { door_id: 1 });
  assert.equal(location.code, 0, location.stderr);
  assert.deepEqual(JSON.parse(location.stdout), { lat: 10.2222, long: 68.8788 });
  const maint = await grpcurl('RequestMaintenance', { door_id: 1, maint_description: 'squeaky hinge' });
  assert.equal(maint.code, 0, maint.stderr);
  assert.deepEqual(JSON.parse(maint.stdout), { success: true });
});

test('grpcurl: denied methods are PermissionDenied "Access denied" and never reach the door manager', async () => {
  const served = door.calls.length;
  for (const [method, data] of [['SetAccessCode', { door_id: 1, access_code: 999 }], ['GetStatus', { door_id: 1 }]] as const) {
    const r = await grpcurl(method, data);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Code: PermissionDenied\s+Message: Access denied/, r.stderr);
  }
  assert.equal(door.calls.length, served);
});
