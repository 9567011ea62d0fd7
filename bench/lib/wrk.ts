// One bounded wrk run (Debian's wrk 4) and the figures we report from it, as autocannon-run.ts does for
// autocannon: wrk is C with its own event loop, so it takes less of the shared cores than autocannon.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadOptions, LoadResult } from './autocannon-run.js';

/** True when a `wrk` binary is on the PATH. */
export function wrkInstalled(): boolean {
  // wrk -v prints its version and exits 1.
  return spawnSync('wrk', ['-v'], { stdio: 'ignore' }).error === undefined;
}

/** Runs `wrk -t1 -c<connections> -d<seconds>s --latency` with a Lua script for the method, body and headers. */
export async function wrk(opts: LoadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-wrk-'));
  try {
    const script = join(dir, 'request.lua');
    writeFileSync(script, luaScript(opts));
    const args = ['-t1', `-c${opts.connections}`, `-d${opts.seconds}s`, '--latency', '-s', script, opts.url];
    const out = await new Promise<string>((resolve, reject) => {
      // Bounded: wrk ends by itself after `seconds`; the kill is for a wrk that hangs.
      const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'], timeout: (opts.seconds + 15) * 1000 });
      let text = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited with ${code}:\n${text}`))));
    });
    return parseWrk(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function luaScript(opts: LoadOptions): string {
  // JSON string literals are valid Lua string literals for the ASCII we send.
  const lines = [`wrk.method = ${JSON.stringify(opts.method ?? 'GET')}`];
  if (opts.body !== undefined) lines.push(`wrk.body = ${JSON.stringify(opts.body)}`);
  for (const [name, value] of Object.entries(opts.headers ?? {})) lines.push(`wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`);
  return `${lines.join('\n')}\n`;
}

/** Latencies in milliseconds, from wrk's `--latency` output (which prints each with its unit: us, ms, s or m). */
export function parseWrk(out: string): LoadResult {
  const rps = /^Requests\/sec:\s+([\d.]+)$/m.exec(out)?.[1];
  const p50 = percentileMs(out, '50');
  const p99 = percentileMs(out, '99');
  if (rps === undefined || p50 === undefined || p99 === undefined) throw new Error(`unexpected wrk output:\n${out}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = socket === null ? 0 : socket.slice(1).reduce((n, v) => n + Number(v), 0);
  return { rps: Number(rps), p50, p99, errors, non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) };
}

const MS_PER_UNIT: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3 };

function percentileMs(out: string, percent: string): number | undefined {
  // wrk pads some units with a trailing space (`1.64s `).
  const m = new RegExp(`^\\s+${percent}%\\s+([\\d.]+)(us|ms|s|m)[ \\t]*$`, 'm').exec(out);
  return m === null ? undefined : Number(m[1]) * MS_PER_UNIT[m[2]!]!;
}
