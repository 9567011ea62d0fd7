// Small socket and process helpers for the TLS integration tests.
import { spawn } from 'node:child_process';
import net, { type AddressInfo, type Server } from 'node:net';
import tls from 'node:tls';

/** Listen on 127.0.0.1 with an OS-chosen port. */
export async function listenLocal(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a real client (curl, openssl) to completion, bounded in time; `input` is written to its stdin. */
export function runCommand(command: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 10_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** `tls.connect` to 127.0.0.1:`port` from a chosen loopback source address (its typings lack `localAddress`). */
export function tlsConnectFrom(localAddress: string, port: number, options: tls.ConnectionOptions): tls.TLSSocket {
  const tcp = net.connect({ port, host: '127.0.0.1', localAddress });
  // `host` is what the server certificate is checked against when no servername is given.
  const socket = tls.connect({ host: '127.0.0.1', ...options, socket: tcp });
  tcp.on('error', (err) => socket.destroy(err));
  return socket;
}
