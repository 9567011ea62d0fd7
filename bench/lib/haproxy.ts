// haproxy as a side-by-side peer: a native proxy shows what one extra hop costs on this machine.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asChild, type Child } from './processes.js';

/** True when an `haproxy` binary is on the PATH (.ci/run installs it). */
export function haproxyInstalled(): boolean {
  return spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;
}

/** haproxy in TCP mode (no L7 parsing, splicing when the kernel allows) from `listen` to `upstream`. */
export function startHaproxyTcp(dir: string, listen: { host: string; port: number }, upstream: { host: string; port: number }): Child {
  const config = join(dir, `haproxy-${listen.port}.cfg`);
  writeFileSync(
    config,
    `global
  maxconn 1000
defaults
  mode tcp
  option splice-auto
  timeout connect 5s
  timeout client 120s
  timeout server 120s
listen relay
  bind ${listen.host}:${listen.port}
  server upstream ${upstream.host}:${upstream.port}
`,
  );
  return asChild('haproxy', spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'inherit'] }));
}
