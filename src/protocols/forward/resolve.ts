// Where a forward-proxy target name goes: the listener's static `hosts:` map first (tests, air-gapped setups), then
// the system resolver. The proxy connects to an address it resolved and decided itself, never to a name, so the
// address policy saw is the address used (a DNS answer that changes between check and connect cannot slip through).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ForwardListenerOptions } from '../../config/types.js';

export interface ResolvedTarget {
  /** DNS names the destination was reached by (lower-case, no trailing dot); empty for an IP literal. */
  readonly names: readonly string[];
  /** Addresses to try, in resolver order. */
  readonly addresses: readonly string[];
}

export class ResolveError extends Error {
  override readonly name = 'ResolveError';
  constructor(
    message: string,
    /** The request named something that is not a host: 400, not 502. */
    readonly badRequest = false,
  ) {
    super(message);
  }
}

// RFC 1123 host names; `_` appears in real service names and Cilium's patterns accept it.
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?(\.[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?)*$/;

export class TargetResolver {
  constructor(private readonly options: Pick<ForwardListenerOptions, 'hosts' | 'systemResolver' | 'resolveTimeoutMs'>) {}

  /** `host` as the client wrote it (brackets allowed around IPv6). Rejects with ResolveError. */
  async resolve(host: string): Promise<ResolvedTarget> {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    if (isIP(bare) !== 0) return { names: [], addresses: [bare] };
    const name = bare.toLowerCase().replace(/\.$/, '');
    if (!HOST_NAME.test(name)) throw new ResolveError(`${JSON.stringify(host.slice(0, 100))} is not a host name`, true);
    const fixed = this.options.hosts.get(name);
    if (fixed !== undefined) return { names: [name], addresses: fixed };
    if (!this.options.systemResolver) throw new ResolveError(`${name} is not in the listener's hosts and the system resolver is off`);
    return { names: [name], addresses: await this.lookup(name) };
  }

  private async lookup(name: string): Promise<string[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ResolveError(`resolving ${name} timed out after ${this.options.resolveTimeoutMs} ms`)), this.options.resolveTimeoutMs);
    });
    try {
      const answers = await Promise.race([lookup(name, { all: true, verbatim: true }), timeout]);
      if (answers.length === 0) throw new ResolveError(`${name} has no addresses`);
      return answers.map((a) => a.address);
    } catch (err) {
      if (err instanceof ResolveError) throw err;
      const code = (err as { code?: unknown }).code;
      throw new ResolveError(`cannot resolve ${name}${typeof code === 'string' ? ` (${code})` : ''}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
