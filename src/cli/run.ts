// `portcullis run`: the proxy. Runs until SIGINT/SIGTERM; SIGHUP reloads policies and endpoints.
import type { Command } from 'commander';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the proxy with a portcullis.yaml (policies and endpoints reload on change and on SIGHUP)')
    .option('-c, --config <file>', 'config file', 'portcullis.yaml')
    .option('--no-watch', 'do not watch files (reload on SIGHUP only)')
    .action(async (opts: { config: string; watch: boolean }) => {
      // The proxy's modules (undici, the protocol handlers) load here, not for every other command.
      const { startPortcullis, StartupError } = await import('../runtime/server.js');
      let proxy;
      try {
        proxy = await startPortcullis(opts.config, { watch: opts.watch });
      } catch (e) {
        process.stderr.write(`${e instanceof StartupError ? e.message : (e as Error).stack}\n`);
        process.exit(1);
      }
      const running = proxy;
      process.on('SIGHUP', () => running.reload('SIGHUP'));
      const stop = (signal: string) => {
        running.log.info({ signal }, 'shutting down');
        running.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
