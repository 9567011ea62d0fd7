// The package as users get it: `npm pack` of this checkout, installed into an empty folder offline from the npm
// cache that `npm ci` filled.
// `npm ci` caches the dependencies' tarballs but not the registry's metadata (packuments), and `npm install
// --offline <tarball>` needs that metadata to resolve the package's semver ranges (ENOTCACHED). So the folder
// gets a package-lock.json that pins each production dependency to what this repo's lockfile pins: the
// versions CI tests, which is also what a user gets until a dependency publishes a newer compatible release.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageFile, packageRoot } from '../../src/package-root.js';
import { execCommand } from './exec.js';

/** The environment without `npm test`'s npm_* variables, which describe this checkout, not the install folder. */
export const NPM_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));

interface LockEntry {
  version?: string;
  dev?: boolean;
  [field: string]: unknown;
}

/**
 * Packs this checkout as built into `dir`: no lifecycle scripts, since `prepare` would delete and rebuild dist/
 * under the running suite. Returns the tarball's file name and the paths it holds.
 */
export async function packInto(dir: string): Promise<{ tarball: string; files: string[] }> {
  const r = await execCommand('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: packageRoot, env: NPM_ENV });
  assert.equal(r.code, 0, r.stderr);
  const [packed] = JSON.parse(r.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return { tarball: packed!.filename, files: packed!.files.map((f) => f.path) };
}

/** `npm install --offline` of `dir/tarball` into `dir` (see above for the lockfile it writes first). */
export async function installOffline(dir: string, tarball: string): Promise<void> {
  const lock = JSON.parse(readFileSync(packageFile('package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const self = lock.packages['']!;
  const spec = `file:${tarball}`;
  const packages: Record<string, LockEntry> = {
    '': { dependencies: { portcullis: spec } },
    'node_modules/portcullis': { version: self.version, resolved: spec, hasInstallScript: true, dependencies: self.dependencies, bin: self.bin, engines: self.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && entry.dev !== true) packages[path] = entry;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, dependencies: { portcullis: spec } }, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ lockfileVersion: 3, requires: true, packages }, null, 2));
  const r = await execCommand('npm', ['install', '--offline', '--no-audit', '--no-fund', `./${tarball}`], { cwd: dir, env: NPM_ENV, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
}
