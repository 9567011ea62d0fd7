// `portcullis test`'s command line. The runner loads when the command runs: what the proxy would answer comes from
// the protocols' own code (the Kafka proxy's error choice among it), which `portcullis run` must not load for an
// http-only config just because the CLI registers every command.
import type { Command } from 'commander';
import type { TestOptions } from './policy-test.js';

export function registerTest(program: Command): void {
  program
    .command('test')
    .description('policy unit tests: run expectation files (*.expect.yaml) offline against the config and policies')
    .argument('[paths...]', "expectation files or folders (default: *.expect.yaml beside the config's policies)")
    .option('-c, --config <file>', 'config file (default: portcullis.yaml if it exists)')
    .option('--junit <file>', 'also write the results as JUnit XML')
    .addHelpText('after', '\nExit codes: 0 every case passed, 1 a case failed or an expectation file, config or policy is invalid.')
    .action(async (paths: string[], o: TestOptions) => {
      const { runTests } = await import('./policy-test.js');
      const { UsageError } = await import('./offline-decision.js');
      try {
        process.exitCode = runTests(paths, o);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        process.stderr.write(`portcullis test: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
}
