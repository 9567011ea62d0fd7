// The built CLI's version and its answer to a mistyped command or option: the error and a pointer to the right
// `--help` on stderr, exit 1, never the whole help.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { packageFile, packageRoot } from '../../src/package-root.js';
import { cli } from '../helpers/runtime-fixture.js';

const { version } = JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string };

describe('portcullis --version', () => {
  for (const args of [['--version'], ['-v'], ['version']]) {
    test(`${args.join(' ')} prints the package version`, async () => {
      const r = await cli(args, packageRoot);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${version}\n`);
      assert.equal(r.stderr, '');
    });
  }
});

describe('a mistyped command or option', () => {
  const cases: Array<{ args: string[]; stderr: string }> = [
    { args: ['chek'], stderr: "error: unknown command 'chek'\n(Did you mean check?)\n(run 'portcullis --help' for usage)\n" },
    { args: ['--bogus'], stderr: "error: unknown option '--bogus'\n(run 'portcullis --help' for usage)\n" },
    {
      args: ['trace', '--from', 'tiefighter', '--to', 'deathstar', '--prot', '80'],
      stderr: "error: unknown option '--prot'\n(Did you mean --port?)\n(run 'portcullis trace --help' for usage)\n",
    },
    // commander reports a missing required option before an unknown one; the hint still names the command's help.
    { args: ['trace', '--frm', 'tiefighter', '--to', 'deathstar'], stderr: "error: required option '--from <peer>' not specified\n(run 'portcullis trace --help' for usage)\n" },
    { args: ['certs', 'isue'], stderr: "error: unknown command 'isue'\n(Did you mean issue?)\n(run 'portcullis certs --help' for usage)\n" },
  ];
  for (const { args, stderr } of cases) {
    test(`${args.join(' ')}: names it, hints at --help, exit 1`, async () => {
      const r = await cli(args, packageRoot);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, stderr);
      assert.equal(r.stdout, '');
    });
  }
});
