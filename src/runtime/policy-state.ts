// Holds the current snapshot and replaces it atomically on reload (file change or SIGHUP).
// A reload that fails validation keeps the last good snapshot and says why. Start-up and every reload log one line
// saying what is in force and, on reload, what changed (policy/summary.ts); edits only a restart applies are named
// in a warning (config/restart-settings.ts).
import type { Logger } from 'pino';
import { restartOnlyChanges, WORKER_SETTINGS } from '../config/restart-settings.js';
import type { PortcullisConfig } from '../config/types.js';
import { describeRevision, diffRevisions, summarizeRevision } from '../policy/summary.js';
import { formatSourceError, formatSourceWarning, type PolicySnapshot } from '../policy/types.js';
import { listPolicyPaths } from '../policy/load.js';
import { compile, type Compiled } from './compile.js';
import { FolderWatchers, watchFile, watchFolder, watchPath, type WatchTargets } from '../config/folder-watchers.js';

export interface ReloadObserver {
  reload(result: 'success' | 'failure'): void;
  snapshotInfo(revision: number, policies: number, endpoints: number): void;
}

export class PolicyState {
  #compiled: Compiled;
  /** The config whose listeners and other start-up settings are running (the start's, until workers are replaced). */
  #running: PortcullisConfig;
  #revision: number;
  #watchers: FolderWatchers | undefined;
  #timer: NodeJS.Timeout | undefined;
  #onChange: (reason: string) => void = () => {};

  constructor(
    private readonly configFile: string,
    initial: Compiled,
    private readonly log: Logger,
    private readonly observer: ReloadObserver,
    /** File events reload this long after the last of a burst (Timings.policyDebounceMs). */
    private readonly debounceMs: number,
  ) {
    this.#compiled = initial;
    this.#running = initial.config;
    this.#revision = initial.snapshot.revision;
    this.#report();
    this.#logWarnings(initial);
    const summary = summarizeRevision(initial.snapshot);
    this.log.info(summary, `policy snapshot loaded: ${describeRevision(summary)}`);
  }

  get snapshot(): PolicySnapshot {
    return this.#compiled.snapshot;
  }

  get config(): PortcullisConfig {
    return this.#compiled.config;
  }

  get compiled(): Compiled {
    return this.#compiled;
  }

  /** Re-reads config and policies; swaps the snapshot only if everything is valid. */
  reload(reason: string): boolean {
    const next = this.prepare(reason);
    if (next !== undefined) this.commit(next, reason);
    return next !== undefined;
  }

  /**
   * Compiles the next revision from the files as they are now; undefined (logged and counted) when something is
   * invalid, and the current snapshot stays. `commit` makes it current: a caller with workers first has every worker
   * switch to it.
   */
  prepare(reason: string): Compiled | undefined {
    // What appeared since the last sync is watched before it is read, so a save right after this read is noticed.
    this.#syncWatchers();
    const { compiled, errors } = compile(this.configFile, { revision: this.#revision + 1 });
    if (compiled === undefined) {
      this.observer.reload('failure');
      this.log.error({ reason, errors: errors.map(formatSourceError) }, `reload rejected, keeping revision ${this.#revision}`);
      return undefined;
    }
    this.#logWarnings(compiled);
    return compiled;
  }

  commit(compiled: Compiled, reason: string): void {
    const changes = diffRevisions(this.#compiled.snapshot, compiled.snapshot);
    this.#revision = compiled.snapshot.revision;
    this.#compiled = compiled;
    this.observer.reload('success');
    this.#report();
    const summary = summarizeRevision(compiled.snapshot);
    this.log.info({ reason, ...summary, changes }, `policy snapshot reloaded on ${reason}: ${describeRevision(summary, changes)}`);
    // Against the running config, so an edit still waiting for a restart is named again, and one undone is not.
    const pending = restartOnlyChanges(this.#running, compiled.config);
    if (pending.length > 0) this.log.warn({ pending }, `not applied until a restart: ${pending.join('; ')}`);
    this.#syncWatchers(); // the new config may name other policy paths
  }

  /** Every worker was replaced: they run the current revision's listeners, secret store and header redaction. */
  workersReplaced(): void {
    const now = this.#compiled.config;
    this.#running = { ...this.#running, ...Object.fromEntries(WORKER_SETTINGS.map((k) => [k, now[k]])) };
  }

  /**
   * Watches the config file and every policy path (folders recursively); changes reload after a short debounce.
   * The watched folders are re-synced on every reload, accepted or not, so files and folders that were replaced,
   * created or removed stay watched.
   */
  watch(onChange: (reason: string) => void = (reason) => this.reload(reason)): void {
    this.#onChange = onChange;
    this.#watchers ??= new FolderWatchers(
      () => this.#schedule(),
      (folder, err) => this.log.warn({ folder, err: err.message }, 'cannot watch folder; use SIGHUP to reload'),
    );
    this.#syncWatchers();
  }

  unwatch(): void {
    this.#watchers?.close();
    this.#watchers = undefined;
    clearTimeout(this.#timer);
  }

  #syncWatchers(): void {
    if (this.#watchers === undefined) return;
    const targets: WatchTargets = new Map();
    watchFile(targets, this.configFile);
    const { files, folders } = listPolicyPaths(this.config.policies);
    for (const path of this.config.policies) watchPath(targets, path);
    for (const folder of folders) watchFolder(targets, folder);
    for (const file of files) watchFile(targets, file);
    this.#watchers.sync(targets);
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#onChange('file change'), this.debounceMs);
    this.#timer.unref();
  }

  /** One line per warning (a skipped document, a listener on every interface): they do not stop a revision. */
  #logWarnings(compiled: Compiled): void {
    for (const w of compiled.warnings) this.log.warn(formatSourceWarning(w));
  }

  #report(): void {
    const s = this.#compiled.snapshot;
    this.observer.snapshotInfo(s.revision, s.policies.length, s.endpoints.list().length);
  }
}
