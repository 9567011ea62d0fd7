// Which proxy address fronts which broker. A client bootstraps through the main listener, then connects
// to the brokers a Metadata or FindCoordinator response names; the proxy rewrites those to addresses of
// its own — one listener per broker node id — so every connection to every broker goes through policy.
// A broker advertising exactly the bootstrap address is fronted by the main listener itself; any other
// gets a listener of its own, opened the first time a response names it (on the port configured for
// that node id, else one the OS picks) and kept until the listener closes.
import type { KafkaBrokerAddress } from './deny.js';
import type { KafkaBrokerEndpoint } from './broker-addresses.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** A listener fronting one broker: each connection it accepts goes to `upstream`, which follows the address the broker advertises. */
export interface NodeListener {
  readonly port: number;
  upstream: HostPort;
  close(): Promise<void>;
}

export type OpenNodeListener = (nodeId: number, upstream: HostPort) => Promise<NodeListener>;

export class KafkaBrokerDirectory {
  private readonly nodes = new Map<number, NodeListener>();
  private readonly opening = new Map<number, Promise<void>>();
  /** Node ids seen advertising the bootstrap address (fronted by the main listener). */
  private readonly mainNodes = new Set<number>();
  private closed = false;

  constructor(
    private readonly bootstrap: HostPort,
    private readonly mainPort: () => number,
    private readonly openNode: OpenNodeListener,
  ) {}

  /** The proxy address for `broker` (clients reach it at `host`), or undefined when its listener is not open yet. */
  proxyAddress(broker: KafkaBrokerEndpoint, host: string): HostPort | undefined {
    if (broker.host === this.bootstrap.host && broker.port === this.bootstrap.port) {
      this.mainNodes.add(broker.nodeId);
      return { host, port: this.mainPort() };
    }
    const node = this.nodes.get(broker.nodeId);
    if (node === undefined) return undefined;
    // A broker may come back on another address; new connections follow it.
    if (node.upstream.host !== broker.host || node.upstream.port !== broker.port) node.upstream = { host: broker.host, port: broker.port };
    return { host, port: node.port };
  }

  /** Opens listeners for brokers that have none; rejects when one cannot be opened. */
  async open(brokers: readonly KafkaBrokerEndpoint[]): Promise<void> {
    await Promise.all(brokers.map((b) => this.openOne(b)));
  }

  private openOne(broker: KafkaBrokerEndpoint): Promise<void> {
    if (this.nodes.has(broker.nodeId)) return Promise.resolve();
    let opening = this.opening.get(broker.nodeId);
    if (opening === undefined) {
      opening = this.openNode(broker.nodeId, { host: broker.host, port: broker.port })
        .then((node) => (this.closed ? node.close() : void this.nodes.set(broker.nodeId, node)))
        .finally(() => this.opening.delete(broker.nodeId));
      this.opening.set(broker.nodeId, opening);
    }
    return opening;
  }

  /** Every broker seen so far, at its proxy address (for answers the proxy makes itself). */
  known(host: string): KafkaBrokerAddress[] {
    const main = [...this.mainNodes].map((nodeId) => ({ nodeId, host, port: this.mainPort() }));
    const others = [...this.nodes].map(([nodeId, n]) => ({ nodeId, host, port: n.port }));
    return [...main, ...others].sort((a, b) => a.nodeId - b.nodeId);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.opening.values()]);
    await Promise.all([...this.nodes.values()].map((n) => n.close()));
    this.nodes.clear();
  }
}
