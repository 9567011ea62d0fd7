// `portcullis backend <name>`: run one demo backend on its own, for trying `portcullis run` by hand with the
// repo's portcullis.yaml (the deathstar at 127.0.0.10:8000) or your own config.
import type { Command } from 'commander';

interface Running {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Each backend's code is loaded only when it is started (the door manager brings grpc-js). */
const BACKENDS: Record<string, { listen: string; start(host: string, port: number): Promise<Running> }> = {
  deathstar: { listen: '127.0.0.10:8000', start: async (host, port) => (await import('../demo/starwars/deathstar.js')).startDeathstar(host, port) },
  'cloudcity-door': { listen: '127.0.0.20:50051', start: async (host, port) => (await import('../demo/cloudcity/door-server.js')).startDoorServer(host, port) },
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
