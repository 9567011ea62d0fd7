// The endpoint registry: who a peer is. Endpoints come from portcullis.yaml; a source address resolves
// to the endpoint with the longest matching address/prefix, else reserved:host for this machine's own
// addresses, else reserved:world. Verified client-certificate names resolve through `identities`.
import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { EndpointConfig } from '../config/types.js';
import type { Endpoint, EndpointRegistry, Identity, SourceError } from './types.js';
import { cidrContains, formatIp, parseCidr, parseIp } from './ip.js';
import type { Cidr } from './ip.js';
import { NAMESPACE_LABEL, CLUSTER_LABEL, endpointLabels, labelKeyProblem, labelValueProblem } from './labels.js';
import { endpointIdentity, reservedIdentity } from './identity.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** This machine's addresses: every interface address, plus all of 127.0.0.0/8 and ::1. */
export function defaultLocalAddresses(): string[] {
  const out = ['127.0.0.0/8', '::1'];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.push(a.address);
  return out;
}

class Registry implements EndpointRegistry {
  private readonly exact = new Map<string, Endpoint>();
  private readonly prefixes: Array<{ cidr: Cidr; endpoint: Endpoint }> = [];
  private readonly byCert = new Map<string, Endpoint>();

  constructor(
    private readonly endpoints: readonly Endpoint[],
    cidrs: ReadonlyMap<Endpoint, readonly Cidr[]>,
    private readonly local: readonly Cidr[],
  ) {
    for (const ep of endpoints) {
      for (const cidr of cidrs.get(ep) ?? []) {
        const full = cidr.prefix === (cidr.family === 4 ? 32 : 128);
        if (full) this.exact.set(formatIp(cidr), ep);
        else this.prefixes.push({ cidr, endpoint: ep });
      }
      for (const name of ep.certIdentities) this.byCert.set(name, ep);
    }
    this.prefixes.sort((a, b) => b.cidr.prefix - a.cidr.prefix);
  }

  list(): readonly Endpoint[] {
    return this.endpoints;
  }

  byName(name: string): Endpoint | undefined {
    const slash = name.indexOf('/');
    if (slash < 0) return this.endpoints.find((e) => e.name === name);
    const ns = name.slice(0, slash);
    const n = name.slice(slash + 1);
    return this.endpoints.find((e) => e.namespace === ns && e.name === n);
  }

  resolveAddress(address: string): Identity {
    const ip = parseIp(address);
    if (!ip) return this.reserved('world');
    // A plain dotted quad is already canonical; only IPv6 forms need formatting.
    const exact = this.exact.get(isIPv4(address) ? address : formatIp(ip));
    if (exact) return exact.identity;
    for (const { cidr, endpoint } of this.prefixes) if (cidrContains(cidr, ip)) return endpoint.identity;
    return this.local.some((c) => cidrContains(c, ip)) ? this.reserved('host') : this.reserved('world');
  }

  resolveCertificate(names: readonly string[]): Identity | undefined {
    for (const n of names) {
      const ep = this.byCert.get(n);
      if (ep) return ep.identity;
    }
    return undefined;
  }

  reserved(name: string): Identity {
    const id = reservedIdentity(name);
    if (!id) throw new Error(`unknown reserved identity "${name}"`);
    return id;
  }
}

/** Validates the endpoints of the config and builds the registry (undefined when anything is wrong). */
export function buildEndpointRegistry(
  configs: readonly EndpointConfig[],
  localAddresses: readonly string[] = defaultLocalAddresses(),
): { registry?: EndpointRegistry; errors: SourceError[] } {
  const errors: SourceError[] = [];
  const endpoints: Endpoint[] = [];
  const cidrs = new Map<Endpoint, Cidr[]>();
  const names = new Map<string, EndpointConfig>();
  const addressOwner = new Map<string, EndpointConfig>();
  const certOwner = new Map<string, EndpointConfig>();

  configs.forEach((c, i) => {
    const err = (path: string, message: string) => errors.push({ file: c.file, line: c.line, column: 1, path: `endpoints[${i}]${path}`, message });
    const before = errors.length;
    if (!c.name) err('.name', 'endpoint name is required');
    if (c.namespace.length > 63 || !DNS_LABEL.test(c.namespace)) err('.namespace', `invalid namespace "${c.namespace}": must be a lower-case DNS label`);
    const qualified = `${c.namespace}/${c.name}`;
    const dup = names.get(qualified);
    if (dup) err('.name', `duplicate endpoint ${qualified} (also declared at ${dup.file}:${dup.line})`);
    names.set(qualified, c);
    for (const [key, value] of Object.entries(c.labels)) {
      if (key === NAMESPACE_LABEL || key === CLUSTER_LABEL) err(`.labels.${key}`, `label ${key} is set by Portcullis (from namespace / cluster)`);
      const problem = labelKeyProblem(key) ?? labelValueProblem(value);
      if (problem) err(`.labels.${key}`, problem);
    }
    const own: Cidr[] = [];
    c.addresses.forEach((a, j) => {
      const cidr = parseCidr(a);
      if (!cidr) return err(`.addresses[${j}]`, `invalid address "${a}" (expected an IP address or CIDR)`);
      const owner = addressOwner.get(cidr.text);
      if (owner && owner !== c) return err(`.addresses[${j}]`, `address ${cidr.text} is already used by endpoint ${owner.namespace}/${owner.name}`);
      addressOwner.set(cidr.text, c);
      own.push(cidr);
    });
    c.identities.forEach((name, j) => {
      const owner = certOwner.get(name);
      if (owner && owner !== c) err(`.identities[${j}]`, `identity "${name}" is already used by endpoint ${owner.namespace}/${owner.name}`);
      certOwner.set(name, c);
    });
    if (errors.length !== before) return;
    const ep: Endpoint = Object.freeze({
      name: c.name,
      namespace: c.namespace,
      labels: c.labels,
      addresses: c.addresses,
      certIdentities: c.identities,
      identity: endpointIdentity(endpointLabels(c.labels, c.namespace), c.name, c.namespace),
    });
    endpoints.push(ep);
    cidrs.set(ep, own);
  });

  const local: Cidr[] = [];
  for (const a of localAddresses) {
    const cidr = parseCidr(a);
    if (cidr) local.push(cidr);
    else errors.push({ file: '<localAddresses>', line: 1, column: 1, path: '', message: `invalid local address "${a}"` });
  }
  if (errors.length > 0) return { errors };
  return { registry: new Registry(endpoints, cidrs, local), errors };
}
