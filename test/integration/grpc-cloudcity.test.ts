// `portcullis demo cloudcity` end to end: the door manager, Portcullis, the public terminal and the guide's
// policy, all real; the demo checks each step itself and returns true only if all behaved as the guide says.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCloudCityDemo } from '../../src/demo/cloudcity/run.js';

test('the Cloud City story: SetAccessCode works without the policy, is PERMISSION_DENIED with it', async () => {
  const lines: string[] = [];
  const ok = await runCloudCityDemo({ log: (l) => lines.push(l) });
  const out = lines.join('\n');
  assert.equal(ok, true, out);
  assert.match(out, /SetAccessCode 1 999\n\s+-> Successfully set AccessCode to 999\s+OK/);
  assert.match(out, /SetAccessCode 1 999\n\s+-> StatusCode\.PERMISSION_DENIED \(7\): Access denied\s+OK/);
  assert.match(out, /GetLocation 1\n\s+-> Door location is lat = 10\.222200393676758 long = 68\.87879943847656\s+OK/);
  // The denied calls never reached the door manager.
  assert.match(out, /door manager served: GetName, GetLocation, SetAccessCode, GetLocation, RequestMaintenance$/m);
});
