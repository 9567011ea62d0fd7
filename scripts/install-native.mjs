// npm runs this when the package is installed (its "install" script). The package ships the Kafka proxy's
// zero-copy addon prebuilt for linux-x64 (it needs only glibc ≥ 2.9); where that one does not load (another
// architecture, musl, or a copy installed without it) this compiles native/splice-relay.c for this machine with
// scripts/build-native.mjs. The install never fails for it: without the addon the Kafka proxy copies large
// responses instead of splicing them, and each kafka listener logs that, with the reason, when it starts.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

try {
  createRequire(import.meta.url)(join(root, 'dist', 'native', 'splice-relay.node'));
} catch {
  const build = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit' });
  if (build.status !== 0) console.warn('install-native: the zero-copy addon could not be compiled; the Kafka proxy will copy large responses instead of splicing them');
}
