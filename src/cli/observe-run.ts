// `portcullis observe`: reads flow records from a file, stdin or a running Portcullis' admin /flows, keeps those
// the filters pass, and prints them (flow-line.ts renders). Lines that are not flow records are skipped with a
// warning each (a bounded number of them); records the proxy could not send a slow watcher are reported as lost.
import { stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { loadConfig } from '../config/load.js';
import { DEFAULT_LAST, MAX_LAST } from '../observe/admin-flows.js';
import { followFile, linesBackward } from '../observe/flow-file-read.js';
import { flowFilter, type FlowFilter, type FlowFilterOptions } from '../observe/flow-filter.js';
import { FlowTable, parseFlowLine, renderCompact, type FlowJson } from '../observe/flow-line.js';

export interface ObserveOptions extends FlowFilterOptions {
  readonly config?: string;
  readonly server?: string;
  readonly follow?: boolean;
  readonly last?: number;
  readonly output: 'compact' | 'json' | 'table';
}

/** Bad lines warned about one by one; after this many, one last warning says the rest are skipped silently. */
const MAX_WARNINGS = 10;
/** With filters and no --follow, the admin is asked for this many records per one wanted, to find --last matches. */
const FILTER_WINDOW = 50;

interface ShownFlow {
  readonly flow: FlowJson;
  readonly text: string;
}

/** Parses, filters and prints; counts what it skipped. */
class Printer {
  readonly #filter: FlowFilter;
  readonly #table = new FlowTable();
  #warnings = 0;

  constructor(private readonly o: ObserveOptions) {
    this.#filter = flowFilter(o);
  }

  /** The record on `line` if it passes the filters; a bad line is warned about, a lost-events notice reported. */
  accept(line: string): ShownFlow | undefined {
    if (line.trim() === '') return undefined;
    const parsed = parseFlowLine(line);
    if (parsed.kind === 'flow') return this.#filter(parsed.flow) ? parsed : undefined;
    if (parsed.kind === 'lost') warn(`${parsed.count} flow record${parsed.count === 1 ? ' was' : 's were'} lost: this watcher fell behind the proxy`);
    else if (this.#warnings++ < MAX_WARNINGS) warn(`skipped a line that is ${parsed.why}: ${line.length > 60 ? `${line.slice(0, 60)}…` : line}`);
    else if (this.#warnings === MAX_WARNINGS + 1) warn('more lines that are not flow records are skipped without a warning');
    return undefined;
  }

  print(records: readonly ShownFlow[]): void {
    if (records.length === 0) return;
    let out: string;
    if (this.o.output === 'json') out = records.map((r) => `${r.text}\n`).join('');
    else if (this.o.output === 'table') out = this.#table.render(records.map((r) => r.flow));
    else out = records.map((r) => `${renderCompact(r.flow)}\n`).join('');
    process.stdout.write(out);
  }

  /** Accepts and prints one chunk's lines together (one table batch). */
  printLines(lines: readonly string[]): void {
    this.print(lines.map((l) => this.accept(l)).filter((r): r is ShownFlow => r !== undefined));
  }
}

function warn(message: string): void {
  process.stderr.write(`portcullis observe: ${message}\n`);
}

function hasFilters(o: FlowFilterOptions): boolean {
  return [o.verdict, o.from, o.to, o.listener, o.protocol, o.httpStatus, o.type].some((v) => v !== undefined && v.length > 0);
}

export async function observe(file: string | undefined, o: ObserveOptions): Promise<number> {
  // `| head` closing the pipe is the reader being done, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const printer = new Printer(o);
  const last = o.last ?? (o.follow ? 0 : DEFAULT_LAST);
  try {
    if (file === '-') await fromStdin(printer);
    else if (file !== undefined) await fromFile(file, printer, last, o.follow === true);
    else await fromAdmin(adminUrl(o), printer, last, o);
    return 0;
  } catch (e) {
    warn((e as Error).message);
    return 1;
  }
}

async function fromFile(path: string, printer: Printer, last: number, follow: boolean): Promise<void> {
  const size = await stat(path).then(
    (s) => s.size,
    (e: NodeJS.ErrnoException) => {
      throw new Error(`cannot read ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    },
  );
  // Read from the end: the last matches cost what they span, not the whole file.
  const history: ShownFlow[] = [];
  if (last > 0) {
    for await (const line of linesBackward(path, size)) {
      const record = printer.accept(line);
      if (record !== undefined && history.push(record) >= last) break;
    }
  }
  printer.print(history.reverse());
  if (!follow) return;
  for await (const chunk of followFile(path, size, stopSignal())) printer.printLines(chunk.toString('utf8').split('\n'));
}

/** Stdin is a stream: every line is printed as it comes (--last does not apply). */
async function fromStdin(printer: Printer): Promise<void> {
  for await (const lines of wholeLines(process.stdin)) printer.printLines(lines);
}

/** The admin endpoint's base URL: --server, else the admin address of the config. */
function adminUrl(o: ObserveOptions): string {
  if (o.server !== undefined) {
    let url: URL;
    try {
      url = new URL(o.server);
    } catch {
      throw new Error(`--server "${o.server}": expected a URL like http://127.0.0.1:9901`);
    }
    if (url.protocol !== 'http:') throw new Error(`--server "${o.server}": the admin endpoint speaks http://`);
    return url.href.replace(/\/$/, '');
  }
  const file = o.config ?? 'portcullis.yaml';
  const parsed = loadConfig(file);
  if (parsed.config === undefined) throw new Error(`${file}: ${parsed.errors[0]?.message ?? 'not a valid config'} (give a flow file, - for stdin, or --server)`);
  const admin = parsed.config.admin;
  if (admin === undefined) throw new Error(`${file}: the admin endpoint is off (admin: off), so there is no live flow stream; read the flow file instead`);
  if (admin.port === 0) throw new Error(`${file}: the admin endpoint listens on port 0 (chosen at start): give --server with the port it logged`);
  // An admin bound to every interface is reached on loopback.
  const host = admin.host === '0.0.0.0' || admin.host === '' ? '127.0.0.1' : admin.host === '::' ? '::1' : admin.host;
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${admin.port}`;
}

async function fromAdmin(base: string, printer: Printer, last: number, o: ObserveOptions): Promise<void> {
  // Filters apply here, so for the last n matches a wider window of records is asked for; a followed stream's
  // history cannot be told from what follows, so it is asked for exactly.
  const window = o.follow || !hasFilters(o) ? last : Math.min(MAX_LAST, Math.max(last * FILTER_WINDOW, 10_000));
  const url = `${base}/flows?last=${window}${o.follow ? '&follow=1' : ''}`;
  const signal = o.follow ? stopSignal() : undefined;
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`cannot reach ${base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  if (res.status !== 200 || res.body === null) throw new Error(`${url}: ${res.status} ${(await res.text()).trim()}`);
  if (res.headers.get('portcullis-flow-history') === 'none' && !o.follow) {
    warn('this Portcullis writes flows to stdout and keeps no history: use --follow to watch them live');
  }
  if (o.follow) {
    for await (const lines of wholeLines(res.body, signal)) printer.printLines(lines);
    return;
  }
  const matches: ShownFlow[] = [];
  for await (const lines of wholeLines(res.body)) {
    for (const line of lines) {
      const record = printer.accept(line);
      if (record !== undefined) matches.push(record);
    }
  }
  printer.print(last === 0 ? [] : matches.slice(-last));
}

/** Whole lines per chunk of a byte stream (a line split across chunks waits for its end). */
async function* wholeLines(stream: AsyncIterable<Uint8Array>, signal?: AbortSignal): AsyncGenerator<string[]> {
  const decoder = new TextDecoder();
  let partial = '';
  try {
    for await (const chunk of stream) {
      const text = partial + decoder.decode(chunk, { stream: true });
      const end = text.lastIndexOf('\n');
      if (end < 0) {
        partial = text;
        continue;
      }
      partial = text.slice(end + 1);
      yield text.slice(0, end).split('\n');
    }
  } catch (e) {
    if (signal?.aborted) return; // interrupted while following
    throw e;
  }
  if (partial !== '') yield [partial];
}

/** Aborts on SIGINT/SIGTERM, so a followed source is closed and the command exits 0. */
function stopSignal(): AbortSignal {
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return abort.signal;
}
