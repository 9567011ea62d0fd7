// A real Apache Kafka broker (KRaft, one node that is broker and controller) on 127.0.0.1 for interop tests,
// plus the Java reference client, both from the jars scripts/kafka/install.sh assembles in .interop/kafka/.
// Missing jars are an error, never a skip: CI installs them, and a silently skipped interop test proves nothing.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { packageFile } from '../../src/package-root.js';

const KAFKA_DIR = packageFile('.interop', 'kafka');
const LIBS = join(KAFKA_DIR, 'libs');
export const CLIENT_JAR = join(KAFKA_DIR, 'interop-client.jar');
const classpath = `${CLIENT_JAR}:${join(LIBS, '*')}`;
export const BROKER_LOG4J = packageFile('scripts', 'kafka', 'log4j-broker.properties');
const CLIENT_LOG4J = packageFile('scripts', 'kafka', 'log4j-client.properties');

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;
const START_ATTEMPTS = 3;

export interface RealKafka {
  /** "127.0.0.1:<port>", the broker's advertised PLAINTEXT listener. */
  readonly bootstrap: string;
  readonly host: string;
  readonly port: number;
  /** With `tls`: the advertised SSL listener's port (on `host`). */
  readonly tlsPort?: number;
  /** With `sasl`: the advertised SASL_PLAINTEXT listener's port (on `host`). */
  readonly saslPort?: number;
  /** With `sasl` and `tls`: the advertised SASL_SSL listener's port (on `host`). */
  readonly saslSslPort?: number;
  /** The broker JVM's process id (for CPU accounting in benchmarks). */
  readonly pid: number | undefined;
  /** The broker's temp dir (server.properties, data/, logs/server.log); removed by stop(). */
  readonly dir: string;
  /** Last lines of logs/server.log and of the JVM console output, for messages when something goes wrong. */
  logTail(lines?: number): string;
  /** SIGTERM, then SIGKILL after 15 s; removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * A Kafka ACL for every principal (on PLAINTEXT all clients are User:ANONYMOUS, so the source address is what
 * tells them apart: give the client its own with --local-address). The broker itself connects from 127.0.0.1:
 * leave that host allowed on the cluster.
 */
export interface KafkaAcl {
  readonly permission: 'allow' | 'deny';
  /** A client's source address, or '*'. */
  readonly host: string;
  /** A Kafka AclOperation name: READ, WRITE, DESCRIBE, CREATE, ALL, ... */
  readonly operation: string;
  readonly resource: 'topic' | 'group' | 'cluster';
  /** Topic or group name; 'kafka-cluster' for the cluster. */
  readonly name: string;
}

/** PEM files for the broker's SSL listener. */
export interface KafkaTls {
  /** The server certificate, then its chain. */
  readonly certFile: string;
  /** Its private key: unencrypted PKCS#8 ("BEGIN PRIVATE KEY"), as `portcullis certs issue` writes it. */
  readonly keyFile: string;
  /** The CA that verifies client certificates (needed with `clientAuth`). */
  readonly caFile?: string;
  readonly clientAuth?: 'required' | 'requested';
}

/** A SASL_PLAINTEXT listener with the PLAIN mechanism. */
export interface KafkaSasl {
  /** The users it accepts: name → password (no quotes or backslashes). */
  readonly users: Readonly<Record<string, string>>;
}

/** PEM files for the Java client's --tls-ca / --tls-cert / --tls-key (see ClientConfigs.java). */
export interface JavaClientTls {
  /** The CA the broker's certificate must verify against (hostname verification stays on). */
  readonly caFile: string;
  /** A client certificate and its key, both or neither. */
  readonly certFile?: string;
  readonly keyFile?: string;
}

/** One JSON line printed by the Java InteropClient (see scripts/kafka/src/.../InteropClient.java). */
export interface JavaClientOutcome {
  readonly type: 'produced' | 'consumed' | 'topic' | 'created' | 'acl' | 'error' | 'summary';
  readonly [field: string]: unknown;
}

export function assertKafkaInstalled(): void {
  const broker = existsSync(LIBS) && readdirSync(LIBS).some((f) => /^kafka_2\.13-.*\.jar$/.test(f));
  if (!broker || !existsSync(CLIENT_JAR)) {
    throw new Error(`Apache Kafka is not installed in ${KAFKA_DIR}: run scripts/kafka/install.sh`);
  }
}

/**
 * Starts a fresh single-node broker in a temp dir and creates `topics` (1 partition each) before returning.
 * With `acls` the broker runs Kafka's StandardAuthorizer (resources without ACLs stay open to everyone) and
 * returns once every ACL is enforced, so the real broker answers with its own authorization errors.
 * With `tls` it also serves an SSL listener on `tlsPort`, with `sasl` a SASL_PLAINTEXT listener (PLAIN) on
 * `saslPort`, and with both a SASL_SSL listener on `saslSslPort`; topics and ACLs are still set up over PLAINTEXT.
 */
export async function startRealKafka(opts: { topics?: string[]; acls?: KafkaAcl[]; tls?: KafkaTls; sasl?: KafkaSasl } = {}): Promise<RealKafka> {
  assertKafkaInstalled();
  if (opts.tls?.clientAuth !== undefined && opts.tls.caFile === undefined) throw new Error('tls.clientAuth needs tls.caFile');
  for (let attempt = 1; ; attempt++) {
    const { broker, exitStatus } = await launchBroker(opts.acls !== undefined, opts.tls, opts.sasl);
    try {
      await waitUntilAnswering(broker, exitStatus);
    } catch (err) {
      const log = broker.logTail(40);
      await broker.stop();
      // The ports were free when chosen but the broker binds them later: another test may have taken one.
      if (/Address already in use/.test(log) && attempt < START_ATTEMPTS) continue;
      throw new Error(`Kafka broker did not start: ${(err as Error).message}\n--- broker log ---\n${log}`);
    }
    try {
      const topics = opts.topics ?? [];
      if (topics.length > 0) await setUp(['create-topics', '--bootstrap', broker.bootstrap, ...topics.flatMap((t) => ['--topic', t])]);
      const acls = (opts.acls ?? []).map((a) => [a.permission, a.host, a.operation, a.resource, a.name].join(','));
      if (acls.length > 0) await setUp(['acls', '--bootstrap', broker.bootstrap, ...acls.flatMap((a) => ['--acl', a])]);
    } catch (err) {
      await broker.stop();
      throw err;
    }
    return broker;
  }
}

async function launchBroker(authorizer: boolean, tls: KafkaTls | undefined, sasl: KafkaSasl | undefined): Promise<{ broker: RealKafka; exitStatus: () => string | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-kafka-'));
  const logs = join(dir, 'logs');
  const properties = join(dir, 'server.properties');
  const jvm = [`-Dlog4j.configuration=file:${BROKER_LOG4J}`, `-Dkafka.logs.dir=${logs}`, '-cp', classpath];
  let port: number;
  let tlsPort: number | undefined;
  let saslPort: number | undefined;
  let saslSslPort: number | undefined;
  try {
    mkdirSync(logs);
    const [brokerPort, controllerPort, ...more] = await freePorts(2 + (tls ? 1 : 0) + (sasl ? 1 : 0) + (tls && sasl ? 1 : 0));
    port = brokerPort!;
    if (tls) tlsPort = more.shift();
    if (sasl) saslPort = more.shift();
    if (tls && sasl) saslSslPort = more.shift();
    let ssl: SslListener | undefined;
    if (tls) {
      // Kafka's file-based PEM keystore is one file holding the key and the certificate chain.
      const keystore = join(dir, 'ssl-keystore.pem');
      writeFileSync(keystore, readFileSync(tls.keyFile, 'utf8') + readFileSync(tls.certFile, 'utf8'), { mode: 0o600 });
      ssl = { port: tlsPort!, keystore, caFile: tls.caFile, clientAuth: tls.clientAuth };
    }
    const plain = sasl && { port: saslPort!, users: sasl.users, sslPort: saslSslPort };
    writeFileSync(properties, serverProperties({ dir, port, controllerPort: controllerPort!, authorizer, ssl, sasl: plain }));
    // A short-lived JVM: C1 only and the serial GC start faster on a busy machine.
    await run('java', ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', ...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', properties], 60_000);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  // BrokerMain runs kafka.Kafka and exits when its stdin closes: the pipe ends with this process, however it ends.
  const kafka = startJvm('java', ['-Xms512m', '-Xmx512m', '-Djava.awt.headless=true', ...jvm, 'portcullis.kafka.BrokerMain', properties], join(logs, 'console.log'));
  const child = kafka.child;

  let stopped: Promise<void> | undefined;
  const broker: RealKafka = {
    bootstrap: `${HOST}:${port}`,
    host: HOST,
    port,
    ...(tlsPort !== undefined && { tlsPort }),
    ...(saslPort !== undefined && { saslPort }),
    ...(saslSslPort !== undefined && { saslSslPort }),
    pid: child.pid,
    dir,
    logTail: (lines = 30) => tail(join(logs, 'server.log'), lines) + tail(join(logs, 'console.log'), lines),
    stop() {
      stopped ??= (async () => {
        await terminate(child, kafka.exited);
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  return { broker, exitStatus: kafka.status };
}

export interface Jvm {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  status(): string | undefined;
}

/** A JVM whose output goes to `logFile`; neither it nor its stdin pipe keeps a test process alive (a forgotten stop() ends with the test file). */
export function startJvm(command: string, args: readonly string[], logFile: string): Jvm {
  const log = openSync(logFile, 'a');
  const child = spawn(command, args, { stdio: ['pipe', log, log] });
  closeSync(log);
  child.unref();
  (child.stdin as Socket).unref();
  let status: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      status = signal ? `killed by ${signal}` : `exited with status ${code}`;
      resolve();
    }),
  );
  return { child, exited, status: () => status };
}

interface SslListener {
  readonly port: number;
  /** The PEM file with key and certificate chain. */
  readonly keystore: string;
  readonly caFile: string | undefined;
  readonly clientAuth: 'required' | 'requested' | undefined;
}

interface SaslListener {
  readonly port: number;
  readonly users: Readonly<Record<string, string>>;
  /** The SASL_SSL listener's port, when the broker also has an SSL listener whose keystore it shares. */
  readonly sslPort: number | undefined;
}

function serverProperties(o: { dir: string; port: number; controllerPort: number; authorizer: boolean; ssl?: SslListener; sasl?: SaslListener }): string {
  // Client listeners beside PLAINTEXT; each is named after its security protocol.
  const extra = [
    ...(o.ssl ? [['SSL', o.ssl.port] as const] : []),
    ...(o.sasl ? [['SASL_PLAINTEXT', o.sasl.port] as const] : []),
    ...(o.ssl && o.sasl?.sslPort !== undefined ? [['SASL_SSL', o.sasl.sslPort] as const] : []),
  ];
  const listeners = extra.map(([name, port]) => `,${name}://${HOST}:${port}`).join('');
  return `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${o.controllerPort}
listeners=PLAINTEXT://${HOST}:${o.port},CONTROLLER://${HOST}:${o.controllerPort}${listeners}
advertised.listeners=PLAINTEXT://${HOST}:${o.port}${listeners}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${extra.map(([name]) => `,${name}:${name}`).join('')}
log.dirs=${join(o.dir, 'data')}
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
# Internal topics with one partition and one replica: a single node, and a much faster first group join.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
${o.authorizer ? 'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\nallow.everyone.if.no.acl.found=true\n' : ''}${listenerProperties(o.ssl, o.sasl)}`;
}

/** Settings of the SSL and SASL listeners only, so PLAINTEXT (inter-broker) and CONTROLLER stay as they are. */
function listenerProperties(ssl: SslListener | undefined, sasl: SaslListener | undefined): string {
  const lines: string[] = [];
  if (ssl) lines.push(...sslProperties('ssl', ssl));
  if (sasl) lines.push(...saslProperties('sasl_plaintext', sasl));
  if (ssl && sasl?.sslPort !== undefined) lines.push(...sslProperties('sasl_ssl', ssl), ...saslProperties('sasl_ssl', sasl));
  return lines.map((l) => l + '\n').join('');
}

/** PLAIN on one listener, its users in the broker's JAAS entry (user_NAME="PASSWORD"). */
function saslProperties(listener: string, sasl: SaslListener): string[] {
  const users = Object.entries(sasl.users).map(([name, password]) => {
    if (/["\\\s]/.test(name + password)) throw new Error(`SASL user ${name}: no quotes, backslashes or spaces`);
    return ` user_${name}="${password}"`;
  });
  return [
    `listener.name.${listener}.sasl.enabled.mechanisms=PLAIN`,
    `listener.name.${listener}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required${users.join('')};`,
  ];
}

function sslProperties(listener: string, ssl: SslListener): string[] {
  const lines = [`listener.name.${listener}.ssl.keystore.type=PEM`, `listener.name.${listener}.ssl.keystore.location=${ssl.keystore}`];
  if (ssl.caFile !== undefined) lines.push(`listener.name.${listener}.ssl.truststore.type=PEM`, `listener.name.${listener}.ssl.truststore.location=${ssl.caFile}`);
  if (ssl.clientAuth !== undefined) lines.push(`listener.name.${listener}.ssl.client.auth=${ssl.clientAuth}`);
  return lines;
}

/** A random cluster id as Kafka writes one (URL-safe base64 of 16 bytes, no padding, never starting with '-'). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * Polls with an ApiVersions v0 request: the broker opens its client listener only once it is fully started.
 * Then, with an SSL listener, until a TLS handshake on it completes.
 */
export async function waitUntilAnswering(broker: RealKafka, exitStatus: () => string | undefined): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const probes: [string, () => Promise<boolean>][] = [['ApiVersions answer', () => answersApiVersions(broker.host, broker.port)]];
  if (broker.tlsPort !== undefined) probes.push(['TLS handshake on the SSL listener', () => completesTlsHandshake(broker.host, broker.tlsPort!)]);
  // A SASL listener answers ApiVersions before authentication, as clients need it to pick their SaslHandshake.
  if (broker.saslPort !== undefined) probes.push(['ApiVersions answer on the SASL listener', () => answersApiVersions(broker.host, broker.saslPort!)]);
  if (broker.saslSslPort !== undefined) probes.push(['TLS handshake on the SASL_SSL listener', () => completesTlsHandshake(broker.host, broker.saslSslPort!)]);
  for (const [what, probe] of probes) {
    for (;;) {
      if (await probe()) break;
      const status = exitStatus();
      if (status) throw new Error(`the broker process ${status}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${READY_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * The kernel accepts TCP connections on a bound port before Kafka serves it; a handshake needs Kafka itself.
 * Unverified: this only asks whether the listener is up (clients verify). Under TLS 1.3 the client side completes
 * before the server checks a client certificate, so this also succeeds with client auth required.
 */
function completesTlsHandshake(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port, rejectUnauthorized: false });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('secureConnect', () => done(true));
  });
}

function answersApiVersions(host: string, port: number): Promise<boolean> {
  const clientId = Buffer.from('portcullis-ready-probe');
  const request = Buffer.alloc(4 + 10 + clientId.length);
  request.writeInt32BE(request.length - 4, 0);
  request.writeInt16BE(18, 4); // ApiVersions
  request.writeInt16BE(0, 6); // v0: no body, response header v0
  request.writeInt32BE(0x7e57, 8); // correlation id
  request.writeInt16BE(clientId.length, 12);
  clientId.copy(request, 14);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      // size(4) correlation id(4) error code(2): enough to know the broker answered for real.
      if (received.length >= 10) done(received.readInt32BE(4) === 0x7e57 && received.readInt16BE(8) === 0);
    });
  });
}

export async function setUp(args: string[]): Promise<void> {
  const outcomes = await runJavaClient(args);
  if (outcomes.at(-1)?.['ok'] !== true) throw new Error(`InteropClient ${args.join(' ')} failed: ${JSON.stringify(outcomes)}`);
}

/**
 * `java` arguments that run the InteropClient with `args`. Short-lived runs (tests) start faster with C1 only, the
 * serial GC and a small heap; a long-lived one (the benchmark's load generator) gets the JVM's default JIT and GC.
 */
export function javaClientArgs(kind: 'short-lived' | 'long-lived', args: readonly string[]): string[] {
  return [
    ...(kind === 'short-lived' ? ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx256m'] : ['-Xmx1g']),
    `-Dlog4j.configuration=file:${CLIENT_LOG4J}`,
    // Lets --local-address bind the client's sockets (see BindingSelectorProvider.java).
    '-Djava.nio.channels.spi.SelectorProvider=portcullis.kafka.BindingSelectorProvider',
    '--add-exports=java.base/sun.nio.ch=ALL-UNNAMED',
    '-cp',
    classpath,
    'portcullis.kafka.InteropClient',
    ...args,
  ];
}

/**
 * Runs the Java InteropClient with `args` (e.g. ['produce', '--bootstrap', b, '--topic', t, '--count', '10'])
 * and returns its JSON lines, the last being the "summary". A client-side failure (denied, timed out) is an
 * outcome, not a rejection; the promise rejects only for a bad command line, a non-JSON line on stdout, a missing
 * summary or a run that outlives its --timeout-ms by a minute. With `tls` the client connects with SSL.
 */
export async function runJavaClient(args: string[], opts: { tls?: JavaClientTls } = {}): Promise<JavaClientOutcome[]> {
  assertKafkaInstalled();
  if (opts.tls) args = [...args, ...javaTlsArgs(opts.tls)];
  const timeoutIndex = args.indexOf('--timeout-ms');
  const given = timeoutIndex >= 0 ? Number(args[timeoutIndex + 1]) : NaN;
  const clientTimeout = Number.isFinite(given) && given > 0 ? given : 30_000;
  const { stdout, stderr, code } = await run('java', javaClientArgs('short-lived', args), clientTimeout + 60_000, true);
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const outcomes = lines.map((line) => {
    try {
      return JSON.parse(line) as JavaClientOutcome;
    } catch {
      throw new Error(`InteropClient printed a non-JSON line: ${line}\nstderr:\n${stderr}`);
    }
  });
  if (code === 2 || outcomes.at(-1)?.type !== 'summary') {
    const why = code === 2 ? 'rejected its command line' : `exited ${code} without a summary`;
    throw new Error(`InteropClient ${args.join(' ')} ${why}: ${stdout}\nstderr:\n${stderr}`);
  }
  return outcomes;
}

/** InteropClient itself rejects a certificate without its key (or the reverse) as a bad command line. */
function javaTlsArgs(tls: JavaClientTls): string[] {
  const args = ['--tls-ca', tls.caFile];
  if (tls.certFile !== undefined) args.push('--tls-cert', tls.certFile);
  if (tls.keyFile !== undefined) args.push('--tls-key', tls.keyFile);
  return args;
}

function run(cmd: string, args: string[], timeoutMs: number, allowFailure = false): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (err && (!allowFailure || err.killed || code === -1)) {
        reject(new Error(`${cmd} ${args.slice(-6).join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      } else {
        resolve({ stdout, stderr, code });
      }
    });
  });
}

/** Ports the OS considers free right now (listen on 0, close). The broker binds them a moment later. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<Server>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, HOST, () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  // A referenced timer: the child is unref'd, so this keeps the process alive until the broker is gone.
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), STOP_TIMEOUT_MS)));
  const outcome = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

export function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '';
  }
}
