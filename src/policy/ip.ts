// IPv4/IPv6 addresses and CIDR prefixes as bytes, for longest-prefix source resolution and CIDR rules.
// Node has no inet_pton, and net.BlockList cannot tell which of several prefixes is the longest.
import { isIPv4, isIPv6 } from 'node:net';

export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

export interface Cidr extends IpAddress {
  readonly prefix: number;
  /** Canonical text, e.g. `10.0.0.0/8` (host bits cleared). */
  readonly text: string;
}

/** A dotted quad already validated by isIPv4. */
function parseV4(s: string): Uint8Array {
  const out = new Uint8Array(4);
  let octet = 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      out[octet++] = n;
      n = 0;
    } else n = n * 10 + (c - 48);
  }
  out[octet] = n;
  return out;
}

function parseV6(s: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  let text = s;
  // An embedded dotted quad (`::ffff:1.2.3.4`) becomes the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseV4(tail);
    const hex = (a: number, b: number) => ((a << 8) | b).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hex(v4[0]!, v4[1]!)}:${hex(v4[2]!, v4[3]!)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined
    ? headGroups
    : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  if (groups.length !== 8) return undefined;
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** Parses an address; IPv6 zones are dropped and IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes IPv4. */
export function parseIp(text: string): IpAddress | undefined {
  const s = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  if (isIPv4(s)) return { family: 4, bytes: parseV4(s) };
  if (!isIPv6(s)) return undefined;
  const bytes = parseV6(s);
  if (!bytes) return undefined;
  if (V4_MAPPED_PREFIX.every((b, i) => bytes[i] === b)) return { family: 4, bytes: bytes.slice(12) };
  return { family: 6, bytes };
}

function formatBytes(family: 4 | 6, bytes: Uint8Array): string {
  if (family === 4) return Array.from(bytes).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // Compress the longest run of zero groups, as RFC 5952 asks.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Canonical text of an address (IPv4-mapped IPv6 printed as IPv4). */
export function formatIp(ip: IpAddress): string {
  return formatBytes(ip.family, ip.bytes);
}

function masked(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = bytes[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** Parses `addr/len`; a bare address is a full-length prefix. Host bits are cleared, as Go's ParseCIDR does. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip || (slash >= 0 && text.slice(0, slash).includes('%'))) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > max) return undefined;
    prefix = Number(p);
  }
  // An IPv4-mapped IPv6 prefix is kept in IPv6 terms only when it is not a plain IPv4 address.
  if (ip.family === 4 && slash >= 0 && isIPv6(text.slice(0, slash))) return undefined;
  const bytes = masked(ip.bytes, prefix);
  return { family: ip.family, bytes, prefix, text: `${formatBytes(ip.family, bytes)}/${prefix}` };
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family !== ip.family) return false;
  const full = cidr.prefix >> 3;
  for (let i = 0; i < full; i++) if (cidr.bytes[i] !== ip.bytes[i]) return false;
  const rem = cidr.prefix & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (ip.bytes[full]! & mask) === cidr.bytes[full];
}

/** True when every address of `inner` is inside `outer`. */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && inner.prefix >= outer.prefix && cidrContains(outer, inner);
}
