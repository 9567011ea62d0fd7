// A bare Kafka wire client for the demo broker's protocol tests: encodes requests with the Portcullis
// codec over a real socket and decodes the responses in order, so tests can send exactly the versions,
// fields and malformed bytes real clients never would.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { decodeResponse, encodeRequest, KafkaFrameReader, type KafkaStruct } from '../../src/protocols/kafka/codec/index.js';

interface Pending {
  readonly correlationId: number;
  readonly apiKey: number;
  readonly responseVersion: number;
  resolve(body: KafkaStruct): void;
  reject(err: Error): void;
}

export interface KafkaWireRequestOptions {
  /** Version to decode the response with (ApiVersions answers an unsupported version with v0). */
  readonly responseVersion?: number;
  readonly clientId?: string;
}

export class KafkaWireClient {
  private readonly reader = new KafkaFrameReader();
  private readonly pending: Pending[] = [];
  private nextCorrelationId = 1;
  /** Resolves when the broker closes the connection. */
  readonly closed: Promise<void>;
  /** Correlation ids in the order their responses arrived. */
  readonly answered: number[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.reader.push(chunk)) {
        const p = this.pending.shift();
        if (!p) throw new Error('response without a request');
        try {
          const r = decodeResponse(frame, p.apiKey, p.responseVersion);
          this.answered.push(r.correlationId);
          if (r.correlationId !== p.correlationId) throw new Error(`correlation id ${r.correlationId}, expected ${p.correlationId}`);
          p.resolve(r.body);
        } catch (e) {
          p.reject(e as Error);
        }
      }
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('close', () => {
      for (const p of this.pending.splice(0)) p.reject(new Error('connection closed'));
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, localAddress = '127.0.0.1'): Promise<KafkaWireClient> {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    await once(socket, 'connect');
    return new KafkaWireClient(socket);
  }

  /** Send one request; resolves with the decoded response body. */
  request(apiKey: number, apiVersion: number, body: KafkaStruct, opts: KafkaWireRequestOptions = {}): Promise<KafkaStruct> {
    const correlationId = this.send(apiKey, apiVersion, body, opts.clientId);
    return new Promise((resolve, reject) =>
      this.pending.push({ correlationId, apiKey, responseVersion: opts.responseVersion ?? apiVersion, resolve, reject }),
    );
  }

  /** Send an already encoded request frame (e.g. one with a version the codec cannot encode). */
  requestFrame(frame: Buffer, opts: KafkaWireRequestOptions = {}): Promise<KafkaStruct> {
    const apiKey = frame.readInt16BE(4);
    const correlationId = frame.readInt32BE(8);
    this.socket.write(frame);
    return new Promise((resolve, reject) =>
      this.pending.push({ correlationId, apiKey, responseVersion: opts.responseVersion ?? frame.readInt16BE(6), resolve, reject }),
    );
  }

  /** Send a request that gets no response (Produce acks=0); returns its correlation id. */
  send(apiKey: number, apiVersion: number, body: KafkaStruct, clientId = 'wire-test'): number {
    const correlationId = this.nextCorrelationId++;
    this.socket.write(encodeRequest({ apiKey, apiVersion, correlationId, clientId }, body));
    return correlationId;
  }

  close(): void {
    this.socket.destroy();
  }
}
