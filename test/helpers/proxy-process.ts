// The built proxy (`portcullis run`) as a child process, for tests that must measure its memory and CPU from the
// outside (an attack that grows the heap would take the test process down with it) or keep its event loop apart
// from the clients'. Its heap is capped, so a runaway fails fast instead of taking the machine's memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageFile } from '../../src/demo/package-root.js';

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
  /** stderr so far (the JSON log). */
  log(): string;
  /** The folder holding portcullis.yaml and `files` (removed by close). */
  readonly dir: string;
  /** Sends a signal to the proxy (the primary, with workers). */
  signal(name: NodeJS.Signals): void;
  close(): Promise<void>;
}

/**
 * Starts `portcullis run` on `config` (portcullis.yaml text, listeners on port 0). `files` are written beside it
 * first (name → content), for policies the config names by relative path. `nodeArgs` go to node before the CLI.
 * `workers` is `--workers` (default 1: one process, whose memory and CPU the process's figures are); with more,
 * the figures are the primary's, and the test reads the workers through the admin endpoint.
 */
export async function startProxyProcess(
  config: string,
  o: { files?: Record<string, string>; maxHeapMb?: number; nodeArgs?: readonly string[]; workers?: number } = {},
): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-proc-'));
  for (const [name, content] of Object.entries(o.files ?? {})) writeFileSync(join(dir, name), content);
  writeFileSync(join(dir, 'portcullis.yaml'), config);
  const child: ChildProcess = spawn(
    process.execPath,
    [`--max-old-space-size=${o.maxHeapMb ?? 256}`, ...(o.nodeArgs ?? []), packageFile('dist', 'src', 'cli', 'main.js'), 'run', '--no-watch', '--workers', String(o.workers ?? 1), '-c', join(dir, 'portcullis.yaml')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  let exited = false;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.once('exit', () => (exited = true));
  const close = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  let address: string | undefined;
  // With workers, the proxy is up once the primary says every worker serves.
  const up = (): boolean => (o.workers ?? 1) === 1 || stderr.includes('"msg":"every worker is serving"');
  for (let i = 0; i < 600 && (address === undefined || !up()) && !exited; i++) {
    await sleep(25);
    address = /"address":"([\d.]+:\d+)".*"msg":"listening"/.exec(stderr)?.[1];
  }
  if (address === undefined || !up()) {
    await close();
    throw new Error(`the proxy did not start:\n${stderr}`);
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
    alive: () => !exited,
    log: () => stderr,
    dir,
    signal: (name) => child.kill(name),
    close,
  };
}
