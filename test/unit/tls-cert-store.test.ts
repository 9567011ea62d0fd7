import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CertStore, TlsSecretError, type CertStoreEvent } from '../../src/secrets/store.js';
import { issueCertificate } from '../../src/secrets/certs-tool.js';
import type { TlsSecretRef } from '../../src/policy/types.js';
import { tempStoreWithCa, type TempStore } from '../helpers/tls-temp-store.js';
import { waitUntil } from '../helpers/wait.js';

const DAY = 86_400_000;
let store: TempStore;

const dir = (name: string, namespace = 'default'): string => path.join(store.root, namespace, name);
const ref = (name: string, extra: Partial<TlsSecretRef> = {}): TlsSecretRef => ({ namespace: 'default', name, ...extra });
const issue = (name: string, names: string[], extra: { validFrom?: Date; validTo?: Date } = {}) =>
  issueCertificate({ store: store.root, ca: store.ca, secret: { namespace: 'default', name }, names, ...extra });
const file = (secret: string, item: string): string => readFileSync(path.join(dir(secret), item), 'utf8');
/** The leaf alone from a tls.crt that holds leaf + CA. */
const leafOf = (secret: string): string => file(secret, 'tls.crt').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/)![0];

function throwsSecretError(fn: () => unknown, message: RegExp | string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TlsSecretError, `expected TlsSecretError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

/** Resolves with the next event for `secret` of `kind` (fails the test after 5 s). */
function nextEvent(events: CertStoreEvent[], waiters: Array<(e: CertStoreEvent) => void>, secret: string, kind: CertStoreEvent['kind']): Promise<CertStoreEvent> {
  const start = events.length;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${kind} event for ${secret}; saw ${JSON.stringify(events.slice(start))}`)), 5000);
    waiters.push((e) => {
      if (e.secret === secret && e.kind === kind) {
        clearTimeout(timer);
        resolve(e);
      }
    });
  });
}

function watchedStore(): { certs: CertStore; events: CertStoreEvent[]; next: (secret: string, kind: CertStoreEvent['kind']) => Promise<CertStoreEvent> } {
  const events: CertStoreEvent[] = [];
  const waiters: Array<(e: CertStoreEvent) => void> = [];
  const certs = new CertStore(store.root, {
    debounceMs: 20,
    onEvent: (e) => {
      events.push(e);
      for (const w of waiters) w(e);
    },
  });
  return { certs, events, next: (secret, kind) => nextEvent(events, waiters, secret, kind) };
}

before(async () => {
  store = await tempStoreWithCa();
  await Promise.all([
    issue('api', ['api.example.com']),
    issue('other', ['other.example.com']),
    issue('wild', ['*.example.com']),
    issue('expired', ['old.example.com'], { validFrom: new Date(Date.now() - 30 * DAY), validTo: new Date(Date.now() - DAY) }),
    issue('future', ['soon.example.com'], { validFrom: new Date(Date.now() + DAY), validTo: new Date(Date.now() + 30 * DAY) }),
  ]);
  const make = (name: string, files: Record<string, string>): void => {
    mkdirSync(dir(name), { recursive: true });
    for (const [item, content] of Object.entries(files)) writeFileSync(path.join(dir(name), item), content);
  };
  make('mismatch', { 'tls.crt': file('api', 'tls.crt'), 'tls.key': file('other', 'tls.key') });
  make('ca-only', { 'ca.crt': file('api', 'ca.crt') });
  make('pair-only', { 'tls.crt': file('api', 'tls.crt'), 'tls.key': file('api', 'tls.key') });
  make('custom', { 'server.pem': file('api', 'tls.crt'), 'server-key.pem': file('api', 'tls.key'), 'root.pem': file('api', 'ca.crt') });
  make('empty', {});
  make('garbage', { 'tls.crt': 'hello\n', 'tls.key': file('api', 'tls.key') });
  make('bad-pem', { 'tls.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' });
  const encrypted = createPrivateKey(file('api', 'tls.key')).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' });
  make('encrypted', { 'tls.crt': file('api', 'tls.crt'), 'tls.key': encrypted.toString() });
  // Issuer first: the wrong order for a chain.
  make('reversed', { 'tls.crt': file('api', 'ca.crt') + leafOf('api'), 'tls.key': file('api', 'tls.key') });
  make('stale-bundle', { 'ca.crt': leafOf('expired') });
  make('mixed-bundle', { 'ca.crt': leafOf('expired') + file('api', 'ca.crt') });
});

after(() => store.cleanup());

describe('cert store: Cilium secret resolution and errors', () => {
  it('default items: a full secret serves both uses; absent defaults are silently absent', () => {
    const certs = new CertStore(store.root, { watch: false });
    assert.ok(certs.terminatingContext(ref('api')));
    assert.ok(certs.originatingContext(ref('api')));
    assert.ok(certs.terminatingContext(ref('pair-only')), 'no ca.crt is fine for terminating');
    assert.ok(certs.originatingContext(ref('ca-only')), 'no tls.crt/tls.key is fine for originating');
  });

  it('explicitly named items that are missing', () => {
    const certs = new CertStore(store.root, { watch: false });
    throwsSecretError(() => certs.terminatingContext(ref('api', { certificate: 'server.pem' })), 'Certificate server.pem not found in secret default/api');
    throwsSecretError(() => certs.terminatingContext(ref('api', { privateKey: 'server.key' })), 'Private Key server.key not found in secret default/api');
    throwsSecretError(() => certs.originatingContext(ref('api', { trustedCA: 'root.pem' })), 'Trusted CA root.pem not found in secret default/api');
  });

  it('explicitly named items that exist are used', () => {
    const certs = new CertStore(store.root, { watch: false });
    const custom = ref('custom', { certificate: 'server.pem', privateKey: 'server-key.pem', trustedCA: 'root.pem' });
    assert.ok(certs.terminatingContext(custom));
    assert.ok(certs.originatingContext(custom));
    // Same folder with default names: none of tls.crt/tls.key/ca.crt exists there.
    throwsSecretError(() => certs.terminatingContext(ref('custom')), 'TLS certificates not found in secret default/custom');
  });

  it('no item present', () => {
    const certs = new CertStore(store.root, { watch: false });
    throwsSecretError(() => certs.originatingContext(ref('empty')), 'TLS certificates not found in secret default/empty');
  });

  it('terminating needs certificate and key; originating needs a CA', () => {
    const certs = new CertStore(store.root, { watch: false });
    throwsSecretError(() => certs.terminatingContext(ref('ca-only')), /^Terminating TLS context is missing certs\. \(secret default\/ca-only/);
    throwsSecretError(() => certs.originatingContext(ref('pair-only')), /^Originating TLS context is missing CA certs\. \(secret default\/pair-only/);
    throwsSecretError(() => certs.check(ref('ca-only'), 'terminating'), /missing certs/);
    assert.doesNotThrow(() => certs.check(ref('ca-only'), 'originating'));
  });

  it('client-certificate verification needs a CA', () => {
    const certs = new CertStore(store.root, { watch: false });
    assert.ok(certs.terminatingContext(ref('api'), ref('ca-only')));
    throwsSecretError(() => certs.terminatingContext(ref('api'), ref('pair-only')), /Client certificate verification needs CA certs: no ca.crt in secret default\/pair-only/);
  });

  it('missing secret folder and invalid names', () => {
    const certs = new CertStore(store.root, { watch: false });
    throwsSecretError(() => certs.terminatingContext(ref('nope')), /^Secret default\/nope not found: cannot read .*default\/nope \(ENOENT\)/);
    throwsSecretError(() => certs.terminatingContext(ref('')), 'Missing Secret name');
    throwsSecretError(() => certs.terminatingContext({ namespace: '..', name: 'etc' }), /namespace "\.\." is not a valid/);
    throwsSecretError(() => certs.terminatingContext(ref('api', { certificate: '../../kube-system/internal-ca/tls.key' })), /item name .* is not a valid secret key/);
    throwsSecretError(() => certs.terminatingContext(ref('api', { certificate: '..data' })), /not a valid secret key/);
  });
});

describe('cert store: validation on load', () => {
  const cases: Array<[string, RegExp]> = [
    ['mismatch', /^Private Key tls\.key does not match Certificate tls\.crt in secret default\/mismatch$/],
    ['expired', /^Certificate tls\.crt in secret default\/expired: certificate expired on \d{4}-\d\d-\d\dT/],
    ['future', /^Certificate tls\.crt in secret default\/future: certificate is not valid before \d{4}-/],
    ['garbage', /^Certificate tls\.crt in secret default\/garbage contains no PEM certificate$/],
    ['bad-pem', /^Certificate tls\.crt in secret default\/bad-pem: certificate #1 cannot be parsed/],
    ['encrypted', /^Private Key tls\.key in secret default\/encrypted cannot be parsed as an unencrypted PEM key/],
    ['reversed', /certificate #2 did not issue certificate #1; the chain must be leaf first/],
  ];
  for (const [name, message] of cases) {
    it(name, () => {
      const certs = new CertStore(store.root, { watch: false });
      throwsSecretError(() => certs.terminatingContext(ref(name)), message);
      const [status] = certs.status();
      assert.equal(status?.loaded, false);
      assert.match(status?.error ?? '', message);
    });
  }

  it('a key error never contains key material', () => {
    const certs = new CertStore(store.root, { watch: false });
    const err = (() => {
      try {
        certs.terminatingContext(ref('encrypted'));
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    assert.ok(err);
    assert.doesNotMatch(err.message, /BEGIN|[A-Za-z0-9+/]{40}/);
  });

  it('CA bundle: expired entries are dropped, a bundle with none valid is refused', () => {
    const certs = new CertStore(store.root, { watch: false });
    throwsSecretError(() => certs.originatingContext(ref('stale-bundle')), /^Trusted CA ca\.crt in secret default\/stale-bundle: no certificate in it is currently valid$/);
    assert.ok(certs.originatingContext(ref('mixed-bundle')));
    const mixed = certs.status().find((s) => s.secret === 'default/mixed-bundle');
    assert.ok(mixed?.notAfter && mixed.notAfter.getTime() > Date.now() + 365 * DAY, 'notAfter comes from the valid CA');
  });

  it('status exposes notAfter and subject per secret for metrics', () => {
    const certs = new CertStore(store.root, { watch: false });
    certs.terminatingContext(ref('api'));
    certs.originatingContext(ref('ca-only'));
    const byName = new Map(certs.status().map((s) => [s.secret, s]));
    const api = byName.get('default/api');
    assert.equal(api?.loaded, true);
    assert.match(api?.subject ?? '', /CN=api\.example\.com/);
    const leafDays = (api!.notAfter!.getTime() - Date.now()) / DAY;
    assert.ok(leafDays > 360 && leafDays <= 366, `leaf expires in ~365 days, got ${leafDays}`);
    const caDays = (byName.get('default/ca-only')!.notAfter!.getTime() - Date.now()) / DAY;
    assert.ok(caDays > 3600, `CA-only secret reports the CA's expiry, got ${caDays}`);
    assert.deepEqual(api?.items, { certificate: 'tls.crt', privateKey: 'tls.key', trustedCA: 'ca.crt' });
  });

  it('contexts are cached per secret and use', () => {
    const certs = new CertStore(store.root, { watch: false });
    assert.equal(certs.terminatingContext(ref('api')), certs.terminatingContext(ref('api')));
    assert.notEqual(certs.terminatingContext(ref('api')), certs.terminatingContext(ref('api'), ref('api')));
    assert.notEqual(certs.terminatingContext(ref('api')), certs.originatingContext(ref('api')));
  });

  it('terminatingOptions: server options for the same material, stable until the secret changes', async () => {
    await issue('opts', ['opts.example.com']);
    const certs = new CertStore(store.root, { watch: false });
    const options = certs.terminatingOptions(ref('opts'));
    assert.equal(certs.terminatingOptions(ref('opts')), options);
    assert.ok(Object.isFrozen(options));
    assert.match(String(options.cert), /^-----BEGIN CERTIFICATE-----/);
    assert.match(String(options.key), /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(options.ca, undefined);
    assert.match(String(certs.terminatingOptions(ref('opts'), ref('ca-only')).ca), /^-----BEGIN CERTIFICATE-----/);
    throwsSecretError(() => certs.terminatingOptions(ref('ca-only')), /missing certs/);
    await issue('opts', ['opts2.example.com']);
    certs.reload();
    assert.notEqual(certs.terminatingOptions(ref('opts')), options);
  });

  it('a not-yet-valid certificate is accepted once its time comes, without a file change', async () => {
    const issued = await issue('early', ['early.example.com'], { validFrom: new Date(Date.now() + 4000), validTo: new Date(Date.now() + DAY) });
    const certs = new CertStore(store.root, { watch: false, retryMs: 50 });
    throwsSecretError(() => certs.terminatingContext(ref('early')), /is not valid before/);
    await new Promise((r) => setTimeout(r, Date.parse(issued.validFrom) + 1000 - Date.now()));
    assert.ok(certs.terminatingContext(ref('early')));
  });

  it('a failed load is retried on use after retryMs, not on every use', async () => {
    const certs = new CertStore(store.root, { watch: false, retryMs: 50 });
    throwsSecretError(() => certs.originatingContext(ref('late')), /not found/);
    cpSync(dir('ca-only'), dir('late'), { recursive: true });
    throwsSecretError(() => certs.originatingContext(ref('late')), /not found/);
    await new Promise((r) => setTimeout(r, 60));
    assert.ok(certs.originatingContext(ref('late')));
  });
});

describe('cert store: choosing a certificate by server name', () => {
  it('exact SAN, wildcard SAN, case-insensitive, exact preferred over wildcard', () => {
    const certs = new CertStore(store.root, { watch: false });
    const problems = certs.setServerNameSecrets([ref('wild'), ref('api'), ref('other'), ref('expired'), ref('nope')]);
    assert.deepEqual(problems.map((p) => p.secret).sort(), ['default/expired', 'default/nope']);
    const api = certs.terminatingContext(ref('api'));
    const wild = certs.terminatingContext(ref('wild'));
    assert.equal(certs.contextForServerName('api.example.com'), api, 'exact name beats the wildcard listed first');
    assert.equal(certs.contextForServerName('API.Example.COM'), api);
    assert.equal(certs.contextForServerName('other.example.com'), certs.terminatingContext(ref('other')));
    assert.equal(certs.contextForServerName('anything.example.com'), wild);
    assert.equal(certs.contextForServerName('a.b.example.com'), undefined, 'a wildcard covers one label');
    assert.equal(certs.contextForServerName('example.com'), undefined);
    assert.equal(certs.contextForServerName('old.example.com'), wild, 'the expired secret was skipped');
    assert.equal(certs.contextForServerName('127.0.0.1'), undefined);
  });

  it('with a client CA the chosen context differs and is cached', () => {
    const certs = new CertStore(store.root, { watch: false });
    certs.setServerNameSecrets([ref('api')]);
    const mtls = certs.contextForServerName('api.example.com', ref('ca-only'));
    assert.ok(mtls);
    assert.equal(certs.contextForServerName('api.example.com', ref('ca-only')), mtls);
    assert.notEqual(mtls, certs.contextForServerName('api.example.com'));
    throwsSecretError(() => certs.contextForServerName('api.example.com', ref('pair-only')), /needs CA certs/);
  });
});

describe('cert store: reload on change', () => {
  it('a re-issued certificate is picked up and served', async () => {
    await issue('rotating', ['v1.example.com']);
    const { certs, next } = watchedStore();
    try {
      certs.setServerNameSecrets([ref('rotating')]);
      const before = certs.terminatingContext(ref('rotating'));
      assert.equal(certs.contextForServerName('v1.example.com'), before);
      const reloaded = next('default/rotating', 'reloaded');
      await issue('rotating', ['v2.example.com']);
      await reloaded;
      const now = certs.terminatingContext(ref('rotating'));
      assert.notEqual(now, before);
      assert.match(certs.status()[0]?.subject ?? '', /v2\.example\.com/);
      assert.equal(certs.contextForServerName('v2.example.com'), now);
      assert.equal(certs.contextForServerName('v1.example.com'), undefined);
    } finally {
      certs.close();
    }
  });

  it('Kubernetes-style ..data symlink swap', async () => {
    const secret = dir('k8s');
    const version = async (stamp: string, host: string): Promise<void> => {
      await issue(`k8s-src-${host.split('.')[0]}`, [host]);
      cpSync(dir(`k8s-src-${host.split('.')[0]}`), path.join(secret, `..${stamp}`), { recursive: true });
    };
    mkdirSync(secret, { recursive: true });
    await version('2025_01_01', 'first.example.com');
    symlinkSync('..2025_01_01', path.join(secret, '..data'));
    for (const item of ['tls.crt', 'tls.key', 'ca.crt']) symlinkSync(`..data/${item}`, path.join(secret, item));

    const { certs, next } = watchedStore();
    try {
      certs.terminatingContext(ref('k8s'));
      assert.match(certs.status()[0]?.subject ?? '', /first\.example\.com/);
      await version('2025_02_01', 'second.example.com');
      const reloaded = next('default/k8s', 'reloaded');
      // What the kubelet does: new timestamped folder, temporary link, atomic rename over ..data, old folder removed.
      symlinkSync('..2025_02_01', path.join(secret, '..data_tmp'));
      renameSync(path.join(secret, '..data_tmp'), path.join(secret, '..data'));
      rmSync(path.join(secret, '..2025_01_01'), { recursive: true });
      await reloaded;
      assert.match(certs.status()[0]?.subject ?? '', /second\.example\.com/);
    } finally {
      certs.close();
    }
  });

  it('a broken file keeps the last good version and says why; fixing it recovers', async () => {
    await issue('fragile', ['fragile.example.com']);
    const goodKey = file('fragile', 'tls.key');
    const { certs, events, next } = watchedStore();
    try {
      const good = certs.terminatingContext(ref('fragile'));
      const failed = next('default/fragile', 'failed');
      writeFileSync(path.join(dir('fragile'), 'tls.key'), file('other', 'tls.key'));
      const event = await failed;
      assert.equal(event.keptLastGood, true);
      assert.match(event.error ?? '', /does not match/);
      assert.equal(certs.terminatingContext(ref('fragile')), good, 'still serving the last good context');
      const [status] = certs.status();
      assert.equal(status?.loaded, true);
      assert.match(status?.error ?? '', /does not match/);

      writeFileSync(path.join(dir('fragile'), 'tls.key'), goodKey);
      // Same content as the last good version: the error clears and the same context stays in use.
      await waitUntil('the error to clear', () => certs.status()[0]?.error === undefined);
      assert.equal(certs.terminatingContext(ref('fragile')), good);
      assert.equal(events.filter((e) => e.kind === 'reloaded').length, 0);
    } finally {
      certs.close();
    }
  });

  it('a deleted secret keeps the last good version', async () => {
    await issue('doomed', ['doomed.example.com']);
    const { certs, next } = watchedStore();
    try {
      const good = certs.terminatingContext(ref('doomed'));
      const failed = next('default/doomed', 'failed');
      rmSync(dir('doomed'), { recursive: true });
      assert.match((await failed).error ?? '', /Secret default\/doomed not found/);
      assert.equal(certs.terminatingContext(ref('doomed')), good);
    } finally {
      certs.close();
    }
  });

  it('a secret created after a failed first load is loaded when it appears', async () => {
    const { certs, next } = watchedStore();
    try {
      throwsSecretError(() => certs.terminatingContext(ref('newcomer')), /not found/);
      const loaded = next('default/newcomer', 'loaded');
      await issue('newcomer', ['new.example.com']);
      await loaded;
      assert.ok(certs.terminatingContext(ref('newcomer')));
    } finally {
      certs.close();
    }
  });

  it('every way of saving is noticed, also after a rejected save: replaced, in place, folders deleted and recreated', async () => {
    await Promise.all(['saves-v1', 'saves-v2', 'saves-v3'].map((name, i) => issue(name, [`v${i + 1}.example.com`])));
    const secret = path.join(store.root, 'saves', 'site');
    const save = (version: string, how: 'replace' | 'in place'): void => {
      for (const item of ['tls.crt', 'tls.key']) {
        const target = path.join(secret, item);
        const content = file(version, item);
        if (how === 'in place') writeFileSync(target, content);
        else {
          // `sed -i` and most editors: a new file renamed over the old one.
          writeFileSync(`${target}.tmp`, content);
          renameSync(`${target}.tmp`, target);
        }
      }
    };
    const saveWrongKey = (): void => {
      writeFileSync(path.join(secret, 'tls.key.tmp'), file('other', 'tls.key'));
      renameSync(path.join(secret, 'tls.key.tmp'), path.join(secret, 'tls.key'));
    };
    mkdirSync(secret, { recursive: true });
    save('saves-v1', 'in place');
    const site = { namespace: 'saves', name: 'site' };
    const { certs, next } = watchedStore();
    const status = () => certs.status().find((s) => s.secret === 'saves/site');
    const expectServing = async (host: string, what: string): Promise<void> => {
      await waitUntil(`${what}: serving ${host}`, () => (status()?.subject ?? '').includes(host) && status()?.error === undefined);
      assert.ok(certs.terminatingContext(site));
    };
    try {
      certs.terminatingContext(site);
      await expectServing('v1.example.com', 'first load');
      let failed = next('saves/site', 'failed');
      saveWrongKey();
      assert.match((await failed).error ?? '', /does not match/);
      save('saves-v2', 'in place');
      await expectServing('v2.example.com', 'in-place fix');
      save('saves-v3', 'replace');
      await expectServing('v3.example.com', 'replace-style save');
      save('saves-v1', 'in place');
      await expectServing('v1.example.com', 'in-place save after a replace-style one');

      failed = next('saves/site', 'failed');
      rmSync(secret, { recursive: true });
      await failed;
      mkdirSync(secret);
      save('saves-v2', 'in place');
      await expectServing('v2.example.com', 'secret folder recreated');
      save('saves-v3', 'in place');
      await expectServing('v3.example.com', 'in-place save in the recreated folder');

      failed = next('saves/site', 'failed');
      rmSync(path.dirname(secret), { recursive: true });
      await failed;
      mkdirSync(secret, { recursive: true });
      save('saves-v1', 'replace');
      saveWrongKey();
      await waitUntil('the broken recreated secret reported', () => /does not match/.test(status()?.error ?? ''));
      save('saves-v2', 'in place');
      await expectServing('v2.example.com', 'namespace folder recreated, broken, then fixed in place');
    } finally {
      certs.close();
    }
  });

  it('reload() re-reads on demand without watching', async () => {
    await issue('manual', ['m1.example.com']);
    const certs = new CertStore(store.root, { watch: false });
    const before = certs.terminatingContext(ref('manual'));
    await issue('manual', ['m2.example.com']);
    assert.equal(certs.terminatingContext(ref('manual')), before, 'nothing changes without a reload');
    certs.reload();
    assert.notEqual(certs.terminatingContext(ref('manual')), before);
    assert.match(certs.status()[0]?.subject ?? '', /m2\.example\.com/);
  });

  it('onChange listeners hear of new content put in use, after the caches are cleared, until they stop', async () => {
    await issue('notified', ['n1.example.com']);
    const certs = new CertStore(store.root, { watch: false });
    const before = certs.terminatingOptions(ref('notified'));
    const seen: boolean[] = [];
    const stop = certs.onChange(() => seen.push(certs.terminatingOptions(ref('notified')) !== before));
    certs.reload();
    assert.deepEqual(seen, [], 'unchanged files: no change');
    await issue('notified', ['n2.example.com']);
    certs.reload();
    assert.deepEqual(seen, [true], 'the listener reads the new version');
    stop();
    await issue('notified', ['n3.example.com']);
    certs.reload();
    assert.deepEqual(seen, [true]);
    assert.match(certs.status()[0]?.subject ?? '', /n3\.example\.com/);
  });
});
