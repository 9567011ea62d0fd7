// The deathstar service from Cilium's Star Wars demo (quay.io/cilium/starwars), reimplemented on node:http.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const INFO = `{
	"name": "Death Star",
	"hostname": "deathstar",
	"model": "DS-1 Orbital Battle Station",
	"manufacturer": "Imperial Department of Military Research, Sienar Fleet Systems",
	"cost_in_credits": "1000000000000",
	"length": "120000",
	"crew": "342953",
	"passengers": "843342",
	"cargo_capacity": "1000000000000",
	"hyperdrive_rating": "4.0",
	"starship_class": "Deep Space Mobile Battlestation",
	"api": [
		"GET   /v1",
		"GET   /v1/healthz",
		"POST  /v1/request-landing",
		"PUT   /v1/cargobay",
		"GET   /v1/hyper-matter-reactor/status",
		"PUT   /v1/exhaust-port"
	]
}
`;

const PANIC = `Panic: deathstar exploded

goroutine 1 [running]:
main.HandleGarbage(0x2080c3f50, 0x2, 0x4, 0x425c0, 0x5, 0xa)
        /code/src/github.com/empire/deathstar/
        temp/main.go:9 +0x64
main.main()
        /code/src/github.com/empire/deathstar/
        temp/main.go:5 +0x85
`;

function reply(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  // Drain any request body before answering so keep-alive connections stay usable.
  req.resume();
  req.on('end', () => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && (path === '/v1' || path === '/v1/')) return reply(res, 200, INFO);
    if (req.method === 'GET' && path === '/v1/healthz') return reply(res, 200, 'OK\n');
    if (req.method === 'POST' && path === '/v1/request-landing') return reply(res, 200, 'Ship landed\n');
    // The real service panics and restarts; a demo backend that other steps still need just answers 503.
    if (req.method === 'PUT' && path === '/v1/exhaust-port') return reply(res, 503, PANIC);
    reply(res, 404, 'Not found\n');
  });
}

export interface Deathstar {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startDeathstar(host = '127.0.0.1', port = 0): Promise<Deathstar> {
  const server = http.createServer({ keepAliveTimeout: 65_000 }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
