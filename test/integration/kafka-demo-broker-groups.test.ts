// The demo broker's group coordinator at the wire level: FindCoordinator, the JoinGroup/SyncGroup
// generation dance between real connections, heartbeats during rebalances, session expiry, LeaveGroup,
// and committed offsets (OffsetCommit, OffsetFetch in its per-group v0-7 and batched v8+ shapes).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startDemoBroker, type DemoBroker } from '../../src/demo/kafka/broker/index.js';
import { ApiKey, type KafkaStruct } from '../../src/protocols/kafka/codec/index.js';
import { KafkaWireClient } from '../helpers/kafka-demo-wire-client.js';
import { waitUntil } from '../helpers/wait.js';

type Rows = readonly KafkaStruct[];
const rows = (v: unknown): Rows => v as Rows;

function joinBody(group: string, memberId: string, protocols: string[], sessionTimeoutMs = 10_000): KafkaStruct {
  return {
    groupId: group,
    sessionTimeoutMs,
    rebalanceTimeoutMs: 5_000,
    memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: protocols.map((name) => ({ name, metadata: Buffer.from(`meta:${name}:${memberId}`) })),
  };
}

function syncBody(group: string, generationId: number, memberId: string, assignments: Array<[string, string]> = []): KafkaStruct {
  return { groupId: group, generationId, memberId, groupInstanceId: null, assignments: assignments.map(([m, a]) => ({ memberId: m, assignment: Buffer.from(a) })) };
}

const heartbeat = (c: KafkaWireClient, group: string, generationId: number, memberId: string): Promise<number> =>
  c.request(ApiKey.Heartbeat, 3, { groupId: group, generationId, memberId, groupInstanceId: null }).then((r) => r.errorCode as number);

describe('Kafka demo broker: group coordinator', () => {
  let broker: DemoBroker;
  const clients: KafkaWireClient[] = [];
  const client = async (): Promise<KafkaWireClient> => {
    const c = await KafkaWireClient.connect(broker.port);
    clients.push(c);
    return c;
  };

  before(async () => {
    broker = await startDemoBroker({ topics: { 'empire-announce': 2, 'deathstar-plans': 1 }, advertisedHost: '127.0.0.78', advertisedPort: 29092, initialRebalanceDelayMs: 200 });
  });
  after(async () => {
    for (const c of clients) c.close();
    await broker.close();
  });

  test('FindCoordinator names this broker at its advertised address (v0-3 one key, v4+ a batch); transactions are refused', async () => {
    const c = await client();
    const one = await c.request(ApiKey.FindCoordinator, 2, { key: 'outposts', keyType: 0 });
    assert.deepEqual([one.errorCode, one.nodeId, one.host, one.port], [0, broker.nodeId, '127.0.0.78', 29092]);
    const batch = await c.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['a', 'b'] });
    assert.deepEqual(rows(batch.coordinators).map((k) => [k.key, k.errorCode, k.host, k.port]), [['a', 0, '127.0.0.78', 29092], ['b', 0, '127.0.0.78', 29092]]);
    const txn = await c.request(ApiKey.FindCoordinator, 1, { key: 'tx', keyType: 1 });
    assert.equal(txn.errorCode, 42);
    assert.match(txn.errorMessage as string, /transactions are not supported/);
  });

  test('two members share a generation: the leader gets every member metadata, SyncGroup hands out its assignment', async () => {
    const a = await client();
    const b = await client();
    // Both join within the initial rebalance delay, so one generation holds them both.
    const [ja, jb] = await Promise.all([
      a.request(ApiKey.JoinGroup, 5, joinBody('fleet', '', ['roundrobin', 'range']), { clientId: 'outpost-a' }),
      b.request(ApiKey.JoinGroup, 5, joinBody('fleet', '', ['range', 'roundrobin']), { clientId: 'outpost-b' }),
    ]);
    assert.equal(ja.errorCode, 0);
    assert.equal(jb.errorCode, 0);
    assert.equal(ja.generationId, jb.generationId);
    assert.equal(ja.leader, jb.leader);
    assert.match(ja.memberId as string, /^outpost-a-/);
    assert.ok(['roundrobin', 'range'].includes(ja.protocolName as string));
    assert.equal(ja.protocolName, jb.protocolName);
    const [leader, follower, leaderId, followerId] = ja.leader === ja.memberId ? [a, b, ja.memberId as string, jb.memberId as string] : [b, a, jb.memberId as string, ja.memberId as string];
    const leaderJoin = leader === a ? ja : jb;
    const followerJoin = leader === a ? jb : ja;
    assert.equal(rows(leaderJoin.members).length, 2);
    assert.equal(rows(followerJoin.members).length, 0);
    assert.deepEqual(
      rows(leaderJoin.members).map((m) => (m.metadata as Buffer).toString()).sort(),
      [`meta:${leaderJoin.protocolName}:`, `meta:${leaderJoin.protocolName}:`],
    );

    const gen = ja.generationId as number;
    // The follower asks first and waits for the leader's assignment.
    const followerSync = follower.request(ApiKey.SyncGroup, 3, syncBody('fleet', gen, followerId));
    const leaderSync = await leader.request(ApiKey.SyncGroup, 3, syncBody('fleet', gen, leaderId, [[leaderId, 'partition-0'], [followerId, 'partition-1']]));
    assert.deepEqual([leaderSync.errorCode, (leaderSync.assignment as Buffer).toString()], [0, 'partition-0']);
    const fs = await followerSync;
    assert.deepEqual([fs.errorCode, (fs.assignment as Buffer).toString()], [0, 'partition-1']);
    assert.equal(await heartbeat(follower, 'fleet', gen, followerId), 0);

    // Wrong generation, unknown member, wrong protocol.
    assert.equal(await heartbeat(follower, 'fleet', gen + 1, followerId), 22);
    assert.equal(await heartbeat(follower, 'fleet', gen, 'nobody'), 25);
    const v5Sync = await follower.request(ApiKey.SyncGroup, 5, { ...syncBody('fleet', gen, followerId), protocolType: 'consumer', protocolName: 'other' });
    assert.equal(v5Sync.errorCode, 23);

    // A third member joining puts the group into a rebalance: heartbeats answer 27 until everyone rejoins.
    const c = await client();
    const joiningC = c.request(ApiKey.JoinGroup, 5, joinBody('fleet', '', ['range']), { clientId: 'outpost-c' });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await heartbeat(leader, 'fleet', gen, leaderId), 27);
    assert.equal(await heartbeat(follower, 'fleet', gen, followerId), 27);
    const [rl, rf, rc] = await Promise.all([
      leader.request(ApiKey.JoinGroup, 5, joinBody('fleet', leaderId, ['roundrobin', 'range'])),
      follower.request(ApiKey.JoinGroup, 5, joinBody('fleet', followerId, ['range', 'roundrobin'])),
      joiningC,
    ]);
    assert.deepEqual([rl.errorCode, rf.errorCode, rc.errorCode], [0, 0, 0]);
    assert.equal(rl.generationId, gen + 1);
    assert.equal(rc.protocolName, 'range', 'the only protocol every member supports');
    assert.equal(rl.leader, leaderId, 'the leader stays the leader');

    // LeaveGroup v3: per-member answers; the remaining members rebalance.
    const left = await c.request(ApiKey.LeaveGroup, 3, { groupId: 'fleet', members: [{ memberId: rc.memberId, groupInstanceId: null }, { memberId: 'ghost', groupInstanceId: null }] });
    assert.deepEqual(rows(left.members).map((m) => m.errorCode), [0, 25]);
    assert.equal(await heartbeat(leader, 'fleet', gen + 1, leaderId), 27);
    const leftV1 = await follower.request(ApiKey.LeaveGroup, 1, { groupId: 'fleet', memberId: followerId });
    assert.equal(leftV1.errorCode, 0);
  });

  test('a member that stops heartbeating is removed after its session timeout and the group rebalances', async () => {
    const a = await client();
    const b = await client();
    const [ja, jb] = await Promise.all([
      a.request(ApiKey.JoinGroup, 5, joinBody('sessions', '', ['range'], 10_000)),
      b.request(ApiKey.JoinGroup, 5, joinBody('sessions', '', ['range'], 1_000)),
    ]);
    const gen = ja.generationId as number;
    const leaderClient = ja.leader === ja.memberId ? a : b;
    const leaderId = ja.leader as string;
    await leaderClient.request(ApiKey.SyncGroup, 3, syncBody('sessions', gen, leaderId, [[ja.memberId as string, 'x'], [jb.memberId as string, 'y']]));
    const otherSync = await (leaderClient === a ? b : a).request(ApiKey.SyncGroup, 3, syncBody('sessions', gen, (leaderClient === a ? jb : ja).memberId as string));
    assert.equal(otherSync.errorCode, 0);
    // a keeps heartbeating; b (1 s session) goes silent.
    const code = await waitUntil('a heartbeat answered with an error', () => heartbeat(a, 'sessions', gen, ja.memberId as string), 5_000, 200);
    assert.equal(code, 27, 'the expiry of b started a rebalance');
    assert.equal(await heartbeat(b, 'sessions', gen, jb.memberId as string), 25, 'b is no longer a member');
    const rejoin = await a.request(ApiKey.JoinGroup, 5, joinBody('sessions', ja.memberId as string, ['range']));
    assert.deepEqual([rejoin.errorCode, rejoin.generationId, rows(rejoin.members).length], [0, gen + 1, 1]);
  });

  test('JoinGroup refuses bad requests with Kafka error codes', async () => {
    const c = await client();
    const code = async (body: KafkaStruct, version = 5): Promise<number> => (await c.request(ApiKey.JoinGroup, version, body)).errorCode as number;
    assert.equal(await code(joinBody('', '', ['range'])), 24);
    assert.equal(await code(joinBody('bad-session', '', ['range'], 10)), 26);
    assert.equal(await code({ ...joinBody('no-protocols', '', []) }), 23);
    assert.equal(await code(joinBody('unknown-member', 'who-am-i', ['range'])), 25);
    // v0 (no rebalance timeout) and v7+ (nullable protocol name on error) shapes.
    const v0 = await c.request(ApiKey.JoinGroup, 0, { groupId: 'solo', sessionTimeoutMs: 6000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }] });
    assert.deepEqual([v0.errorCode, v0.protocolName, v0.leader === v0.memberId], [0, 'range', true]);
    const v7err = await c.request(ApiKey.JoinGroup, 7, { ...joinBody('solo', 'stranger', ['range']), reason: null });
    assert.deepEqual([v7err.errorCode, v7err.protocolName], [25, null]);
    // Incompatible protocols with the existing member.
    const other = await c.request(ApiKey.JoinGroup, 5, { ...joinBody('solo', '', ['sticky']) });
    assert.equal(other.errorCode, 23);
  });

  test('OffsetCommit and OffsetFetch: members commit in their generation, outsiders with generation -1; fetch per group or batched', async () => {
    const c = await client();
    const j = await c.request(ApiKey.JoinGroup, 5, joinBody('outposts', '', ['range']));
    const gen = j.generationId as number;
    const me = j.memberId as string;
    await c.request(ApiKey.SyncGroup, 3, syncBody('outposts', gen, me, [[me, 'all']]));
    const commit = (version: number, generationIdOrMemberEpoch: number, memberId: string, offset: bigint, topic = 'empire-announce', partitionIndex = 1): Promise<KafkaStruct> =>
      c.request(ApiKey.OffsetCommit, version, {
        groupId: 'outposts',
        generationIdOrMemberEpoch,
        memberId,
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: [{ name: topic, partitions: [{ partitionIndex, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: 'm' }] }],
      });
    const code = (r: KafkaStruct): unknown => rows(rows(r.topics)[0]!.partitions)[0]!.errorCode;
    assert.equal(code(await commit(5, gen, me, 7n)), 0);
    assert.equal(code(await commit(7, gen + 5, me, 8n)), 22);
    assert.equal(code(await commit(5, gen, 'stranger', 8n)), 25);
    assert.equal(code(await commit(5, -1, '', 8n)), 25, 'generation -1 is only for groups without members');
    assert.equal(code(await commit(5, gen, me, 1n, 'no-such-topic', 0)), 3);
    assert.equal(code(await commit(8, gen, me, 3n, 'deathstar-plans', 0)), 0, 'flexible v8');

    // A group nobody is in accepts commits from outside group management.
    const standalone = await c.request(ApiKey.OffsetCommit, 2, { groupId: 'backup', generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1n, topics: [{ name: 'deathstar-plans', partitions: [{ partitionIndex: 0, committedOffset: 42n, committedMetadata: null }] }] });
    assert.equal(code(standalone), 0);

    const v4 = await c.request(ApiKey.OffsetFetch, 4, { groupId: 'outposts', topics: [{ name: 'empire-announce', partitionIndexes: [0, 1] }] });
    assert.equal(v4.errorCode, 0);
    assert.deepEqual(rows(rows(v4.topics)[0]!.partitions).map((p) => [p.partitionIndex, p.committedOffset, p.metadata]), [[0, -1n, ''], [1, 7n, 'm']]);
    const v7all = await c.request(ApiKey.OffsetFetch, 7, { groupId: 'outposts', topics: null, requireStable: true });
    assert.deepEqual(rows(v7all.topics).map((t) => [t.name, rows(t.partitions).map((p) => p.committedOffset)]), [['deathstar-plans', [3n]], ['empire-announce', [7n]]]);
    const v8 = await c.request(ApiKey.OffsetFetch, 8, {
      groups: [
        { groupId: 'outposts', topics: [{ name: 'empire-announce', partitionIndexes: [1] }] },
        { groupId: 'backup', topics: null },
        { groupId: '', topics: null },
      ],
      requireStable: false,
    });
    assert.deepEqual(
      rows(v8.groups).map((g) => [g.groupId, g.errorCode, rows(g.topics).flatMap((t) => rows(t.partitions).map((p) => `${t.name}-${p.partitionIndex}@${p.committedOffset}`))]),
      [['outposts', 0, ['empire-announce-1@7']], ['backup', 0, ['deathstar-plans-0@42']], ['', 24, []]],
    );
    const v9 = await c.request(ApiKey.OffsetFetch, 9, { groups: [{ groupId: 'backup', memberId: null, memberEpoch: -1, topics: [{ name: 'deathstar-plans', partitionIndexes: [0] }] }], requireStable: true });
    assert.equal(rows(rows(rows(v9.groups)[0]!.topics)[0]!.partitions)[0]!.committedOffset, 42n);
  });
});
