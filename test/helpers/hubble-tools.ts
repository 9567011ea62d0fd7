// The real `hubble` CLI and `hubble-relay`, built by scripts/install-hubble.sh outside the repo. Missing tools
// fail the interop suite under CI (CI=true), where the script ran first; elsewhere the tests skip, naming the script.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { HUBBLE, HUBBLE_RELAY } from '../../bench/lib/hubble-tools.js';
import type { ProxyProcess } from './proxy-process.js';

export { HUBBLE, HUBBLE_RELAY };

/** `skip` for node:test: false when the tools are there or under CI (where their absence must fail). */
export function skipWithoutHubble(): string | false {
  if (existsSync(HUBBLE) && existsSync(HUBBLE_RELAY)) return false;
  if (process.env.CI === 'true') return false;
  return `no ${HUBBLE}: run scripts/install-hubble.sh`;
}

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the hubble CLI asynchronously (the proxy under test may share this process's event loop). */
export function hubble(args: readonly string[], timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(HUBBLE, args, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr: err !== null && code === -1 ? `${stderr}${err.message}` : stderr });
    });
  });
}

/** The Hubble listener's address, as a `portcullis run` process logs it at start. */
export const hubbleAddress = (p: ProxyProcess): string => /"address":"([\d.]+:\d+)"[^\n]*"msg":"hubble server listening"/.exec(p.log())![1]!;

/** A tiefighter (127.0.0.2) landing request through `p`'s listener: the HTTP status curl got. */
export function landThrough(p: ProxyProcess): Promise<string> {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', '--interface', '127.0.0.2', `http://${p.host}:${p.port}/v1/request-landing`, '-XPOST'], { encoding: 'utf8' }, (_e, out) => resolve(out));
  });
}
