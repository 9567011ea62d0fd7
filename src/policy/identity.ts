// Security identities: Cilium's reserved numbers for reserved identities, and one stable number per
// distinct label set for endpoints. The allocator is module-level so a reload keeps numbers stable.
import type { Identity, Label } from './types.js';
import { SOURCE_RESERVED, formatLabel } from './labels.js';

/** Reserved identities and their numbers (cilium pkg/identity/numericidentity.go). */
export const RESERVED_IDENTITY_IDS: Readonly<Record<string, number>> = {
  host: 1,
  world: 2,
  unmanaged: 3,
  health: 4,
  init: 5,
  'remote-node': 6,
  'kube-apiserver': 7,
  ingress: 8,
  'world-ipv4': 9,
  'world-ipv6': 10,
};

/** Reserved label names a selector may use; `none` selects nothing and has no identity. */
export const RESERVED_LABEL_NAMES: ReadonlySet<string> = new Set([...Object.keys(RESERVED_IDENTITY_IDS), 'none']);

export const WORLD_ID = 2;
export const FIRST_USER_ID = 256;

function makeReserved(name: string, id: number): Identity {
  const labels: Label[] = [{ source: SOURCE_RESERVED, key: name, value: '' }];
  return Object.freeze({ id, labels, labelStrings: labels.map(formatLabel), name });
}

const RESERVED: ReadonlyMap<string, Identity> = new Map(
  Object.entries(RESERVED_IDENTITY_IDS).map(([name, id]) => [name, makeReserved(name, id)]),
);

export function reservedIdentity(name: string): Identity | undefined {
  return RESERVED.get(name);
}

/** Registered endpoints have user identities; everything else (host, world, ...) is reserved. */
export function isEndpointIdentity(identity: Identity): boolean {
  return identity.id >= FIRST_USER_ID;
}

const allocated = new Map<string, number>();
let nextId = FIRST_USER_ID;

/** The number for a label set: equal sets share it, and it never changes within this process. */
function identityIdFor(labelStrings: readonly string[]): number {
  const key = labelStrings.join('\n');
  let id = allocated.get(key);
  if (id === undefined) {
    id = nextId++;
    allocated.set(key, id);
  }
  return id;
}

export function endpointIdentity(labels: readonly Label[], name: string, namespace: string): Identity {
  const labelStrings = labels.map(formatLabel);
  return Object.freeze({ id: identityIdFor(labelStrings), labels, labelStrings, name, namespace });
}

/** How reasons name a peer: `ns/name` for endpoints, `world (1.2.3.4)` for reserved identities. */
export function describeIdentity(identity: Identity, address?: string): string {
  if (identity.namespace !== undefined) return `${identity.namespace}/${identity.name}`;
  return address ? `${identity.name} (${address})` : identity.name;
}
