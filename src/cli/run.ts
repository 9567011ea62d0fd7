// `portcullis run`: the proxy. Runs until SIGINT/SIGTERM; SIGHUP reloads policies and endpoints.
import type { Command } from 'commander';
import type { Portcullis } from '../runtime/server.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the proxy with a portcullis.yaml (policies and endpoints reload on change and on SIGHUP)')
    .option('-c, --config <file>', 'config file', 'portcullis.yaml')
    .option('--no-watch', 'do not watch files (reload on SIGHUP only)')
    .action(async (opts: { config: string; watch: boolean }) => {
      // The proxy's modules (undici, the protocol handlers) load here, not for every other command.
      const { startPortcullis, StartupError } = await import('../runtime/server.js');
      // Signals are handled from before the start: one that arrives while listeners are starting stops the proxy
      // as soon as it is up (files are read at start, so an early SIGHUP has nothing to add).
      let proxy: Portcullis | undefined;
      let stopSignal: NodeJS.Signals | undefined;
      const stop = (running: Portcullis, signal: NodeJS.Signals): void => {
        running.log.info({ signal }, 'shutting down');
        running.close().then(
          () => process.exit(0),
          (err: unknown) => {
            running.log.error({ err }, 'shutdown failed');
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
      process.on('SIGHUP', () => proxy?.reload('SIGHUP'));
      try {
        proxy = await startPortcullis(opts.config, { watch: opts.watch });
      } catch (e) {
        process.stderr.write(`${e instanceof StartupError ? e.message : (e as Error).stack}\n`);
        process.exit(1);
      }
      if (stopSignal !== undefined) stop(proxy, stopSignal);
    });
}
