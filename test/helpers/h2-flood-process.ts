// A frame flood from a separate, low-priority process (`nice`): on a real network the attacker's CPU is not the
// proxy's, so here it must not take the CPU the proxy and the measuring client need. It opens `connections`
// sockets to the proxy, writes `prelude` on each, then `unit` over and over as fast as the socket takes it,
// reading and dropping whatever comes back. A connection the proxy closes is opened again until `durationMs`
// is up (at most `maxConnects` in all).
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export interface FloodOptions {
  readonly host: string;
  readonly port: number;
  readonly localAddress: string;
  readonly connections: number;
  readonly durationMs: number;
  readonly maxConnects: number;
  readonly prelude: Buffer;
  readonly unit: Buffer;
}

export interface FloodResult {
  readonly connects: number;
  /** Bytes the sockets accepted (written to the kernel). */
  readonly bytes: number;
}

/** Runs the flood in a child process (nice 10); resolves when it is over. */
export function runFlood(o: FloodOptions): Promise<FloodResult> {
  const args = JSON.stringify({ ...o, prelude: o.prelude.toString('base64'), unit: o.unit.toString('base64') });
  const child = spawn('nice', ['-n', '10', process.execPath, fileURLToPath(import.meta.url), args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as FloodResult) : reject(new Error(`flood process exited with ${code}`))));
  });
}

async function flood(o: FloodOptions): Promise<FloodResult> {
  const deadline = Date.now() + o.durationMs;
  const batch = Buffer.concat(Array.from({ length: Math.max(1, Math.floor((64 * 1024) / o.unit.length)) }, () => o.unit));
  let connects = 0;
  let bytes = 0;
  const once = () =>
    new Promise<void>((resolve) => {
      connects++;
      const socket = net.connect({ host: o.host, port: o.port, localAddress: o.localAddress });
      const timer = setTimeout(() => socket.destroy(), Math.max(0, deadline - Date.now()));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.resume();
      const pump = (): void => {
        while (socket.writable && Date.now() < deadline) {
          const ok = socket.write(batch);
          if (!socket.destroyed) bytes += batch.length;
          if (!ok) return void socket.once('drain', pump);
        }
      };
      socket.once('connect', () => {
        socket.write(o.prelude);
        pump();
      });
    });
  const loop = async () => {
    while (Date.now() < deadline && connects < o.maxConnects) await once();
  };
  await Promise.all(Array.from({ length: o.connections }, loop));
  return { connects, bytes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const raw = JSON.parse(process.argv[2]!) as FloodOptions & { prelude: string; unit: string };
  const result = await flood({ ...raw, prelude: Buffer.from(raw.prelude, 'base64'), unit: Buffer.from(raw.unit, 'base64') });
  process.stdout.write(JSON.stringify(result));
}
