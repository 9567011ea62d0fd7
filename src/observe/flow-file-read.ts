// Reading a flow file while the proxy appends to it: its last lines (read from the end, so a large file costs only
// what is shown), and what is appended from an offset on, across rotation (the file moved away and a new one
// opened by the proxy on SIGHUP) and truncation. Used by `portcullis observe` and the admin endpoint's /flows.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;
/** How often a followed file is checked for new bytes and for rotation, ms. */
export const FOLLOW_POLL_MS = 200;

/** The file's lines that end before byte `end`, last first (the line `end` cuts into is not one of them). */
export async function* linesBackward(path: string, end: number): AsyncGenerator<string> {
  const file = await open(path, 'r');
  try {
    let pos = end;
    let tail = Buffer.alloc(0); // bytes after the last newline seen, belonging to the line before it
    let first = true;
    while (pos > 0) {
      const size = Math.min(CHUNK_BYTES, pos);
      pos -= size;
      const chunk = Buffer.alloc(size);
      await file.read(chunk, 0, size, pos);
      let buf = Buffer.concat([chunk, tail]);
      if (first) {
        // Whatever follows the last newline before `end` is a line still being written.
        buf = buf.subarray(0, buf.lastIndexOf(NEWLINE) + 1);
        first = false;
      }
      let stop = buf.length;
      if (buf[stop - 1] === NEWLINE) stop--;
      for (let nl = buf.lastIndexOf(NEWLINE, stop - 1); nl >= 0; nl = buf.lastIndexOf(NEWLINE, stop - 1)) {
        const line = buf.toString('utf8', nl + 1, stop);
        if (line !== '') yield line;
        stop = nl;
      }
      tail = Buffer.from(buf.subarray(0, stop));
    }
    if (tail.length > 0) yield tail.toString('utf8');
  } finally {
    await file.close();
  }
}

/** The last `count` lines before `end`, in file order. */
export async function lastLines(path: string, end: number, count: number): Promise<string[]> {
  const lines: string[] = [];
  if (count <= 0) return lines;
  for await (const line of linesBackward(path, end)) {
    lines.push(line);
    if (lines.length >= count) break;
  }
  return lines.reverse();
}

/**
 * What is appended to `path` from byte `from` on, as chunks of whole lines, until `signal` aborts. When the file
 * is replaced (another inode at the path: rotation), the rest of the old one is read (until a poll finds nothing
 * more in it), then the new one from its start; when it shrinks (truncation), reading starts again at 0. The caller's pace is the reader's: nothing is
 * read while a chunk waits to be consumed, so a slow consumer costs no memory.
 */
export async function* followFile(path: string, from: number, signal: AbortSignal, pollMs = FOLLOW_POLL_MS): AsyncGenerator<Buffer> {
  let file: FileHandle = await open(path, 'r');
  let ino = (await file.stat()).ino;
  let pos = from;
  let partial: Buffer | undefined;
  let replaced = false; // another file is at the path: the old one is read to its end once more first
  const buf = Buffer.alloc(CHUNK_BYTES);
  try {
    while (!signal.aborted) {
      const { bytesRead } = await file.read(buf, 0, CHUNK_BYTES, pos);
      if (bytesRead > 0) {
        pos += bytesRead;
        const read = partial === undefined ? buf.subarray(0, bytesRead) : Buffer.concat([partial, buf.subarray(0, bytesRead)]);
        const end = read.lastIndexOf(NEWLINE) + 1;
        partial = end < read.length ? Buffer.from(read.subarray(end)) : undefined;
        if (end > 0) yield Buffer.from(read.subarray(0, end));
        continue;
      }
      const now = await stat(path).catch(() => undefined); // missing for a moment while being rotated
      if (now !== undefined && now.ino !== ino) {
        // The proxy may still append to the old file until it reopens it (SIGHUP after the move): one more poll.
        if (!replaced) {
          replaced = true;
        } else {
          replaced = false;
          await file.close();
          file = await open(path, 'r');
          ino = (await file.stat()).ino;
          pos = 0;
          partial = undefined; // a line the proxy never finished in the old file is not a record
          continue;
        }
      } else if (now !== undefined && now.size < pos) {
        pos = 0;
        partial = undefined;
        continue;
      }
      await sleep(pollMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    await file.close();
  }
}
