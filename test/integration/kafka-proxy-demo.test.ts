// `portcullis demo kafka` end to end: the built CLI runs Cilium's Kafka story through a real Portcullis and
// exits 0 only when every step behaved as the guide says; the flow records it writes show the denials.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli } from '../helpers/runtime-fixture.js';

test('portcullis demo kafka: every step as the guide says, denials in the flow records', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-kafka-demo-test-'));
  try {
    const flowsFile = join(dir, 'flows.jsonl');
    const { code, stdout, stderr } = await cli(['demo', 'kafka', '--flows', flowsFile]);
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /Empire Kafka demo: all 13 steps behaved as the guide says/);
    assert.match(stdout, /outpost 8888: produce to empire-announce\n\s+-> TOPIC_AUTHORIZATION_FAILED: Not authorized to access topics/);
    assert.match(stdout, /outpost 9999: consume deathstar-plans\n\s+-> TOPIC_AUTHORIZATION_FAILED/);
    assert.match(stdout, /empire-backup: consume deathstar-plans\n\s+-> ok: "deathstar plans v3", "deathstar plans v4"/);

    const flows = readFileSync(flowsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).flow as Record<string, any>);
    const dropped = flows.filter((f) => f.verdict === 'DROPPED' && f.Type === 'L7');
    const seen = new Set(dropped.map((f) => `${f.source.pod_name} ${f.l7.kafka.api_key} ${f.l7.kafka.topic} ${f.portcullis?.kafka_error_code ?? ''}`));
    assert.ok(seen.has('empire-outpost-8888 produce empire-announce 29'), [...seen].join('\n'));
    assert.ok(seen.has('empire-outpost-9999 metadata deathstar-plans 29'), [...seen].join('\n'));
    assert.ok(seen.has('empire-backup produce deathstar-plans 29'), [...seen].join('\n'));
    assert.ok(dropped.every((f) => f.destination.pod_name === 'kafka-broker' && f.l4.TCP.destination_port === 9092));
    // Before the policy, the hijack went through.
    assert.ok(flows.some((f) => f.verdict === 'FORWARDED' && f.source.pod_name === 'empire-outpost-8888' && f.l7?.kafka?.api_key === 'produce'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
