// Zero-copy relay of a response's remaining bytes from the broker's socket to the client's: Linux splice(2),
// done on the event loop by the native addon in native/splice-relay.c, which `npm run build` compiles when a C
// compiler is present (the npm package ships it prebuilt for linux-x64: scripts/install-native.mjs). Usually the
// bytes are already in the kernel and move within the call; the rest follows as the sockets become ready.
// Node cannot splice; without the addon (or over TLS, where bytes must be decrypted and encrypted) the relay
// copies them through the process instead, which costs more CPU per byte (bench:kafka with 4 MiB Fetches: 1.0
// against 0.6 CPU-seconds per GB).
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { packageFile } from '../../../package-root.js';
import { socketDescriptor } from '../../node-internals.js';

interface SpliceAddon {
  /** 0 when every byte moved within the call; else a pending transfer's id, and `done` follows. Throws when it fails at once. */
  start(inFd: number, outFd: number, bytes: number, done: (error: string | null, moved: number) => void): number;
  /** Ends a pending transfer; its `done` is not called. */
  cancel(id: number): void;
}

/** A transfer still under way. */
export interface SpliceJob {
  /** Ends the transfer early (the connection is closing); its callback is not called. */
  cancel(): void;
}

export const ZERO_COPY_ADDON = packageFile('dist', 'native', 'splice-relay.node');

let addon: SpliceAddon | null | undefined;
let loadError = '';

/** The addon, or why there is none. */
export function zeroCopySupport(): { available: true } | { available: false; reason: string } {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)(ZERO_COPY_ADDON) as SpliceAddon;
    } catch (err) {
      addon = null;
      loadError = process.platform === 'linux' ? `the native addon did not load (${(err as Error).message.split('\n')[0]})` : 'splice(2) is Linux only';
    }
  }
  return addon === null ? { available: false, reason: loadError } : { available: true };
}

/** A socket's file descriptor, when it is a plain TCP socket (not TLS) with one. */
function descriptor(socket: Socket): number | undefined {
  return 'encrypted' in socket ? undefined : socketDescriptor(socket);
}

/** Whether splice may move bytes to this socket (a plain TCP socket, and the addon loaded). */
export function mayZeroCopy(to: Socket): boolean {
  return zeroCopySupport().available && !('encrypted' in to);
}

/** Whether splice can move bytes between these two sockets. */
export function canSplice(from: Socket, to: Socket): boolean {
  return zeroCopySupport().available && descriptor(from) !== undefined && descriptor(to) !== undefined;
}

/**
 * Moves exactly `bytes` from `from` to `to` in the kernel: undefined when that is already done, else the transfer
 * under way, which calls `done` once every byte has been written to `to` (or with why not). Until then the caller
 * must not read from `from` (pause it) nor write to `to`, and everything written to `to` before must already be
 * flushed. Throws when the transfer fails at once.
 */
export function spliceBetween(from: Socket, to: Socket, bytes: number, done: (error: Error | undefined) => void): SpliceJob | undefined {
  const inFd = descriptor(from);
  const outFd = descriptor(to);
  if (!zeroCopySupport().available || inFd === undefined || outFd === undefined) throw new Error('splice is not possible between these sockets');
  const id = addon!.start(inFd, outFd, bytes, (error, moved) => done(error === null ? undefined : new Error(`${error} (${moved} of ${bytes} bytes moved)`)));
  return id === 0 ? undefined : { cancel: () => addon!.cancel(id) };
}
