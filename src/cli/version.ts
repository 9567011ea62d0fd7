// `portcullis --version`, `-v` and `portcullis version`: the version of the installed package, read from its
// package.json so that it cannot drift from what npm installed.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { packageFile } from '../package-root.js';

export const PACKAGE_VERSION = (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;

export function registerVersion(program: Command): void {
  program.version(PACKAGE_VERSION, '-v, --version', 'print the version');
  program
    .command('version')
    .description('print the version')
    .action(() => {
      process.stdout.write(`${PACKAGE_VERSION}\n`);
    });
}
