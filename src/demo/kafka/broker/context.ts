// What every request handler gets: the decoded request, the broker's state, and a signal that fires when
// the connection closes or the broker stops (long-polling handlers give up on it).
import type { Logger } from 'pino';
import { PortcullisError } from '../../../errors.js';
import type { KafkaRequestHeader, KafkaStruct, KafkaVersionTable } from '../../../protocols/kafka/codec/index.js';
import type { GroupCoordinator } from './group-coordinator.js';
import type { TopicRegistry } from './topics.js';

export interface BrokerState {
  readonly nodeId: number;
  readonly clusterId: string;
  /** The address clients are told to connect to (Metadata brokers, FindCoordinator). */
  readonly advertisedHost: string;
  readonly advertisedPort: number;
  /** The APIs and versions served and advertised (BROKER_API_VERSIONS, or an older broker's ApiVersions range). */
  readonly apiVersions: KafkaVersionTable;
  readonly topics: TopicRegistry;
  readonly groups: GroupCoordinator;
  /** A fresh producer id for InitProducerId. */
  allocateProducerId(): bigint;
  readonly log: Logger;
}

export interface RequestContext {
  readonly header: KafkaRequestHeader;
  readonly body: KafkaStruct;
  readonly broker: BrokerState;
  readonly signal: AbortSignal;
}

/** A handler's answer for requests that get no response (Produce with acks=0). */
export const NO_RESPONSE = Symbol('no response');

export type RequestHandler = (ctx: RequestContext) => KafkaStruct | typeof NO_RESPONSE | Promise<KafkaStruct | typeof NO_RESPONSE>;

/** Thrown when the only correct reaction is to close the connection, as Kafka does. */
export class CloseConnection extends PortcullisError {
  readonly code = 'PCL_ERR_DEMO_CLOSE_CONNECTION';
}
