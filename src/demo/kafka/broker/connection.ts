// One client connection. Requests are served one at a time, in arrival order, like Kafka's network
// layer (which mutes a channel until its response is sent): responses stay in request order even
// when a Fetch long-polls or a JoinGroup waits for the rest of the group. Anything that is not valid
// Kafka for the versions this broker speaks closes the connection; nothing a client sends can throw
// out of here.
import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  ApiKey,
  buildApiVersionsFallbackResponse,
  decodeRequest,
  decodeRequestHeader,
  encodeResponse,
  KafkaDecodeError,
  KafkaFrameReader,
  KAFKA_APIS,
  type KafkaRequestHeader,
} from '../../../protocols/kafka/codec/index.js';
import { CloseConnection, NO_RESPONSE, type BrokerState } from './context.js';
import { HANDLERS } from './handlers/index.js';

/** Frames read ahead while one is being served; past this the socket is paused (backpressure). */
const MAX_QUEUED_FRAMES = 64;

export class BrokerConnection {
  private readonly reader: KafkaFrameReader;
  private readonly queue: Buffer[] = [];
  private serving = false;
  /** Aborts when the socket closes (also how a stopping broker ends long polls: it destroys every socket). */
  private readonly closed = new AbortController();
  private readonly signal = this.closed.signal;
  private readonly log: Logger;

  constructor(
    private readonly socket: Socket,
    private readonly broker: BrokerState,
    maxFrameSize: number,
  ) {
    this.reader = new KafkaFrameReader({ maxFrameSize });
    this.log = broker.log.child({ client: `${socket.remoteAddress}:${socket.remotePort}` });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'client socket error'));
    socket.on('close', () => this.closed.abort());
  }

  private onData(chunk: Buffer): void {
    try {
      for (const frame of this.reader.push(chunk)) this.queue.push(frame);
    } catch (err) {
      return this.close(err);
    }
    if (this.queue.length >= MAX_QUEUED_FRAMES) this.socket.pause();
    void this.serveQueued();
  }

  private async serveQueued(): Promise<void> {
    if (this.serving) return;
    this.serving = true;
    try {
      for (let frame = this.queue.shift(); frame && !this.signal.aborted; frame = this.queue.shift()) {
        const response = await this.serve(frame);
        if (this.queue.length < MAX_QUEUED_FRAMES / 2 && this.socket.isPaused()) this.socket.resume();
        if (!response || this.socket.destroyed) continue;
        if (!this.socket.write(response)) await once(this.socket, 'drain', { signal: this.signal });
      }
    } catch (err) {
      this.close(err);
    } finally {
      this.serving = false;
    }
  }

  /** The response frame for one request frame, or undefined when none is due. */
  private async serve(frame: Buffer): Promise<Buffer | undefined> {
    const header = decodeRequestHeader(frame);
    const range = this.broker.apiVersions.get(header.apiKey);
    const handler = HANDLERS.get(header.apiKey);
    if (!range || !handler) throw new CloseConnection(`${apiName(header)} is not supported by the demo broker`);
    if (header.apiVersion < range.minVersion || header.apiVersion > range.maxVersion) {
      // KIP-511: answer an unknown ApiVersions version with v0 and error 35, so the client retries lower.
      if (header.apiKey === ApiKey.ApiVersions) return buildApiVersionsFallbackResponse(header.correlationId, this.broker.apiVersions);
      throw new CloseConnection(`${apiName(header)} v${header.apiVersion} is not supported (serving v${range.minVersion}-${range.maxVersion})`);
    }
    const { body } = decodeRequest(frame);
    this.log.debug({ api: apiName(header), version: header.apiVersion, correlationId: header.correlationId, clientId: header.clientId }, 'request');
    const result = await handler({ header, body, broker: this.broker, signal: this.signal });
    return result === NO_RESPONSE ? undefined : encodeResponse(header.apiKey, header.apiVersion, header.correlationId, result);
  }

  private close(err: unknown): void {
    if (err instanceof KafkaDecodeError || err instanceof CloseConnection) {
      this.log.warn({ reason: err.message }, 'closing Kafka client connection');
    } else if (!this.signal.aborted) {
      // A bug of ours: keep serving other clients.
      this.log.error({ err }, 'demo broker failed to serve a request; closing the connection');
    }
    this.socket.destroy();
  }
}

function apiName(header: KafkaRequestHeader): string {
  return KAFKA_APIS.get(header.apiKey)?.name ?? `API key ${header.apiKey}`;
}
