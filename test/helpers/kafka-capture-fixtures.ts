// Re-captures test/fixtures/kafka/*.json: real request frames sent by kafkajs and kcat to the fake
// broker (test/helpers/kafka-fake-broker.ts) on 127.0.0.1:0, stored as hex with the facts the codec
// read from them at capture time. Run from the repo root:
//   npx tsc -p . && node dist/test/helpers/kafka-capture-fixtures.js
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KAFKA_APIS } from '../../src/protocols/kafka/codec/index.js';
import { kafkajsAdmin, kafkajsConsume, kafkajsProduce, runKcat } from './kafka-clients.js';
import { KafkaFakeBroker, type RecordedKafkaRequest } from './kafka-fake-broker.js';

export interface KafkaFixtureFrame {
  readonly scenario: string;
  readonly api: string;
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly clientId: string | null;
  readonly topics: readonly string[];
  readonly groupIds: readonly string[];
  readonly hex: string;
}

export interface KafkaFixtureFile {
  readonly client: string;
  readonly how: string;
  readonly frames: readonly KafkaFixtureFrame[];
}

/** test/fixtures/kafka in the source tree (this file runs from dist/test/helpers). */
export const FIXTURE_DIR = fileURLToPath(new URL('../../../test/fixtures/kafka/', import.meta.url));

/** Distinct frames per scenario (ignoring the correlation id): every shape once, no repeated polls. */
function fixtureFrames(scenario: string, requests: readonly RecordedKafkaRequest[]): KafkaFixtureFrame[] {
  const seen = new Set<string>();
  return requests.flatMap(({ frame, facts }) => {
    const key = frame.subarray(0, 8).toString('hex') + frame.subarray(12).toString('hex');
    if (seen.has(key)) return [];
    seen.add(key);
    return [
      {
        scenario,
        api: KAFKA_APIS.get(facts.apiKey)?.name ?? String(facts.apiKey),
        apiKey: facts.apiKey,
        apiVersion: facts.apiVersion,
        clientId: facts.clientId,
        topics: facts.topics,
        groupIds: facts.groupIds,
        hex: frame.toString('hex'),
      },
    ];
  });
}

async function capture(scenario: string, run: (broker: string) => Promise<unknown>): Promise<KafkaFixtureFrame[]> {
  const broker = await KafkaFakeBroker.start({ topics: ['deathstar-plans', 'empire-announce'] });
  try {
    await run(broker.address);
    return fixtureFrames(scenario, broker.requests);
  } finally {
    await broker.close();
  }
}

async function kcatOk(broker: string, args: string[], input?: string): Promise<void> {
  const r = await runKcat(broker, args, { input, timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`kcat ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr.slice(-800)}`);
}

async function main(): Promise<void> {
  const kafkajsVersion = (createRequire(import.meta.url)('kafkajs/package.json') as { version: string }).version;
  const kafkajs: KafkaFixtureFile = {
    client: `kafkajs ${kafkajsVersion}`,
    how: 'node dist/test/helpers/kafka-capture-fixtures.js: kafkajs producer, consumer group and admin against the fake broker',
    frames: [
      ...(await capture('producer', (b) => kafkajsProduce(b, 'empire-announce', ['Death Star plans secured']))),
      ...(await capture('consumer', async (b) => {
        await kafkajsProduce(b, 'empire-announce', ['rebel base found']);
        await kafkajsConsume(b, 'empire-announce', 'empire-outposts', 1);
      })).filter((f) => f.clientId === 'empire-outpost'),
      ...(await capture('admin', (b) => kafkajsAdmin(b, 'empire-reports'))),
    ],
  };
  const version = (await runKcat('127.0.0.1:1', ['-V'])).stdout.match(/Version ([\d.]+) .*librdkafka ([\d.]+)/);
  const kcat: KafkaFixtureFile = {
    client: `kcat ${version?.[1] ?? '?'} (librdkafka ${version?.[2] ?? '?'})`,
    how: 'node dist/test/helpers/kafka-capture-fixtures.js: kcat -L, -P, -C and -G against the fake broker, client.id=empire-hq',
    frames: [
      ...(await capture('list', (b) => kcatOk(b, ['-L']))),
      ...(await capture('produce', (b) => kcatOk(b, ['-P', '-t', 'deathstar-plans'], 'plan-1\nplan-2\n'))),
      ...(await capture('consume', async (b) => {
        await kcatOk(b, ['-P', '-t', 'deathstar-plans'], 'plan-1\n');
        await kcatOk(b, ['-C', '-t', 'deathstar-plans', '-o', 'beginning', '-e']);
      })).filter((f) => f.apiKey !== 0),
      ...(await capture('group', async (b) => {
        await kcatOk(b, ['-P', '-t', 'deathstar-plans'], 'plan-1\n');
        await kcatOk(b, ['-G', 'empire-backup', '-X', 'auto.offset.reset=earliest', '-c', '1', 'deathstar-plans']);
      })).filter((f) => f.apiKey !== 0),
    ],
  };
  for (const [name, file] of [['kafkajs-requests.json', kafkajs], ['kcat-requests.json', kcat]] as const) {
    const path = join(FIXTURE_DIR, name);
    writeFileSync(path, JSON.stringify(file, null, 1) + '\n');
    process.stdout.write(`${path}: ${file.frames.length} frames from ${file.client}\n`);
  }
}

/** Fixture files as stored (for the tests). */
export function loadKafkaFixture(name: string): KafkaFixtureFile {
  return JSON.parse(readFileSync(join(FIXTURE_DIR, name), 'utf8')) as KafkaFixtureFile;
}

if (process.argv[1]?.endsWith('kafka-capture-fixtures.js')) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
