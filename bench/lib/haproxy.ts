// haproxy as a side-by-side peer: a native proxy shows what one extra hop costs on this machine.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HttpAllowRule } from './http-rule.js';
import { asChild, openFilesLimit, type Address, type Child } from './processes.js';

/** True when an `haproxy` binary is on the PATH (.ci/run installs it). */
export function haproxyInstalled(): boolean {
  return spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;
}

/**
 * haproxy in HTTP mode speaking h2c on both sides, with the Cloud City rule as ACLs: only `allowedPaths` from
 * `allowedSources` pass, anything else gets 403. The native L7 peer of bench/grpc and bench/h2.
 */
export function startHaproxyH2(dir: string, listen: Address, upstream: Address, rule: HttpAllowRule): Child {
  return startHaproxy(dir, listen, 'mode http', `frontend doors
  bind ${listen.host}:${listen.port} proto h2
  ${denyUnless(rule)}
  default_backend door
backend door
  server upstream ${upstream.host}:${upstream.port} proto h2
`);
}

/**
 * haproxy in HTTP mode speaking HTTP/1.1 on both sides, keep-alive both ways and idle upstream connections
 * shared by all clients (`http-reuse always`), with `rule` as ACLs: the native L7 peer of bench/http1. One
 * thread, as nginx runs one worker and Portcullis one event loop: the comparison is per core.
 */
export function startHaproxyHttp1(dir: string, listen: Address, upstream: Address, rule: HttpAllowRule, maxConnections = 1000): Child {
  const maxconn = Math.min(maxConnections, haproxyMaxConnections());
  return startHaproxy(
    dir,
    listen,
    'mode http\n  option http-keep-alive',
    `frontend landing
  bind ${listen.host}:${listen.port}
  ${denyUnless(rule)}
  default_backend deathstar
backend deathstar
  http-reuse always
  server upstream ${upstream.host}:${upstream.port}
`,
    `maxconn ${maxconn}\n  nbthread 1`,
  );
}

/**
 * The most connections haproxy takes under this process's open-files limit, which it inherits: it reserves two
 * descriptors per connection (client and server side) plus a few of its own, and refuses to start when a
 * `maxconn` needs more than it can raise the limit to.
 */
export function haproxyMaxConnections(): number {
  return Math.floor((openFilesLimit() - 64) / 2);
}

function denyUnless(rule: HttpAllowRule): string {
  const method = rule.method === undefined ? '' : ` { method ${rule.method} }`;
  return `http-request deny deny_status 403 unless { src ${rule.allowedSources.join(' ')} }${method} { path ${rule.allowedPaths.join(' ')} }`;
}

/**
 * haproxy in TCP mode (no L7 parsing) from `listen` to `upstream`, moving responses with splice(2): the
 * bytes never enter user space, the cheapest hop there is (splice-auto alone rarely chose it on loopback).
 */
export function startHaproxyTcp(dir: string, listen: Address, upstream: Address): Child {
  return startHaproxy(dir, listen, 'mode tcp\n  option splice-auto\n  option splice-response', `listen relay
  bind ${listen.host}:${listen.port}
  server upstream ${upstream.host}:${upstream.port}
`);
}

/** Writes a config (`global` settings, shared timeouts, then `proxies`) and runs haproxy in the foreground. */
function startHaproxy(dir: string, listen: Address, mode: string, proxies: string, global = 'maxconn 1000'): Child {
  const config = join(dir, `haproxy-${listen.port}.cfg`);
  writeFileSync(
    config,
    `global
  ${global}
defaults
  ${mode}
  timeout connect 5s
  timeout client 120s
  timeout server 120s
${proxies}`,
  );
  return asChild('haproxy', spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'inherit'] }));
}
