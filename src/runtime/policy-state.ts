// Holds the current snapshot and replaces it atomically on reload (file change or SIGHUP).
// A reload that fails validation keeps the last good snapshot and says why.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { PortcullisConfig } from '../config/types.js';
import { formatSourceError, type PolicySnapshot } from '../policy/types.js';
import { compile, type Compiled } from './compile.js';

export interface ReloadObserver {
  reload(result: 'success' | 'failure'): void;
  snapshotInfo(revision: number, policies: number, endpoints: number): void;
}

const DEBOUNCE_MS = 200;

export class PolicyState {
  #compiled: Compiled;
  #revision: number;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly configFile: string,
    initial: Compiled,
    private readonly log: Logger,
    private readonly observer: ReloadObserver,
  ) {
    this.#compiled = initial;
    this.#revision = initial.snapshot.revision;
    this.#report();
  }

  get snapshot(): PolicySnapshot {
    return this.#compiled.snapshot;
  }

  get config(): PortcullisConfig {
    return this.#compiled.config;
  }

  /** Re-reads config and policies; swaps the snapshot only if everything is valid. */
  reload(reason: string): boolean {
    const { compiled, errors } = compile(this.configFile, { revision: this.#revision + 1 });
    if (compiled === undefined) {
      this.observer.reload('failure');
      this.log.error({ reason, errors: errors.map(formatSourceError) }, `reload rejected, keeping revision ${this.#revision}`);
      return false;
    }
    if (JSON.stringify(compiled.config.listeners) !== JSON.stringify(this.#compiled.config.listeners)) {
      this.log.warn('listener changes take effect after a restart; policies and endpoints were reloaded');
    }
    this.#revision = compiled.snapshot.revision;
    this.#compiled = compiled;
    this.observer.reload('success');
    this.#report();
    this.log.info({ reason, revision: this.#revision }, 'policy snapshot reloaded');
    if (this.#watchers.length > 0) this.watch();
    return true;
  }

  /** Watches the config file and every policy path (folders recursively); changes reload after a short debounce. */
  watch(): void {
    this.unwatch();
    const targets = new Map<string, Set<string> | null>(); // folder -> file names of interest (null = all)
    const add = (path: string) => {
      let isDir = false;
      try {
        isDir = statSync(path).isDirectory();
      } catch {
        // A missing path is reported by reload; watch its folder so its creation is noticed.
      }
      if (isDir) targets.set(path, null);
      else {
        const dir = dirname(path);
        const names = targets.get(dir);
        if (names === null) return;
        targets.set(dir, new Set([...(names ?? []), basename(path)]));
      }
    };
    add(this.configFile);
    for (const p of this.config.policies) add(p);
    for (const [dir, names] of targets) {
      try {
        const w = watch(dir, { recursive: names === null }, (_event, file) => {
          // Kubernetes-style `..data` symlink swaps change other names than the files themselves.
          if (names === null || file === null || names.has(String(file)) || String(file).startsWith('..')) this.#schedule();
        });
        w.on('error', (e) => this.log.warn({ dir, err: e.message }, 'file watch failed'));
        this.#watchers.push(w);
      } catch (e) {
        this.log.warn({ dir, err: (e as Error).message }, 'cannot watch folder; use SIGHUP to reload');
      }
    }
  }

  unwatch(): void {
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.reload('file change'), DEBOUNCE_MS);
    this.#timer.unref();
  }

  #report(): void {
    const s = this.#compiled.snapshot;
    this.observer.snapshotInfo(s.revision, s.policies.length, s.endpoints.list().length);
  }
}
