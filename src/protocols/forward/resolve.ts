// Where a forward-proxy target name goes: the listener's static `hosts:` map first (tests, air-gapped setups), then
// the system resolver. The proxy connects to an address it resolved and decided itself, never to a name, so the
// address policy saw is the address used (a DNS answer that changes between check and connect cannot slip through).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { PortcullisError } from '../../errors.js';
import { DEFAULT_FORWARD_OPTIONS } from '../../config/load.js';
import type { ForwardListenerOptions } from '../../config/types.js';
import { LookupGate, LookupGateFull } from './lookup-gate.js';

export interface ResolvedTarget {
  /** DNS names the destination was reached by (lower-case, no trailing dot); empty for an IP literal. */
  readonly names: readonly string[];
  /** Addresses to try, in resolver order. */
  readonly addresses: readonly string[];
}

export class ResolveError extends PortcullisError {
  readonly code = 'PCL_ERR_RESOLVE';
  constructor(
    message: string,
    /** The answer to the client: 400 (not a host name), 502 (no address), 503 (too many lookups at once). */
    readonly status: 400 | 502 | 503 = 502,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** The request named something that is not a host. */
  get badRequest(): boolean {
    return this.status === 400;
  }
}

// RFC 1123 host names; `_` appears in real service names and Cilium's patterns accept it.
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?(\.[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?)*$/;

type ResolverOptions = Pick<ForwardListenerOptions, 'hosts' | 'systemResolver' | 'resolveTimeoutMs'> &
  Partial<Pick<ForwardListenerOptions, 'maxConcurrentLookups' | 'maxQueuedLookups'>>;

export class TargetResolver {
  private readonly gate: LookupGate;

  constructor(private readonly options: ResolverOptions) {
    this.gate = new LookupGate(
      options.maxConcurrentLookups ?? DEFAULT_FORWARD_OPTIONS.maxConcurrentLookups,
      options.maxQueuedLookups ?? DEFAULT_FORWARD_OPTIONS.maxQueuedLookups,
    );
  }

  /** `host` as the client wrote it (brackets allowed around IPv6). Rejects with ResolveError. */
  async resolve(host: string): Promise<ResolvedTarget> {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    if (isIP(bare) !== 0) return { names: [], addresses: [bare] };
    const name = bare.toLowerCase().replace(/\.$/, '');
    if (!HOST_NAME.test(name)) throw new ResolveError(`${JSON.stringify(host.slice(0, 100))} is not a host name`, 400);
    const fixed = this.options.hosts.get(name);
    if (fixed !== undefined) return { names: [name], addresses: fixed };
    if (!this.options.systemResolver) throw new ResolveError(`${name} is not in the listener's hosts and the system resolver is off`);
    return { names: [name], addresses: await this.lookup(name) };
  }

  /** The wait for a turn at the gate counts towards `resolveTimeoutMs`. */
  private async lookup(name: string): Promise<string[]> {
    const ms = this.options.resolveTimeoutMs;
    const timedOut = new AbortController();
    const timer = setTimeout(() => timedOut.abort(new ResolveError(`resolving ${name} timed out after ${ms} ms`)), ms);
    const gaveUp = new Promise<never>((_, reject) => timedOut.signal.addEventListener('abort', () => reject(timedOut.signal.reason), { once: true }));
    try {
      const answers = await Promise.race([this.gate.run(() => lookup(name, { all: true, verbatim: true }), timedOut.signal), gaveUp]);
      if (answers.length === 0) throw new ResolveError(`${name} has no addresses`);
      return answers.map((a) => a.address);
    } catch (err) {
      if (err instanceof ResolveError) throw err;
      if (err instanceof LookupGateFull) throw new ResolveError(`too many name lookups in progress (${err.message}): try again later`, 503, { cause: err });
      const code = (err as { code?: unknown }).code;
      throw new ResolveError(`cannot resolve ${name}${typeof code === 'string' ? ` (${code})` : ''}`, 502, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}
