// nginx as a side-by-side peer for HTTP/1.1: the other native proxy beside haproxy.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HttpAllowRule } from './http-rule.js';
import { asChild, openFilesLimit, type Address, type Child } from './processes.js';

/** True when an `nginx` binary is on the PATH (.ci/run installs it). */
export function nginxInstalled(): boolean {
  return spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;
}

/**
 * nginx in the foreground with its own prefix under `dir` (pid, logs and temp files there, nothing system-wide),
 * one worker, keep-alive both sides (64 idle upstream connections), and `rule` as `allow`/`deny` on the source
 * plus a `map` on method and path. It writes an access log to a file, buffered, as Portcullis writes flow records.
 */
export function startNginxHttp1(dir: string, listen: Address, upstream: Address, rule: HttpAllowRule, maxConnections = 1000): Child {
  const prefix = join(dir, `nginx-${listen.port}`);
  mkdirSync(prefix, { recursive: true });
  const key = rule.method === undefined ? '$uri' : '$request_method $uri';
  const allowed = rule.allowedPaths.map((p) => `    "${rule.method === undefined ? '' : `${rule.method} `}${p}" 1;`).join('\n');
  // A client connection uses one descriptor and may hold an upstream one; the worker inherits the open-files limit.
  const workerConnections = Math.min(2 * maxConnections + 100, openFilesLimit());
  const config = join(prefix, 'nginx.conf');
  writeFileSync(
    config,
    `# As root the master would otherwise run its worker as nobody, who cannot read this private temp dir.
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events {
  worker_connections ${workerConnections};
}
http {
  access_log ${join(prefix, 'access.log')} combined buffer=256k flush=1s;
  client_body_temp_path ${join(prefix, 'client_body')};
  proxy_temp_path ${join(prefix, 'proxy')};
  fastcgi_temp_path ${join(prefix, 'fastcgi')};
  uwsgi_temp_path ${join(prefix, 'uwsgi')};
  scgi_temp_path ${join(prefix, 'scgi')};
  # The default closes a client connection after 1,000 requests; wrk would count the reconnections as errors.
  keepalive_requests 1000000;
  keepalive_timeout 600s;
  map "${key}" $allowed_call {
    default 0;
${allowed}
  }
  upstream deathstar {
    server ${upstream.host}:${upstream.port};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen ${listen.host}:${listen.port};
${rule.allowedSources.map((s) => `    allow ${s};`).join('\n')}
    deny all;
    location / {
      if ($allowed_call = 0) {
        return 403;
      }
      proxy_pass http://deathstar;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const args = ['-p', `${prefix}/`, '-c', config, '-e', join(prefix, 'error.log'), '-g', 'daemon off;'];
  return asChild('nginx', spawn('nginx', args, { stdio: ['ignore', 'ignore', 'inherit'] }));
}
