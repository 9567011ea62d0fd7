// A real Apache Kafka 2.3 broker (ZooKeeper mode, with its own ZooKeeper) on 127.0.0.1, from the jars
// scripts/kafka/install.sh assembles in .interop/kafka-2.3/. Kafka 2.0-2.3 serve ApiVersions v0-2 only: a client's
// first ApiVersions v3 (librdkafka) gets the v0 error-35 answer of KIP-511, and the client retries lower.
// Missing jars are an error, never a skip (see kafka-broker-real.ts). Both JVMs end when the test process does:
// the broker runs under BrokerMain (from the interop client jar), ZooKeeper under a shell that kills it when its
// stdin closes.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageFile } from '../../src/package-root.js';
import { BROKER_LOG4J, CLIENT_JAR, freePorts, setUp, startJvm, tail, terminate, waitUntilAnswering, type RealKafka } from './kafka-broker-real.js';

const LIBS = packageFile('.interop', 'kafka-2.3', 'libs');
const HOST = '127.0.0.1';
const START_ATTEMPTS = 3;
const STOP_WAIT_MS = 15_000;

/** Starts ZooKeeper and a Kafka 2.3 broker in a temp dir and creates `topics` (1 partition each) before returning. */
export async function startLegacyKafka(opts: { topics?: string[] } = {}): Promise<RealKafka> {
  if (!existsSync(LIBS) || !readdirSync(LIBS).some((f) => /^kafka_2\.12-2\.3\..*\.jar$/.test(f)) || !existsSync(CLIENT_JAR)) {
    throw new Error(`Apache Kafka 2.3 is not installed in ${LIBS}: run scripts/kafka/install.sh`);
  }
  for (let attempt = 1; ; attempt++) {
    const { broker, exitStatus } = await launch();
    try {
      await waitUntilAnswering(broker, exitStatus);
    } catch (err) {
      const log = broker.logTail(40);
      await broker.stop();
      if (/Address already in use/.test(log) && attempt < START_ATTEMPTS) continue;
      throw new Error(`Kafka 2.3 broker did not start: ${(err as Error).message}\n--- logs ---\n${log}`);
    }
    try {
      const topics = opts.topics ?? [];
      if (topics.length > 0) await setUp(['create-topics', '--bootstrap', broker.bootstrap, ...topics.flatMap((t) => ['--topic', t])]);
    } catch (err) {
      await broker.stop();
      throw err;
    }
    return broker;
  }
}

async function launch(): Promise<{ broker: RealKafka; exitStatus: () => string | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-kafka23-'));
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const [port, zkPort] = (await freePorts(2)) as [number, number];
  const properties = join(dir, 'server.properties');
  writeFileSync(properties, serverProperties(dir, port, zkPort));
  const jvm = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', `-Dlog4j.configuration=file:${BROKER_LOG4J}`, `-Dkafka.logs.dir=${logs}`];
  // ZooKeeper's own main has no parent watchdog: the shell kills it once its stdin (this process's pipe) closes.
  const zkMain = ['java', '-Xmx128m', ...jvm, '-Dzookeeper.admin.enableServer=false', '-cp', `${LIBS}/*`, 'org.apache.zookeeper.server.ZooKeeperServerMain', String(zkPort), join(dir, 'zookeeper')];
  const zookeeper = startJvm('sh', ['-c', `${zkMain.map(shellQuote).join(' ')} </dev/null & zk=$!; cat >/dev/null; kill $zk; wait $zk`], join(logs, 'zookeeper.log'));
  const kafka = startJvm('java', ['-Xms256m', '-Xmx512m', '-Djava.awt.headless=true', ...jvm, '-cp', `${CLIENT_JAR}:${LIBS}/*`, 'portcullis.kafka.BrokerMain', properties], join(logs, 'console.log'));

  let stopped: Promise<void> | undefined;
  const broker: RealKafka = {
    bootstrap: `${HOST}:${port}`,
    host: HOST,
    port,
    pid: kafka.child.pid,
    dir,
    logTail: (lines = 30) => tail(join(logs, 'server.log'), lines) + tail(join(logs, 'console.log'), lines) + tail(join(logs, 'zookeeper.log'), lines),
    stop() {
      stopped ??= (async () => {
        await terminate(kafka.child, kafka.exited);
        zookeeper.child.stdin!.end(); // the shell kills ZooKeeper and exits; signalled sooner, it could not
        await Promise.race([zookeeper.exited, sleep(STOP_WAIT_MS)]);
        await terminate(zookeeper.child, zookeeper.exited);
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  return { broker, exitStatus: () => kafka.status() ?? (zookeeper.status() && `ZooKeeper ${zookeeper.status()}`) };
}

function serverProperties(dir: string, port: number, zkPort: number): string {
  return `broker.id=1
listeners=PLAINTEXT://${HOST}:${port}
advertised.listeners=PLAINTEXT://${HOST}:${port}
zookeeper.connect=${HOST}:${zkPort}
log.dirs=${join(dir, 'data')}
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
`;
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
