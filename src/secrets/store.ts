// The secret store: `<root>/<namespace>/<name>/{tls.crt,tls.key,ca.crt}`, resolved the way Cilium's certificate
// manager resolves a TLSContext (default item names silently optional, explicitly named items required), validated
// on load (PEM, key matches certificate, chain order, validity), turned into cached `tls.SecureContext`s, and
// reloaded when the files change. A secret that breaks after a good load keeps serving the last good version and
// reports why; Kubernetes-style `..data` symlink swaps are picked up like any other change.
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { PortcullisError } from '../errors.js';
import type { TlsSecretRef } from '../policy/types.js';
import { FolderWatchers, watchFolder, watchPath, type WatchTargets } from '../config/folder-watchers.js';
import { DEFAULT_ITEMS, SecretNameError, checkItemName, checkSecretName, secretLabel } from './secret-path.js';

/** A secret that cannot be used; `message` is what an operator needs (Cilium's wording where Cilium has one). */
export class TlsSecretError extends PortcullisError {
  readonly code = 'PCL_ERR_TLS_SECRET';
  constructor(
    /** `namespace/name`. */
    readonly secret: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface CertStoreEvent {
  /** loaded: first good load; reloaded: new content in use; failed: unusable (kept the last good one if any). */
  readonly kind: 'loaded' | 'reloaded' | 'failed';
  readonly secret: string;
  readonly error?: string;
  /** For `failed`: a previously loaded version is still being served. */
  readonly keptLastGood?: boolean;
}

export interface CertStoreOptions {
  /** Watch secret folders and reload on change (default true). */
  readonly watch?: boolean;
  /** Quiet period before a burst of file events is acted on (a secret update touches several files). */
  readonly debounceMs?: number;
  /** A secret that failed to load is re-read on use at most this often (watch events also retry it). */
  readonly retryMs?: number;
  readonly onEvent?: (event: CertStoreEvent) => void;
}

/** Per-secret state for `/metrics` and admin output. */
export interface SecretStatus {
  readonly secret: string;
  readonly items: { readonly certificate: string; readonly privateKey: string; readonly trustedCA: string };
  readonly loaded: boolean;
  /** Leaf certificate expiry, or the earliest expiry among trusted CAs when the secret holds only a CA. */
  readonly notAfter?: Date;
  /** Leaf certificate subject, when there is one. */
  readonly subject?: string;
  readonly loadedAt?: Date;
  /** Why the current files are unusable (the last good version, if any, is still served). */
  readonly error?: string;
}

/** One validated version of a secret. Key material stays inside the store. */
interface SecretMaterial {
  readonly fingerprint: string;
  readonly certPem?: string;
  readonly keyPem?: string;
  readonly caPem?: string;
  /** tls.crt, leaf first. */
  readonly chain?: readonly X509Certificate[];
  readonly notAfter?: Date;
  readonly loadedAt: Date;
}

interface ResolvedRef {
  readonly key: string;
  readonly label: string;
  readonly dir: string;
  readonly items: { readonly certificate: string; readonly privateKey: string; readonly trustedCA: string };
  readonly explicit: { readonly certificate: boolean; readonly privateKey: boolean; readonly trustedCA: boolean };
}

interface Entry {
  readonly ref: ResolvedRef;
  good?: SecretMaterial;
  error?: string;
  /** Content fingerprint and message of the last reported failure, so an unchanged problem is reported once. */
  reportedFailure?: string;
  failedAt?: number;
}

interface RawSecret {
  readonly fingerprint: string;
  readonly certificate?: Buffer;
  readonly privateKey?: Buffer;
  readonly trustedCA?: Buffer;
}

// A public CA bundle is a few hundred KiB; anything far larger is a mistake (or an attempt to exhaust memory).
const MAX_ITEM_BYTES = 4 * 1024 * 1024;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;
const MAX_SERVER_NAME_CACHE = 1024;

export class CertStore {
  readonly root: string;
  private readonly entries = new Map<string, Entry>();
  private readonly contexts = new Map<string, tls.SecureContext>();
  private readonly serverOptions = new Map<string, Readonly<tls.SecureContextOptions>>();
  private serverNameRefs: ResolvedRef[] = [];
  private readonly serverNameCache = new Map<string, ResolvedRef | null>();
  private readonly watchers = new FolderWatchers(() => this.scheduleRefresh());
  private readonly changeListeners = new Set<() => void>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly options: Required<Omit<CertStoreOptions, 'onEvent'>> & Pick<CertStoreOptions, 'onEvent'>;

  constructor(root: string, options: CertStoreOptions = {}) {
    this.root = path.resolve(root);
    this.options = { watch: options.watch ?? true, debounceMs: options.debounceMs ?? 100, retryMs: options.retryMs ?? 1000, onEvent: options.onEvent };
  }

  /**
   * Context for serving TLS with the secret's certificate and key. With `clientCA`, the context also trusts that
   * secret's CA for client certificates; the server must still set `requestCert`/`rejectUnauthorized`.
   * Cached; ask per connection so reloads take effect. Throws TlsSecretError.
   */
  terminatingContext(ref: TlsSecretRef, clientCA?: TlsSecretRef): tls.SecureContext {
    return this.terminating(this.resolve(ref), clientCA && this.resolve(clientCA));
  }

  /**
   * The same material as options for `tls.createServer`/`server.setSecureContext`: a `tls.Server` takes its default
   * certificate (used when the client sends no SNI) only in this form. Cached per secret version; compare by
   * identity to know when to call `setSecureContext` again. Throws TlsSecretError.
   */
  terminatingOptions(ref: TlsSecretRef, clientCA?: TlsSecretRef): Readonly<tls.SecureContextOptions> {
    const server = this.resolve(ref);
    const ca = clientCA && this.resolve(clientCA);
    this.terminating(server, ca);
    return this.serverOptions.get(terminatingKey(server, ca))!;
  }

  /** Context for connecting upstream: trusts only the secret's CA (as Cilium does). Cached. Throws TlsSecretError. */
  originatingContext(ref: TlsSecretRef): tls.SecureContext {
    const resolved = this.resolve(ref);
    const cacheKey = `o\0${resolved.key}`;
    const cached = this.contexts.get(cacheKey);
    if (cached) return cached;
    const material = this.material(resolved);
    if (!material.caPem) throw new TlsSecretError(resolved.label, `Originating TLS context is missing CA certs. (secret ${resolved.label} has no ${resolved.items.trustedCA})`);
    return this.buildContext(cacheKey, resolved.label, { ca: material.caPem });
  }

  /** Load (if needed) and check a secret for a use, for `portcullis check` and policy load. Throws TlsSecretError. */
  check(ref: TlsSecretRef, use: 'terminating' | 'originating'): void {
    if (use === 'terminating') this.terminatingContext(ref);
    else this.originatingContext(ref);
  }

  /**
   * The terminating secrets policy currently references, among which `contextForServerName` chooses by
   * certificate name. Returns the problems of the ones that cannot be used (they are skipped, and retried on change).
   */
  setServerNameSecrets(refs: readonly TlsSecretRef[]): TlsSecretError[] {
    const problems: TlsSecretError[] = [];
    const resolved: ResolvedRef[] = [];
    for (const ref of refs) {
      try {
        const server = this.resolve(ref);
        this.terminating(server, undefined);
        resolved.push(server);
      } catch (err) {
        problems.push(asSecretError(err, `${ref.namespace}/${ref.name}`));
      }
    }
    this.serverNameRefs = resolved;
    this.serverNameCache.clear();
    return problems;
  }

  /**
   * The terminating context whose certificate covers `name` (DNS SAN, wildcard aware, via X509Certificate.checkHost;
   * IP SANs for IP literals), preferring an exact name over a wildcard; undefined when none does. Throws
   * TlsSecretError only for an unusable `clientCA`.
   */
  contextForServerName(name: string, clientCA?: TlsSecretRef): tls.SecureContext | undefined {
    const host = name.toLowerCase();
    let ref = this.serverNameCache.get(host);
    if (ref === undefined) {
      ref = this.findServerNameRef(host);
      if (this.serverNameCache.size >= MAX_SERVER_NAME_CACHE) this.serverNameCache.clear();
      this.serverNameCache.set(host, ref);
    }
    return ref === null ? undefined : this.terminating(ref, clientCA && this.resolve(clientCA));
  }

  /**
   * Calls `listener` whenever new content of a secret is put in use; returns the function that stops it. For a
   * server that takes its TLS options once and must be handed new ones (grpc-js), where others ask per connection.
   */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Every secret loaded or attempted so far. */
  status(): SecretStatus[] {
    return [...this.entries.values()].map(({ ref, good, error }) => ({
      secret: ref.label,
      items: ref.items,
      loaded: good !== undefined,
      ...(good?.notAfter && { notAfter: good.notAfter }),
      ...(good?.chain?.[0] && { subject: good.chain[0].subject }),
      ...(good && { loadedAt: good.loadedAt }),
      ...(error !== undefined && { error }),
    }));
  }

  /** Re-read every known secret now (SIGHUP, tests); file watching calls this after a quiet period. */
  reload(): void {
    if (this.closed) return;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    let changed = false;
    for (const entry of this.entries.values()) changed = this.refresh(entry) || changed;
    if (changed) this.invalidate();
    this.syncWatchers();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.refreshTimer);
    this.watchers.close();
  }

  private resolve(ref: TlsSecretRef): ResolvedRef {
    const label = secretLabel(ref);
    try {
      checkSecretName(ref);
      for (const item of [ref.certificate, ref.privateKey, ref.trustedCA]) if (item) checkItemName(item);
    } catch (err) {
      throw new TlsSecretError(label, (err as SecretNameError).message);
    }
    const items = {
      certificate: ref.certificate || DEFAULT_ITEMS.certificate,
      privateKey: ref.privateKey || DEFAULT_ITEMS.privateKey,
      trustedCA: ref.trustedCA || DEFAULT_ITEMS.trustedCA,
    };
    return {
      key: `${label}\0${items.certificate}\0${items.privateKey}\0${items.trustedCA}`,
      label,
      dir: path.join(this.root, ref.namespace, ref.name),
      items,
      explicit: { certificate: !!ref.certificate, privateKey: !!ref.privateKey, trustedCA: !!ref.trustedCA },
    };
  }

  /** The last good version, loading it on first use; throws the reason when there has never been one. */
  private material(ref: ResolvedRef): SecretMaterial {
    let entry = this.entries.get(ref.key);
    if (!entry) {
      entry = { ref };
      this.entries.set(ref.key, entry);
      this.refresh(entry);
      this.syncWatchers();
    } else if (!entry.good && Date.now() - (entry.failedAt ?? 0) >= this.options.retryMs) {
      if (this.refresh(entry)) this.invalidate();
      this.syncWatchers();
    }
    if (entry.good) return entry.good;
    throw new TlsSecretError(ref.label, entry.error ?? `TLS certificates not found in secret ${ref.label}`);
  }

  /** Re-read one secret; true when a new version is now in use. */
  private refresh(entry: Entry): boolean {
    const { ref } = entry;
    let raw: RawSecret | undefined;
    try {
      raw = readSecret(ref);
      if (raw.fingerprint === entry.good?.fingerprint) {
        entry.error = entry.reportedFailure = undefined;
        return false;
      }
      // Validated again even when the content did not change: a not-yet-valid certificate becomes valid with time.
      const material = validateSecret(ref, raw);
      const first = entry.good === undefined;
      entry.good = material;
      entry.error = entry.reportedFailure = entry.failedAt = undefined;
      this.emit({ kind: first ? 'loaded' : 'reloaded', secret: ref.label });
      return true;
    } catch (err) {
      const message = asSecretError(err, ref.label).message;
      const failure = `${raw?.fingerprint ?? ''}\0${message}`;
      entry.failedAt = Date.now();
      if (failure === entry.reportedFailure) return false;
      entry.error = message;
      entry.reportedFailure = failure;
      this.emit({ kind: 'failed', secret: ref.label, error: message, keptLastGood: entry.good !== undefined });
      return false;
    }
  }

  private terminating(server: ResolvedRef, ca: ResolvedRef | undefined): tls.SecureContext {
    const cacheKey = terminatingKey(server, ca);
    const cached = this.contexts.get(cacheKey);
    if (cached) return cached;
    const material = this.material(server);
    if (!material.certPem || !material.keyPem) {
      throw new TlsSecretError(server.label, `Terminating TLS context is missing certs. (secret ${server.label} needs ${server.items.certificate} and ${server.items.privateKey})`);
    }
    let caPem: string | undefined;
    if (ca) {
      caPem = this.material(ca).caPem;
      if (!caPem) throw new TlsSecretError(ca.label, `Client certificate verification needs CA certs: no ${ca.items.trustedCA} in secret ${ca.label}`);
    }
    const options: tls.SecureContextOptions = {
      cert: material.certPem,
      key: material.keyPem,
      ...(caPem !== undefined && { ca: caPem }),
    };
    const context = this.buildContext(cacheKey, server.label, options);
    this.serverOptions.set(cacheKey, Object.freeze(options));
    return context;
  }

  private invalidate(): void {
    this.contexts.clear();
    this.serverOptions.clear();
    this.serverNameCache.clear();
    for (const listener of this.changeListeners) listener();
  }

  private buildContext(cacheKey: string, label: string, options: tls.SecureContextOptions): tls.SecureContext {
    let context: tls.SecureContext;
    try {
      context = tls.createSecureContext(options);
    } catch (err) {
      throw new TlsSecretError(label, `secret ${label} is not usable by TLS: ${(err as Error).message}`);
    }
    this.contexts.set(cacheKey, context);
    return context;
  }

  private findServerNameRef(host: string): ResolvedRef | null {
    let wildcard: ResolvedRef | null = null;
    for (const ref of this.serverNameRefs) {
      const leaf = this.entries.get(ref.key)?.good?.chain?.[0];
      if (!leaf) continue;
      if (isIP(host)) {
        if (leaf.checkIP(host)) return ref;
        continue;
      }
      const matched = leaf.checkHost(host);
      if (matched === undefined) continue;
      if (matched.toLowerCase() === host) return ref;
      wildcard ??= ref;
    }
    return wildcard;
  }

  private emit(event: CertStoreEvent): void {
    this.options.onEvent?.(event);
  }

  // Watched: the store root (and where it would appear), namespace folders (a secret folder appearing or being
  // replaced), each secret folder (files written, `..data` swapped), and the real folder of every item (symlinked
  // items edited elsewhere).
  private syncWatchers(): void {
    if (!this.options.watch || this.closed) return;
    const targets: WatchTargets = new Map();
    watchPath(targets, this.root);
    watchFolder(targets, this.root);
    for (const { ref } of this.entries.values()) {
      watchFolder(targets, path.dirname(ref.dir));
      watchFolder(targets, ref.dir);
      for (const item of Object.values(ref.items)) {
        try {
          watchFolder(targets, path.dirname(realpathSync(path.join(ref.dir, item))));
        } catch {
          // Absent item: its folder is already watched.
        }
      }
    }
    this.watchers.sync(targets);
  }

  private scheduleRefresh(): void {
    if (this.closed) return;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.reload(), this.options.debounceMs);
    this.refreshTimer.unref();
  }
}

function terminatingKey(server: ResolvedRef, clientCA: ResolvedRef | undefined): string {
  return `t\0${server.key}\0${clientCA?.key ?? ''}`;
}

function asSecretError(err: unknown, label: string): TlsSecretError {
  return err instanceof TlsSecretError ? err : new TlsSecretError(label, err instanceof Error ? err.message : String(err));
}

/** Cilium's resolution: which items exist, and the errors for explicitly named ones that do not. */
function readSecret(ref: ResolvedRef): RawSecret {
  try {
    readdirSync(ref.dir);
  } catch (err) {
    throw new TlsSecretError(ref.label, `Secret ${ref.label} not found: cannot read ${ref.dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const read = (item: string): Buffer | undefined => {
    const file = path.join(ref.dir, item);
    try {
      const size = statSync(file).size;
      if (size > MAX_ITEM_BYTES) throw new TlsSecretError(ref.label, `${item} in secret ${ref.label} is ${size} bytes, over the ${MAX_ITEM_BYTES}-byte limit`);
      return readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (err instanceof TlsSecretError) throw err;
      throw new TlsSecretError(ref.label, `Error reading ${file} (${(err as Error).message})`);
    }
  };
  const trustedCA = read(ref.items.trustedCA);
  if (!trustedCA && ref.explicit.trustedCA) throw new TlsSecretError(ref.label, `Trusted CA ${ref.items.trustedCA} not found in secret ${ref.label}`);
  const certificate = read(ref.items.certificate);
  if (!certificate && ref.explicit.certificate) throw new TlsSecretError(ref.label, `Certificate ${ref.items.certificate} not found in secret ${ref.label}`);
  const privateKey = read(ref.items.privateKey);
  if (!privateKey && ref.explicit.privateKey) throw new TlsSecretError(ref.label, `Private Key ${ref.items.privateKey} not found in secret ${ref.label}`);
  if (!trustedCA && !certificate && !privateKey) throw new TlsSecretError(ref.label, `TLS certificates not found in secret ${ref.label}`);

  const hash = createHash('sha256');
  for (const content of [certificate, privateKey, trustedCA]) {
    hash.update(content ? `${content.length}:` : '-:');
    if (content) hash.update(content);
  }
  return { fingerprint: hash.digest('hex'), ...(certificate && { certificate }), ...(privateKey && { privateKey }), ...(trustedCA && { trustedCA }) };
}

/** Every present item must be valid: PEM that parses, a key that matches, an ordered chain, current validity. */
function validateSecret(ref: ResolvedRef, raw: RawSecret): SecretMaterial {
  const fail = (message: string): never => {
    throw new TlsSecretError(ref.label, message);
  };
  const now = Date.now();
  const where = (item: string): string => `${item} in secret ${ref.label}`;

  let chain: X509Certificate[] | undefined;
  let certPem: string | undefined;
  if (raw.certificate) {
    const what = `Certificate ${where(ref.items.certificate)}`;
    chain = parseCertificates(raw.certificate, what, fail);
    chain.forEach((cert, i) => {
      const problem = validityProblem(cert, now);
      if (problem) fail(`${what}: ${i === 0 ? 'certificate' : `chain certificate #${i + 1} (${oneLine(cert.subject)})`} ${problem}`);
      const issuer = chain![i + 1];
      if (issuer && !(cert.checkIssued(issuer) && cert.verify(issuer.publicKey))) {
        fail(`${what}: certificate #${i + 2} did not issue certificate #${i + 1}; the chain must be leaf first, then each issuer`);
      }
    });
    certPem = chain.map((c) => c.toString()).join('');
  }

  let keyPem: string | undefined;
  if (raw.privateKey) {
    let key: ReturnType<typeof createPrivateKey>;
    try {
      key = createPrivateKey({ key: raw.privateKey, format: 'pem' });
    } catch (err) {
      // The parse error never contains key material; passphrase-protected keys land here too.
      return fail(`Private Key ${where(ref.items.privateKey)} cannot be parsed as an unencrypted PEM key (${(err as Error).message})`);
    }
    if (chain && !chain[0]!.checkPrivateKey(key)) {
      fail(`Private Key ${ref.items.privateKey} does not match Certificate ${ref.items.certificate} in secret ${ref.label}`);
    }
    keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  let caPem: string | undefined;
  let caNotAfter: Date | undefined;
  if (raw.trustedCA) {
    const what = `Trusted CA ${where(ref.items.trustedCA)}`;
    // Public bundles carry a few expired roots; OpenSSL skips those, so only a bundle with no usable CA is an error.
    const current = parseCertificates(raw.trustedCA, what, fail).filter((cert) => !validityProblem(cert, now));
    if (current.length === 0) fail(`${what}: no certificate in it is currently valid`);
    caPem = current.map((c) => c.toString()).join('');
    caNotAfter = new Date(Math.min(...current.map((c) => Date.parse(c.validTo))));
  }

  const notAfter = chain ? new Date(Date.parse(chain[0]!.validTo)) : caNotAfter;
  return {
    fingerprint: raw.fingerprint,
    loadedAt: new Date(now),
    ...(chain && { chain }),
    ...(certPem !== undefined && { certPem }),
    ...(keyPem !== undefined && { keyPem }),
    ...(caPem !== undefined && { caPem }),
    ...(notAfter && { notAfter }),
  };
}

function parseCertificates(content: Buffer, what: string, fail: (message: string) => never): X509Certificate[] {
  const blocks = content.toString('latin1').match(PEM_CERTIFICATE);
  if (!blocks) return fail(`${what} contains no PEM certificate`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      return fail(`${what}: certificate #${i + 1} cannot be parsed (${(err as Error).message})`);
    }
  });
}

function validityProblem(cert: X509Certificate, now: number): string | undefined {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (!(now < to)) return `expired on ${new Date(to).toISOString()}`;
  if (!(now >= from)) return `is not valid before ${new Date(from).toISOString()}`;
  return undefined;
}

function oneLine(subject: string): string {
  return subject.replaceAll('\n', ', ');
}
