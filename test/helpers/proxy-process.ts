// The built proxy (`portcullis run`) as a child process, for tests that must measure its memory from the
// outside (an attack that grows the heap would take the test process down with it) or keep its CPU apart from
// the clients'.
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
  close(): Promise<void>;
}

/** Starts `portcullis run` on `config` (portcullis.yaml text; listeners on port 0; `flows`/`admin` off). */
export async function startProxyProcess(config: string): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-proc-'));
  writeFileSync(join(dir, 'portcullis.yaml'), config);
  const child: ChildProcess = spawn(process.execPath, [packageFile('dist', 'src', 'cli', 'main.js'), 'run', '--no-watch', '-c', join(dir, 'portcullis.yaml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let exited = false;
  child.stderr!.on('data', (d) => (stderr += d));
  child.once('exit', () => (exited = true));
  let address: string | undefined;
  for (let i = 0; i < 200 && address === undefined && !exited; i++) {
    await sleep(25);
    address = /"address":"([\d.]+:\d+)".*"msg":"listening"/.exec(stderr)?.[1];
  }
  if (address === undefined) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`the proxy did not start:\n${stderr}`);
  }
  const [host, port] = address.split(':');
  const pid = child.pid!;
  return {
    pid,
    host: host!,
    port: Number(port),
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024,
    cpuMs: () => {
      // Fields 14 and 15 of /proc/PID/stat, after the parenthesised command name; in clock ticks (100 a second on Linux).
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    },
    alive: () => !exited,
    log: () => stderr,
    async close() {
      if (!exited) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
