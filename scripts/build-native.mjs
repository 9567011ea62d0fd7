// Compiles the Kafka proxy's zero-copy relay (native/splice-relay.c) into dist/native/splice-relay.node with the
// system C compiler and the headers of the Node that runs this script; a Node-API addon links against nothing
// else. Part of `npm run build`. Where it cannot be built (not Linux, no compiler, no headers) it says why and
// the build goes on: the proxy then copies those bytes instead (src/protocols/kafka/proxy/zero-copy.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'splice-relay.c');
const output = join(root, 'dist', 'native', 'splice-relay.node');
const headers = resolve(process.execPath, '..', '..', 'include', 'node');
const compiler = process.env.CC ?? 'cc';

function skip(reason) {
  console.warn(`build-native: ${reason}; the Kafka proxy will copy large responses instead of splicing them`);
  process.exit(0);
}

if (process.platform !== 'linux') skip('splice(2) is Linux only');
if (!existsSync(join(headers, 'node_api.h'))) skip(`no Node headers in ${headers}`);
mkdirSync(dirname(output), { recursive: true });
const args = ['-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11', '-shared', '-fPIC', '-fvisibility=hidden', `-I${headers}`, source, '-o', output, '-lpthread'];
const run = spawnSync(compiler, args, { stdio: 'inherit' });
if (run.error) skip(`${compiler} is not available (${run.error.message})`);
if (run.status !== 0) {
  console.error(`build-native: ${compiler} ${args.join(' ')} failed`);
  process.exit(1);
}
