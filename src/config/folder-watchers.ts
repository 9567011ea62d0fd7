// File watching that survives every way of saving. fs.watch on a file follows its inode, so once the file is saved
// by replacement (`sed -i` and most editors write a temporary file and rename it over the original) the watch is on
// a deleted inode and later saves go unnoticed; Node 20's `recursive` mode on Linux watches every file that way.
// Here only folders are watched (non-recursively): a folder watch reports every name in it, whatever its inode.
// A folder can be replaced or removed too, so callers `sync` after each reload, and a folder whose identity changed
// is watched afresh.
import { realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/** Folder -> the names in it whose changes matter (null: any name). */
export type WatchTargets = Map<string, Set<string> | null>;

/** Any change in `folder`. */
export function watchFolder(targets: WatchTargets, folder: string): void {
  targets.set(resolve(folder), null);
}

/**
 * Creation, change, replacement or removal of `path`: its nearest existing ancestor folder is watched for the next
 * name on the way to it, so a missing file or folder is noticed when it (or a folder above it) appears.
 */
export function watchPath(targets: WatchTargets, path: string): void {
  let child = resolve(path);
  for (let folder = dirname(child); ; child = folder, folder = dirname(folder)) {
    if (isFolder(folder)) return watchName(targets, folder, basename(child));
    if (dirname(folder) === folder) return;
  }
}

/** A file by `path`, and through a symlink, the file it points to (edited in place where it really is). */
export function watchFile(targets: WatchTargets, path: string): void {
  watchPath(targets, path);
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return; // missing: watchPath notices it appearing
  }
  if (real !== resolve(path)) watchName(targets, dirname(real), basename(real));
}

function watchName(targets: WatchTargets, folder: string, name: string): void {
  const names = targets.get(folder);
  if (names === null) return;
  if (names === undefined) targets.set(folder, new Set([name]));
  else names.add(name);
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

interface Watched {
  readonly watcher: FSWatcher;
  /** Device, inode and birth time: a folder removed and recreated may get the same inode number back. */
  readonly identity: string;
  names: Set<string> | null;
}

export class FolderWatchers {
  readonly #watched = new Map<string, Watched>();
  #closed = false;

  constructor(
    /** Called for every relevant event; callers debounce. */
    private readonly onChange: () => void,
    private readonly onError: (folder: string, err: Error) => void = () => {},
  ) {}

  /** Watches exactly `targets`: new folders are watched, gone ones unwatched, replaced ones watched afresh. */
  sync(targets: WatchTargets): void {
    if (this.#closed) return;
    for (const [folder, w] of this.#watched) {
      if (!targets.has(folder)) this.#unwatch(folder, w);
    }
    for (const [folder, names] of targets) this.#watch(folder, names);
  }

  close(): void {
    this.#closed = true;
    for (const [folder, w] of this.#watched) this.#unwatch(folder, w);
  }

  #watch(folder: string, names: Set<string> | null): void {
    const current = this.#watched.get(folder);
    let identity: string;
    try {
      const s = statSync(folder);
      if (!s.isDirectory()) throw new Error('not a folder');
      identity = `${s.dev}:${s.ino}:${s.birthtimeMs}`;
    } catch {
      if (current) this.#unwatch(folder, current);
      return;
    }
    if (current?.identity === identity) {
      current.names = names;
      return;
    }
    if (current) this.#unwatch(folder, current);
    const self = basename(folder);
    let watched: Watched;
    try {
      const watcher = watch(folder, { persistent: false }, (_event, name) => {
        const file = name === null ? null : String(name);
        // `..`-names: Kubernetes-style `..data` symlink swaps change other names than the files themselves.
        // The folder's own name: the folder itself was removed or moved away.
        if (watched.names === null || file === null || watched.names.has(file) || file.startsWith('..') || file === self) this.onChange();
      });
      watched = { watcher, identity, names };
      watcher.on('error', (err) => {
        this.#unwatch(folder, watched);
        this.onError(folder, err);
        this.onChange();
      });
    } catch (err) {
      this.onError(folder, err as Error);
      return;
    }
    this.#watched.set(folder, watched);
  }

  #unwatch(folder: string, w: Watched): void {
    w.watcher.close();
    if (this.#watched.get(folder) === w) this.#watched.delete(folder);
  }
}
