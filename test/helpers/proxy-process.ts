// The built proxy (`portcullis run`) as a child process, for tests that must measure its memory and CPU from the
// outside (an attack that grows the heap would take the test process down with it) or keep its event loop apart
// from the clients'. Its heap is capped, so a runaway fails fast instead of taking the machine's memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageFile } from '../../src/package-root.js';
import { waitUntil } from './wait.js';

export interface ProxyProcess {
  readonly pid: number;
  /** The first listener's address. */
  readonly host: string;
  readonly port: number;
  /** Resident set size now, bytes (Linux /proc). */
  rss(): number;
  /** CPU time used so far (user + system), ms (Linux /proc). */
  cpuMs(): number;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Settles when the proxy (the primary, with workers) has exited. */
  readonly exited: Promise<ProxyExit>;
  /** The pids of this run's processes still running: the proxy and, with workers, every worker it forked. */
  processes(): number[];
  /** stderr so far (the JSON log). */
  log(): string;
  /** stdout so far (flow records with `flows: stdout`), when started with `captureStdout`. */
  stdout(): string;
  /** The folder holding portcullis.yaml and `files` (removed by close). */
  readonly dir: string;
  /** Sends a signal to the proxy (the primary, with workers). */
  signal(name: NodeJS.Signals): void;
  /** Kills the proxy and whatever of its run is left, and removes `dir`. */
  close(): Promise<void>;
}

export interface ProxyExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The proxy exited or did not serve in time; `exit` is undefined when it had to be killed. `dir` names the run (runProcesses). */
export class ProxyStartFailure extends Error {
  constructor(
    readonly dir: string,
    readonly stderr: string,
    readonly exit: ProxyExit | undefined,
  ) {
    super(`the proxy did not start (${exit === undefined ? 'killed' : `exit ${exit.code ?? exit.signal}`}):\n${stderr}`);
  }
}

/** Marks the environment of a run's processes (workers inherit it), so that none can hide from processes(). */
const RUN_MARKER = 'PORTCULLIS_TEST_RUN';

/**
 * Starts `portcullis run` on `config` (portcullis.yaml text, listeners on port 0). `files` are written beside it
 * first (name → content), for policies the config names by relative path. `nodeArgs` go to node before the CLI.
 * `workers` is `--workers` (default 1: one process, whose memory and CPU the process's figures are); with more,
 * the figures are the primary's, and the test reads the workers through the admin endpoint.
 */
export async function startProxyProcess(
  config: string,
  o: { files?: Record<string, string>; maxHeapMb?: number; nodeArgs?: readonly string[]; workers?: number; captureStdout?: boolean } = {},
): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-proc-'));
  for (const [name, content] of Object.entries(o.files ?? {})) writeFileSync(join(dir, name), content);
  writeFileSync(join(dir, 'portcullis.yaml'), config);
  const child: ChildProcess = spawn(
    process.execPath,
    [`--max-old-space-size=${o.maxHeapMb ?? 256}`, ...(o.nodeArgs ?? []), packageFile('dist', 'src', 'cli', 'main.js'), 'run', '--no-watch', '--workers', String(o.workers ?? 1), '-c', join(dir, 'portcullis.yaml')],
    { stdio: ['ignore', o.captureStdout === true ? 'pipe' : 'ignore', 'pipe'], env: { ...process.env, [RUN_MARKER]: dir } },
  );
  let stderr = '';
  let exit: ProxyExit | undefined;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const exitedP = new Promise<ProxyExit>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    }),
  );
  const exited = (): boolean => exit !== undefined;
  const close = async (): Promise<void> => {
    if (!exited()) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    // Workers end with the primary's IPC channel; one that does not (a test found such a bug) must not outlive
    // the test and hold its stderr pipe open.
    for (const pid of runProcesses(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // With workers, the proxy is up once the primary says every worker serves.
  const up = (): boolean => (o.workers ?? 1) === 1 || stderr.includes('"msg":"every worker is serving"');
  const listening = (): string | undefined => /"address":"([\d.]+:\d+)".*"msg":"listening"/.exec(stderr)?.[1];
  // Not serving in time is reported below as a ProxyStartFailure, with the proxy's stderr.
  await waitUntil('the proxy to serve or exit', () => (listening() !== undefined && up()) || exited(), 15_000, 25).catch(() => undefined);
  const address = listening();
  if (address === undefined || !up()) {
    await close();
    throw new ProxyStartFailure(dir, stderr, exit);
  }
  const [host, port] = address.split(':');
  const pid = child.pid!;
  const proc = (file: string): string => readFileSync(`/proc/${pid}/${file}`, 'utf8');
  return {
    pid,
    host: host!,
    port: Number(port),
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(proc('status'))![1]) * 1024,
    cpuMs: () => {
      // utime and stime are the 12th and 13th fields after the parenthesised command name, in clock ticks (100 a second).
      const stat = proc('stat');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    },
    alive: () => !exited(),
    exited: exitedP,
    processes: () => runProcesses(dir),
    log: () => stderr,
    stdout: () => stdout,
    dir,
    signal: (name) => child.kill(name),
    close,
  };
}

/** Running processes whose environment carries the marker of the run in `dir` (Linux /proc, own processes only). */
export function runProcesses(dir: string): number[] {
  const marker = Buffer.from(`\0${RUN_MARKER}=${dir}\0`);
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`)]).includes(marker);
      } catch {
        return false; // gone, or not ours
      }
    })
    .map(Number);
}
