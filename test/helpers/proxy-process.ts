// Portcullis as a child process (the built CLI), for tests that watch the proxy's own CPU and memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageFile } from '../../src/demo/package-root.js';

export interface ProxyProcess {
  readonly port: number;
  readonly pid: number;
  /** Resident set size, bytes (from /proc). */
  rssBytes(): number;
  /** CPU time used so far (user + system), ms (from /proc; Linux clock ticks are 10 ms). */
  cpuMs(): number;
  /** Whether it is still running. */
  alive(): boolean;
  stop(): Promise<void>;
}

/**
 * Starts `portcullis run` on a config whose `listeners:` section is `listeners` (YAML) and whose policy folder
 * holds `policy`, with a capped heap so a runaway fails fast instead of taking the machine's memory.
 */
export async function startProxyProcess(o: { endpoints: string; listeners: string; policy: string; maxHeapMb?: number }): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-proc-'));
  writeFileSync(join(dir, 'policy.yaml'), o.policy);
  writeFileSync(join(dir, 'portcullis.yaml'), `policies: ${JSON.stringify(join(dir, 'policy.yaml'))}\nadmin: off\nflows: "off"\nendpoints:\n${o.endpoints}\nlisteners:\n${o.listeners}\n`);
  const child: ChildProcess = spawn(
    process.execPath,
    [`--max-old-space-size=${o.maxHeapMb ?? 256}`, packageFile('dist', 'src', 'cli', 'main.js'), 'run', '--no-watch', '-c', join(dir, 'portcullis.yaml')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 10_000;
  let address: RegExpExecArray | null = null;
  while (!(address = /"address":"[\d.]+:(\d+)"/.exec(stderr)) && !exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (address === null) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`portcullis did not start: ${stderr}`);
  }
  const pid = child.pid!;
  const proc = (file: string) => readFileSync(`/proc/${pid}/${file}`, 'utf8');
  return {
    port: Number(address[1]),
    pid,
    rssBytes: () => Number(/VmRSS:\s+(\d+) kB/.exec(proc('status'))![1]) * 1024,
    cpuMs: () => {
      // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
      const stat = proc('stat');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    },
    alive: () => !exited,
    async stop() {
      if (!exited) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
