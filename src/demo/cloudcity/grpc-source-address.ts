// Lets a @grpc/grpc-js client connect from a chosen local address, so a demo or test client has its own
// identity on loopback (Portcullis decides by source address). grpc-js has no `localAddress` option, but
// it hands resolved addresses to `net.connect` as they are; this resolver adds `localAddress` to them.
// Target form: `portcullis-from://<local address>/<host>:<port>`.
import grpc from '@grpc/grpc-js';
import type { ChannelOptions } from '@grpc/grpc-js';

const { experimental } = grpc;
const SCHEME = 'portcullis-from';

class SourceAddressResolver implements grpc.experimental.Resolver {
  // A fixed address resolves once; answering every re-resolution request (grpc-js asks after each failed
  // connection) would spin on process.nextTick and starve the event loop.
  private answered = false;

  constructor(
    private readonly target: grpc.experimental.GrpcUri,
    private readonly listener: grpc.experimental.ResolverListener,
  ) {}

  updateResolution(): void {
    if (this.answered) return;
    this.answered = true;
    process.nextTick(() => {
      const hostPort = experimental.splitHostPort(this.target.path);
      const localAddress = this.target.authority;
      if (hostPort === null || hostPort.port === undefined || !localAddress) {
        const details = `bad ${SCHEME} target ${experimental.uriToString(this.target)}`;
        this.listener(experimental.statusOrFromError({ code: grpc.status.UNAVAILABLE, details }), {}, null, '');
        return;
      }
      const address = { host: hostPort.host, port: hostPort.port, localAddress };
      this.listener(experimental.statusOrFromValue([{ addresses: [address] }]), {}, null, '');
    });
  }

  destroy(): void {
    this.answered = false;
  }

  static getDefaultAuthority(target: grpc.experimental.GrpcUri): string {
    return target.path;
  }
}

let registered = false;

/** The grpc-js target and channel options for a client at `localAddress` talking to `host:port`. */
export function fromAddress(localAddress: string, host: string, port: number): { target: string; options: ChannelOptions } {
  if (!registered) {
    experimental.registerResolver(SCHEME, SourceAddressResolver);
    registered = true;
  }
  return {
    target: `${SCHEME}://${localAddress}/${host}:${port}`,
    // grpc-js shares subchannels between clients by remote address: keep each client's own source address.
    options: { 'grpc.use_local_subchannel_pool': 1 },
  };
}
