// Child processes for benchmarks: each server gets its own process (and event loop), as in production.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Address {
  readonly host: string;
  readonly port: number;
}

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export function startChild(name: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Child {
  return asChild(name, spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } }));
}

/** A started process as a Child whose stop() sends SIGTERM and waits for it to exit. */
export function asChild(name: string, child: ChildProcess): Child {
  return {
    name,
    process: child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Resolves once something accepts connections on host:port (or rejects after `timeoutMs`). */
export async function waitForPort(host: string, port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
}

/** waitForPort for a child just started: stops it when it never listens, so a failed start leaves nothing running. */
export async function waitForChild(child: Child, host: string, port: number): Promise<void> {
  try {
    await waitForPort(host, port);
  } catch (e) {
    await child.stop();
    throw e;
  }
}

/** A port that was free a moment ago (for child processes that need a fixed port on the command line). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * `pid` and its descendants (from Linux /proc; just `pid` elsewhere): a proxy such as nginx works in processes
 * its master forks, so its CPU and memory are the whole tree's.
 */
export function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // Not Linux, or the process is gone: no children to add.
  }
  return [pid, ...children.flatMap(processTree)];
}

/** The soft limit on open files of this process, which the children it starts inherit (Infinity off Linux). */
export function openFilesLimit(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null ? Infinity : Number(m[1]);
  } catch {
    return Infinity;
  }
}
