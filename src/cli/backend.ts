// `portcullis backend <name>`: run one demo backend on its own, for trying `portcullis run` by hand with the
// repo's portcullis.yaml (the deathstar at 127.0.0.10:8000) or your own config.
import type { Command } from 'commander';
import { startDeathstar } from '../demo/starwars/deathstar.js';
import { startDoorServer } from '../demo/cloudcity/door-server.js';

const BACKENDS: Record<string, { listen: string; start(host: string, port: number): Promise<{ host: string; port: number; close(): Promise<void> }> }> = {
  deathstar: { listen: '127.0.0.10:8000', start: startDeathstar },
  'cloudcity-door': { listen: '127.0.0.20:50051', start: startDoorServer },
};

export function registerBackend(program: Command): void {
  program
    .command('backend')
    .description(`run a demo backend until interrupted (${Object.keys(BACKENDS).join(', ')})`)
    .argument('<name>', 'which backend')
    .option('--listen <host:port>', 'address (default: the one the demo configs use)')
    .action(async (name: string, o: { listen?: string }) => {
      const backend = BACKENDS[name];
      if (!backend) {
        process.stderr.write(`unknown backend "${name}" (available: ${Object.keys(BACKENDS).join(', ')})\n`);
        process.exitCode = 1;
        return;
      }
      const m = /^(.+):(\d+)$/.exec(o.listen ?? backend.listen);
      if (!m) {
        process.stderr.write(`--listen must be host:port\n`);
        process.exitCode = 1;
        return;
      }
      const running = await backend.start(m[1]!, Number(m[2]));
      process.stdout.write(`${name} listening on ${running.host}:${running.port}\n`);
      const stop = () => void running.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
