// Benchmark peer: @fastify/http-proxy in front of the upstream (listen host/port, upstream URL from argv).
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';

const [host = '127.0.0.1', port = '0', upstream = 'http://127.0.0.10:8000'] = process.argv.slice(2);
const app = Fastify({ logger: false });
await app.register(proxy, { upstream, http: { agentOptions: { keepAlive: true } } } as never);
await app.listen({ host, port: Number(port) });
