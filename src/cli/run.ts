// `portcullis run`: the proxy. Runs until SIGINT/SIGTERM; SIGHUP reloads policies and endpoints; with workers,
// SIGUSR2 replaces them one by one.
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, MAX_WORKERS } from '../config/load.js';
import { LOG_LEVELS, type LogOptions } from '../config/log-options.js';

interface Running {
  reload(reason: string): unknown;
  close(): Promise<void>;
  restartWorkers?(): Promise<void>;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the proxy with a portcullis.yaml (policies and endpoints reload on change and on SIGHUP)')
    .option('-c, --config <file>', 'config file', 'portcullis.yaml')
    .option('--no-watch', 'do not watch files (reload on SIGHUP only)')
    .option('-w, --workers <n>', `processes serving the listeners: auto (one per core) or 1 to ${MAX_WORKERS} (default: the config's workers, else auto)`, parseWorkers)
    .option('--log-level <level>', `${LOG_LEVELS.join(', ')} (default: the config's log.level, else info)`, parseLogLevel)
    .action(async (opts: { config: string; watch: boolean; workers?: 'auto' | number; logLevel?: string }) => {
      // An invalid config is reported by the start below, with every error; until then the defaults serve.
      const config = loadConfig(opts.config).config;
      const workers = workerCount(opts.workers ?? config?.workers ?? 'auto');
      const logOptions: LogOptions = { level: opts.logLevel ?? config?.log.level ?? 'info', format: config?.log.format ?? 'json' };
      // The proxy's modules (the protocol handlers) load here, not for every other command.
      const { createLogger } = await import('../observe/logger.js');
      const { StartupError } = await import('../runtime/listeners.js');
      const log = createLogger(logOptions);
      // Signals are handled from before the start: a stop signal that arrives while listeners (or workers) are
      // starting stops the proxy as soon as it is up, and a SIGHUP reloads it then (the files were read before the
      // listeners started, and may have changed since).
      let proxy: Running | undefined;
      let stopSignal: NodeJS.Signals | undefined;
      let reloadWhenUp = false;
      const stop = (running: Running, signal: NodeJS.Signals): void => {
        log.info({ signal }, 'shutting down');
        running.close().then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      const onStopSignal = (signal: NodeJS.Signals): void => {
        if (stopSignal !== undefined) return;
        stopSignal = signal;
        if (proxy) stop(proxy, signal);
      };
      // Once each: a second SIGINT or SIGTERM ends the process at once.
      process.once('SIGINT', onStopSignal);
      process.once('SIGTERM', onStopSignal);
      process.on('SIGHUP', () => {
        if (proxy) void proxy.reload('SIGHUP');
        else reloadWhenUp = true;
      });
      process.on('SIGUSR2', () => {
        if (proxy?.restartWorkers === undefined) return log.warn('SIGUSR2 replaces workers; this proxy runs in one process (workers: 1)');
        log.info('replacing the workers one by one');
        void proxy.restartWorkers().then(() => log.info('every worker was replaced'));
      });
      if (config?.hubble !== undefined && workers > 1) {
        // The config check asks for workers: 1 with hubble; --workers can still ask for more.
        process.stderr.write(`cannot start: --workers ${workers} with "hubble" in ${opts.config}: the Hubble server runs in a single process (workers: 1)\n`);
        process.exit(1);
      }
      try {
        if (workers === 1) {
          const { startPortcullis } = await import('../runtime/server.js');
          proxy = await startPortcullis(opts.config, { watch: opts.watch, log });
        } else {
          const { startPrimary } = await import('../runtime/primary.js');
          proxy = await startPrimary(opts.config, workers, { watch: opts.watch, log, logOptions });
        }
      } catch (e) {
        process.stderr.write(`${e instanceof StartupError ? e.message : (e as Error).stack}\n`);
        process.exit(1);
      }
      if (stopSignal !== undefined) stop(proxy, stopSignal);
      else if (reloadWhenUp) void proxy.reload('SIGHUP');
    });
}

function parseWorkers(value: string): 'auto' | number {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_WORKERS) throw new InvalidArgumentError(`must be auto or an integer from 1 to ${MAX_WORKERS}`);
  return n;
}

function parseLogLevel(value: string): string {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of: ${LOG_LEVELS.join(', ')}`);
  return value;
}

/** `auto` is one worker per core this process may use (its CPU affinity and cgroup quota counted). */
function workerCount(workers: 'auto' | number): number {
  return workers === 'auto' ? availableParallelism() : workers;
}
