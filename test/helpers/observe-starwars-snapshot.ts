// A real policy snapshot (the engine's buildSnapshot) of the Star Wars L7 demo policy, for observe tests.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EndpointConfig } from '../../src/config/types.js';
import { buildSnapshot, formatSourceError, parsePolicyText } from '../../src/policy/index.js';
import type { Peer, PolicySnapshot } from '../../src/policy/index.js';

export const STARWARS_POLICY = fileURLToPath(new URL('../../../policies/starwars/sw_l3_l4_l7_policy.yaml', import.meta.url));

function endpoint(name: string, labels: Record<string, string>, address: string): EndpointConfig {
  return { name, namespace: 'default', labels, addresses: [address], identities: [], file: 'portcullis.yaml', line: 1 };
}

export const STARWARS_ENDPOINTS: readonly EndpointConfig[] = [
  endpoint('deathstar', { org: 'empire', class: 'deathstar' }, '127.0.0.10'),
  endpoint('tiefighter', { org: 'empire', class: 'tiefighter' }, '127.0.0.2'),
  endpoint('xwing', { org: 'alliance', class: 'xwing' }, '127.0.0.3'),
];

export function starwarsSnapshot(revision: number): PolicySnapshot {
  const { documents, errors } = parsePolicyText(readFileSync(STARWARS_POLICY, 'utf8'), STARWARS_POLICY);
  const built = buildSnapshot({ documents, endpoints: STARWARS_ENDPOINTS, enforcement: 'default', audit: false, revision });
  const all = [...errors, ...built.errors];
  if (!built.snapshot || all.length > 0) throw new Error(all.map(formatSourceError).join('\n'));
  return built.snapshot;
}

/** The registered endpoint `name` as a flow peer at its configured address. */
export function peer(snapshot: PolicySnapshot, name: string): Peer {
  const ep = snapshot.endpoints.byName(name);
  if (!ep) throw new Error(`no endpoint ${name}`);
  return { identity: ep.identity, address: ep.addresses[0] };
}
