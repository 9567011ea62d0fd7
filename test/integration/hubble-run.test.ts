// `portcullis run` and `portcullis check` with `hubble:`: the config asks for workers: 1, and `--workers` cannot
// override it (each worker would serve only its own connections' flows); with one process the server answers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { packageFile } from '../../src/package-root.js';
import { execCommand } from '../helpers/exec.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-hubble-run-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const CLI = packageFile('dist', 'src', 'cli', 'main.js');

function configFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, `admin: off\nflows: off\n${text}`);
  return file;
}

test('run --workers 2 with hubble configured refuses to start, saying why', async () => {
  const file = configFile('one.yaml', 'workers: 1\nhubble: {listen: "127.0.0.1:0"}\n');
  const run = await execCommand(process.execPath, [CLI, 'run', '--no-watch', '--workers', '2', '-c', file]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /cannot start: --workers 2 with "hubble" in .*one\.yaml: the Hubble server runs in a single process \(workers: 1\)/);
});

test('check reports hubble without workers: 1 at the hubble field', async () => {
  const file = configFile('auto.yaml', 'hubble: {listen: "127.0.0.1:4245"}\n');
  const run = await execCommand(process.execPath, [CLI, 'check', '-c', file]);
  assert.notEqual(run.code, 0);
  assert.match(`${run.stdout}${run.stderr}`, /auto\.yaml:3:9: hubble: the Hubble server runs in a single process: set "workers: 1"/);
});
