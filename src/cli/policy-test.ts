// `portcullis test`: policy unit tests. Expectation files (expectations.ts) are run offline against the config
// and policies with trace's decision code, and each case's outcome is what a client would observe (a reset, a
// 403, gRPC status 7, Kafka error 29), so a policy change that silently opens or closes traffic fails CI.
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { EndpointConfig, ListenerConfig, PortcullisConfig } from '../config/types.js';
import { EXPECTATION_FILE } from '../policy/load.js';
import { formatSourceError, type Peer, type PolicySnapshot, type SourceError } from '../policy/types.js';
import { compileConfig } from '../runtime/compile.js';
import { policyOnlyConfig } from './check.js';
import { LISTENER_KINDS, readExpectationFile, type ExpectationCase, type ExpectationGroup, type Expected } from './expectations.js';
import { junitXml, type JunitCase } from './junit.js';
import { decideOffline, decidingRules, describeRule, resolvePeer, routeTo, syntheticEndpoint, throughForward, UsageError } from './offline-decision.js';
import { describeAnswer, proxyAnswer, type ListenerKind, type ProxyAnswer } from './proxy-answer.js';

export interface TestOptions {
  config?: string;
  junit?: string;
}

/** Every expectation file under `dir`, sorted. */
function expectationFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => EXPECTATION_FILE.test(f)).sort().map((f) => join(dir, f));
}

/** The files given (folders searched), or those beside the config's policies. */
function findFiles(paths: readonly string[], config: PortcullisConfig): string[] {
  const roots = paths.length > 0 ? paths : [...new Set(config.policies.map((p) => (existsSync(p) && statSync(p).isDirectory() ? p : dirname(p))))];
  return roots.flatMap((p) => (existsSync(p) && statSync(p).isDirectory() ? expectationFiles(p) : [p]));
}

/** Paths under the working folder relative (as CI reporters show them), others as they are. */
function shown(file: string): string {
  const r = relative(process.cwd(), file);
  return r.startsWith('..') || isAbsolute(r) ? file : r;
}

function matches(expected: Expected, got: ProxyAnswer): boolean {
  if (expected.kind === 'denied') return got.kind !== 'allowed' && (expected.code === undefined || (got.kind === 'denied' && got.code === expected.code));
  return expected.kind === got.kind;
}

function describeExpected(e: Expected): string {
  return e.kind === 'denied' && e.code !== undefined ? `denied (${e.code})` : e.kind;
}

/** The listener a case goes through: `via` (a name or a protocol), else where trace routes its destination. */
function listenerFor(c: ExpectationCase, config: PortcullisConfig, snapshot: PolicySnapshot, destination: Peer): { kind?: ListenerKind; listener?: ListenerConfig; destination: Peer } {
  if (c.via) {
    const named = config.listeners.find((l) => l.name === c.via!.value);
    if (named) return { kind: named.protocol, listener: named, destination: named.protocol === 'forward' ? throughForward(named, snapshot, destination) : destination };
    const kind = LISTENER_KINDS.find((k) => k === c.via!.value);
    if (kind) return { kind, destination };
    throw new UsageError(`via "${c.via.value}": not a listener of ${config.file} nor one of ${LISTENER_KINDS.join(', ')}`);
  }
  const routed = routeTo(config, snapshot, destination);
  return { ...(routed.listener ? { kind: routed.listener.protocol, listener: routed.listener } : {}), destination: routed.destination };
}

interface CaseResult {
  readonly c: ExpectationCase;
  readonly passed: boolean;
  /** What happened, and why when it was not what was expected. */
  readonly summary: string;
  readonly details: readonly string[];
  /** The case could not be run: why, located at the field at fault. */
  readonly error?: string;
}

/** Runs `fn`; a usage error it throws is re-thrown located at `at` (the field at fault). */
function locate<T>(at: SourceError, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(formatSourceError({ ...at, message: e.message }), { cause: e });
    throw e;
  }
}

function runCase(c: ExpectationCase, config: PortcullisConfig, snapshot: PolicySnapshot, synthetic: ReadonlyMap<string, EndpointConfig>): CaseResult {
  const source = locate(c.from.at, () => resolvePeer(snapshot, 'from', 'from', c.from.value, synthetic.get(c.from.value)));
  const to = locate(c.to.at, () => resolvePeer(snapshot, 'to', 'to', c.to.value, synthetic.get(c.to.value)));
  const { kind, listener, destination } = locate(c.via?.at ?? c.at, () => listenerFor(c, config, snapshot, to));
  const port = c.port ?? (kind !== 'forward' ? listener?.port : undefined);
  if (port === undefined) throw new UsageError(formatSourceError({ ...c.at, message: `port is required: no listener fronts "${c.to.value}"` }));
  const r = c.request;
  const decision = decideOffline(snapshot, {
    source, destination, port,
    ...(c.sni ? { sni: c.sni } : {}),
    ...(kind === 'forward' ? { forwardClients: listener?.forward?.allowUnselectedClients ? 'any' : 'selected' } : {}),
    ...(r.type === 'http' || r.type === 'grpc' ? { http: r.facts } : r.type === 'kafka' ? { kafka: r.facts } : {}),
  } as const);
  const answer = proxyAnswer(kind, r.type === 'kafka' ? { type: 'kafka', topics: r.facts.topics, groupIds: r.groupIds } : { type: r.type }, decision);
  const passed = matches(c.expect, answer);
  if (passed) return { c, passed, summary: describeAnswer(answer), details: [] };
  const d = decision.final;
  const rules = decidingRules(d);
  // An L7 denial has no deny rule: the port rules whose L7 rules did not match are what decided it.
  if (!d.allowed && d.deniedBy.length === 0) rules.push(...d.allowedBy.filter((ref) => !d.reason.includes(`${ref.file}:${ref.line}`)).map((ref) => `L7 rules not matched: ${describeRule(ref)}`));
  return { c, passed, summary: `expected ${describeExpected(c.expect)}, got ${describeAnswer(answer)} (${d.verdict})`, details: [d.reason, ...rules] };
}

/** The result of a case that could not be run because of the (located) usage error `e`. */
function notRun(c: ExpectationCase, e: unknown): CaseResult {
  if (!(e instanceof UsageError)) throw e;
  return { c, passed: false, summary: e.message, details: [], error: e.message };
}

/** Compiles the config (with the group's policies, if it names them) and runs the group's cases. */
function runGroup(g: ExpectationGroup, config: PortcullisConfig): { results: CaseResult[]; errors: SourceError[] } {
  // Label-set peers become endpoints of their own, one per distinct label set.
  const synthetic = new Map<string, EndpointConfig>();
  const invalid = new Map<ExpectationCase, CaseResult>();
  for (const c of g.cases) {
    try {
      for (const peer of [c.from, c.to]) {
        const ep = locate(peer.at, () => syntheticEndpoint(peer.value, peer.value, c.namespace, g.file));
        if (ep) synthetic.set(peer.value, { ...ep, line: peer.at.line });
      }
    } catch (e) {
      invalid.set(c, notRun(c, e));
    }
  }
  const policies = g.policies ?? config.policies;
  // Without policies everything is allowed, and every `allowed` case would pass for nothing.
  if (policies.length === 0) return { results: [], errors: [{ file: g.file, line: 1, column: 1, path: 'policies', message: 'no policies to test: name them here (`policies:`) or give a config that does (-c)' }] };
  const { compiled, errors } = compileConfig({ ...config, policies }, { revision: 1, extraEndpoints: [...synthetic.values()] });
  if (compiled === undefined) return { results: [], errors };
  const results = g.cases.map((c) => {
    try {
      return invalid.get(c) ?? runCase(c, config, compiled.snapshot, synthetic);
    } catch (e) {
      return notRun(c, e);
    }
  });
  return { results, errors };
}

function loadTestConfig(file: string | undefined): { config?: PortcullisConfig; errors: SourceError[] } {
  const configFile = file ?? (existsSync('portcullis.yaml') ? 'portcullis.yaml' : undefined);
  if (configFile === undefined) return { config: policyOnlyConfig(), errors: [] };
  return loadConfig(configFile);
}

export function runTests(paths: string[], o: TestOptions): number {
  const loaded = loadTestConfig(o.config);
  const fail = (errors: readonly SourceError[]) => {
    for (const e of errors) process.stderr.write(`${formatSourceError(e)}\n`);
    process.stderr.write(`${errors.length} error${errors.length === 1 ? '' : 's'}\n`);
    return 1;
  };
  if (loaded.config === undefined) return fail(loaded.errors);
  const config = loaded.config;
  const files = findFiles(paths, config);
  if (files.length === 0) throw new UsageError(`no expectation files (*.expect.yaml) in ${paths.length > 0 ? paths.join(', ') : "the config's policy folders"}`);
  const parsed = files.map((f) => readExpectationFile(f));
  const parseErrors = parsed.flatMap((p) => p.errors);
  if (parseErrors.length > 0) return fail(parseErrors);

  const suites = new Map<string, JunitCase[]>();
  let passed = 0;
  let failedCount = 0;
  for (const group of parsed.flatMap((p) => p.groups)) {
    const { results, errors } = runGroup(group, config);
    if (errors.length > 0) return fail(errors);
    const name = shown(group.file);
    const suite = suites.get(name) ?? [];
    suites.set(name, suite);
    for (const r of results) {
      if (r.passed) passed++;
      else failedCount++;
      const where = `${shown(r.c.at.file)}:${r.c.at.line}`;
      process.stdout.write(`${r.passed ? 'PASS' : 'FAIL'} ${where} ${r.c.title}: ${r.error ?? r.summary}\n`);
      for (const line of r.details) process.stdout.write(`     ${line}\n`);
      const jc = { name: r.c.title, classname: name };
      suite.push(r.passed ? jc : r.error !== undefined ? { ...jc, error: r.error } : { ...jc, failure: { message: r.summary, details: [where, ...r.details].join('\n') } });
    }
  }
  process.stdout.write(`${passed} passed, ${failedCount} failed (${files.length} file${files.length === 1 ? '' : 's'})\n`);
  if (o.junit !== undefined) {
    try {
      writeFileSync(o.junit, junitXml(suites));
    } catch (e) {
      throw new UsageError(`--junit: cannot write ${o.junit}: ${(e as Error).message}`, { cause: e });
    }
  }
  return failedCount > 0 ? 1 : 0;
}
