// `portcullis demo [name...]`: start the demo backends, Portcullis and scripted clients, and run the Cilium
// guides' stories. Exit 0 only if every step behaved as the guide says.
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { createLogger } from '../observe/logger.js';

interface DemoOptions {
  log: (line: string) => void;
  logger: Logger;
  flows?: string;
}

type Demo = (o: DemoOptions) => Promise<boolean>;

/** Loaded when chosen: the demos bring grpc-js, kafkajs and their backends, which no other command needs. */
const DEMOS: Record<string, () => Promise<Demo>> = {
  starwars: async () => (await import('../demo/starwars/run.js')).runStarWarsDemo,
  cloudcity: async () => (await import('../demo/cloudcity/run.js')).runCloudCityDemo,
  kafka: async () => (await import('../demo/kafka/run.js')).runKafkaDemo,
  tls: async () => (await import('../demo/tls/run.js')).runTlsDemo,
};

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(`run demos end to end (default: all of ${Object.keys(DEMOS).join(', ')})`)
    .argument('[names...]', 'which demos')
    .option('--flows <target>', 'write flow records: stdout, off or a file', 'off')
    .action(async (names: string[], opts: { flows: string }) => {
      const chosen = names.length > 0 ? names : Object.keys(DEMOS);
      const unknown = chosen.filter((n) => DEMOS[n] === undefined);
      if (unknown.length > 0) {
        process.stderr.write(`unknown demo: ${unknown.join(', ')} (available: ${Object.keys(DEMOS).join(', ')})\n`);
        process.exitCode = 1;
        return;
      }
      const logger = createLogger({ level: 'warn' });
      let ok = true;
      for (const name of chosen) {
        const run = await DEMOS[name]!();
        const passed = await run({ log: (line) => process.stdout.write(`${line}\n`), logger, flows: opts.flows });
        ok &&= passed;
      }
      process.exitCode = ok ? 0 : 1;
    });
}
