// A real @grpc/grpc-js server and client for pass-through tests, with raw-bytes messages (no .proto): the
// proxy must not care what the messages are, and tests compare bytes exactly. The server reflects metadata
// (request `x-*` keys come back as response headers, and `x-trailer`/`x-trailer-bin` are sent as trailers)
// and remembers cancellations, so both directions of every feature can be asserted.
import { createHash } from 'node:crypto';
import grpc from '@grpc/grpc-js';
import type { Client, ClientOptions, Metadata, ServerDuplexStream, ServerReadableStream, ServerUnaryCall, ServerWritableStream, ServiceDefinition } from '@grpc/grpc-js';
import { fromAddress } from '../../src/demo/cloudcity/grpc-source-address.js';

const identity = (b: Buffer) => b;
const method = (path: string, requestStream: boolean, responseStream: boolean) => ({
  path,
  requestStream,
  responseStream,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

/** `/test.Echo/<Method>`: Unary echoes, Collect hashes a client stream, Spray streams N messages, Chat echoes each, Hang never answers. */
export const ECHO_SERVICE = {
  Unary: method('/test.Echo/Unary', false, false),
  Collect: method('/test.Echo/Collect', true, false),
  Spray: method('/test.Echo/Spray', false, true),
  Chat: method('/test.Echo/Chat', true, true),
  Hang: method('/test.Echo/Hang', false, false),
} satisfies ServiceDefinition;

/** Messages up to 64 MiB both ways (grpc-js defaults to 4 MiB). */
const UNLIMITED = { 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 };

export interface EchoServer {
  readonly port: number;
  /** Calls the server saw cancelled (by client cancel, deadline, or proxy reset), by method name. */
  readonly cancelled: string[];
  /** Metadata of the last call, as the server received it. */
  lastMetadata?: Metadata;
  close(): Promise<void>;
  /** Shuts down at once: open calls are reset (RST_STREAM) and connections closed. */
  kill(): void;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function startEchoServer(host: string): Promise<EchoServer> {
  const server = new grpc.Server(UNLIMITED);
  const state: EchoServer = {
    port: 0,
    cancelled: [],
    close: () => new Promise<void>((r) => server.tryShutdown(() => r())),
    kill: () => server.forceShutdown(),
  };
  const reflect = (call: { metadata: Metadata; sendMetadata(m: Metadata): void }) => {
    state.lastMetadata = call.metadata;
    const head = new grpc.Metadata();
    for (const [key, value] of Object.entries(call.metadata.getMap())) if (key.startsWith('x-') && !key.startsWith('x-forwarded')) head.set(key, value);
    call.sendMetadata(head);
  };
  const trailers = () => {
    const t = new grpc.Metadata();
    t.set('x-trailer', 'sent-after-body');
    t.set('x-trailer-bin', Buffer.from([0, 1, 2, 254, 255]));
    return t;
  };
  const watchCancel = (name: string, call: { on(event: 'cancelled', f: () => void): unknown }) => call.on('cancelled', () => state.cancelled.push(name));
  server.addService(ECHO_SERVICE, {
    Unary(call: ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      reflect(call);
      done(null, call.request, trailers());
    },
    Collect(call: ServerReadableStream<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      reflect(call);
      const hash = createHash('sha256');
      let count = 0;
      call.on('data', (m: Buffer) => {
        count++;
        hash.update(m);
      });
      call.on('end', () => done(null, Buffer.from(`${count}:${hash.digest('hex')}`), trailers()));
      watchCancel('Collect', call);
    },
    Spray(call: ServerWritableStream<Buffer, Buffer>) {
      reflect(call);
      const { count, size } = JSON.parse(call.request.toString()) as { count: number; size: number };
      watchCancel('Spray', call);
      let i = 0;
      const write = () => {
        while (i < count) {
          const m = Buffer.alloc(size, i % 251);
          m.writeUInt32BE(i, 0);
          i++;
          if (!call.write(m)) return void call.once('drain', write);
        }
        call.end(trailers());
      };
      write();
    },
    Chat(call: ServerDuplexStream<Buffer, Buffer>) {
      reflect(call);
      watchCancel('Chat', call);
      call.on('data', (m: Buffer) => call.write(m));
      call.on('end', () => call.end(trailers()));
    },
    Hang(call: ServerUnaryCall<Buffer, Buffer>) {
      reflect(call);
      watchCancel('Hang', call);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return Object.assign(state, { port });
}

// grpc-js types generic clients' methods loosely; tests call them with the argument shapes grpc-js documents.
export type EchoClient = Client & Record<keyof typeof ECHO_SERVICE, (...args: any[]) => any>;

/** A client of the echo service at `host:port`, connecting from `localAddress`. */
export function echoClient(localAddress: string, host: string, port: number, extra: ClientOptions = {}): EchoClient {
  const Ctor = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  const { target, options } = fromAddress(localAddress, host, port);
  return new Ctor(target, grpc.credentials.createInsecure(), { ...options, ...UNLIMITED, ...extra }) as unknown as EchoClient;
}

/** Promise form of a unary call: resolves with the reply, the response metadata and the trailers, or the error. */
export function unary(
  client: EchoClient,
  name: 'Unary' | 'Hang',
  request: Buffer,
  metadata = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): Promise<{ reply?: Buffer; error?: grpc.ServiceError; headers?: Metadata; trailers?: Metadata }> {
  return new Promise((resolve) => {
    const out: { reply?: Buffer; error?: grpc.ServiceError; headers?: Metadata; trailers?: Metadata } = {};
    const call = client[name](request, metadata, options, (error: grpc.ServiceError | null, reply: Buffer) => {
      if (error) out.error = error;
      else out.reply = reply;
    }) as grpc.ClientUnaryCall;
    call.on('metadata', (m: Metadata) => (out.headers = m));
    call.on('status', (s: grpc.StatusObject) => {
      out.trailers = s.metadata;
      // The callback runs before 'status'; resolve on the next tick so both are in.
      setImmediate(() => resolve(out));
    });
  });
}
