// HPACK Huffman decoding (RFC 7541 §5.2, Appendix B), four bits at a time through a state table built once
// at load: a state is a node of the code tree, so each nibble costs one table read and emits at most one
// symbol (the shortest code is 5 bits).
import { PortcullisError } from '../../../../errors.js';

/** A malformed header block: the connection fails with COMPRESSION_ERROR. */
export class HpackError extends PortcullisError {
  readonly code = 'PCL_ERR_HPACK';
}

/**
 * Appendix B is a canonical Huffman code, so the code lengths alone define it: one letter per symbol 0..256
 * (256 is EOS), 'a' = 5 bits ... 'z' = 30 bits; codes of a length are consecutive, in symbol order.
 */
const CODE_LENGTHS =
  'isxxxxxxxtzxxzxxxxxxxxzxxxxxxxxxbffhibdgffdgdbbbaaabbbbbbbcdkbhf' +
  'ibccccccccccccccccccccccdcdioijbkabababbbaccbbbabcbaabccccckgjix' +
  'prpprrrsrssssststtrstssssqrsrsstrqprrssqsrrtqrssqqrqsrssprrrsrrs' +
  'vvporsruvvvwwvtuoqvwwvwtqqvvxwwwptpqrqqsrruuttvsvwvvwwwwwxwwwwwv' +
  'z';
const EOS = 256;
const FAIL = 1 << 20;

/** The code tree: node n's children are tree[2n] (bit 0) and tree[2n + 1] (bit 1); a leaf is -1 - symbol. */
function buildTree(): Int16Array {
  const tree = new Int16Array(512);
  const length = (sym: number) => CODE_LENGTHS.charCodeAt(sym) - 92;
  const symbols = Array.from({ length: EOS + 1 }, (_, s) => s).sort((a, b) => length(a) - length(b) || a - b);
  let nodes = 1;
  let code = 0;
  let prev = length(symbols[0]!);
  for (const sym of symbols) {
    const len = length(sym);
    code <<= len - prev;
    prev = len;
    let node = 0;
    for (let bit = len - 1; bit > 0; bit--) {
      const slot = 2 * node + ((code >>> bit) & 1);
      if (tree[slot] === 0) tree[slot] = nodes++;
      node = tree[slot]!;
    }
    tree[2 * node + (code & 1)] = -1 - sym;
    code++;
  }
  return tree;
}

/** TRANSITIONS[state << 4 | nibble]: next state (bits 0-7), emitted symbol + 1 (bits 8-16, 0 = none), or FAIL. */
const TRANSITIONS = new Int32Array(256 * 16);
/** Whether a string may end in this state: at a code boundary, or up to 7 one-bits into EOS (the padding). */
const ACCEPTS = new Uint8Array(256);
{
  const tree = buildTree();
  for (let node = 0, depth = 0; depth <= 7; depth++, node = tree[2 * node + 1]!) ACCEPTS[node] = 1;
  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let emitted = 0;
      for (let bit = 3; bit >= 0 && emitted !== -1; bit--) {
        const next = tree[2 * node + ((nibble >>> bit) & 1)]!;
        if (next >= 0) {
          node = next;
        } else if (next === -1 - EOS) {
          emitted = -1;
        } else {
          emitted = -next;
          node = 0;
        }
      }
      TRANSITIONS[(state << 4) | nibble] = emitted === -1 ? FAIL : node | (emitted << 8);
    }
  }
}

let scratch = Buffer.allocUnsafe(1024);

/** Decodes src[start, end) as latin1 text; throws HpackError on EOS in the string or bad padding. */
export function huffmanDecode(src: Buffer, start: number, end: number): string {
  const most = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < most) scratch = Buffer.allocUnsafe(most);
  const out = scratch;
  let n = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    let t = TRANSITIONS[(state << 4) | (byte >>> 4)]!;
    if (t & FAIL) throw new HpackError('EOS inside a Huffman-coded string');
    if (t >>> 8) out[n++] = (t >>> 8) - 1;
    state = t & 0xff;
    t = TRANSITIONS[(state << 4) | (byte & 15)]!;
    if (t & FAIL) throw new HpackError('EOS inside a Huffman-coded string');
    if (t >>> 8) out[n++] = (t >>> 8) - 1;
    state = t & 0xff;
  }
  if (ACCEPTS[state] === 0) throw new HpackError('Huffman padding is longer than 7 bits or not all ones');
  return out.toString('latin1', 0, n);
}
