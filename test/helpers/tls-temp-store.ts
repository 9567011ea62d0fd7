// A throwaway secret store with an internal CA, for TLS tests. Removed by `cleanup`.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCa } from '../../src/secrets/certs-tool.js';
import type { SecretName } from '../../src/secrets/secret-path.js';

export interface TempStore {
  readonly root: string;
  readonly ca: SecretName;
  cleanup(): void;
}

export async function tempStoreWithCa(): Promise<TempStore> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'portcullis-certs-'));
  const ca = { namespace: 'kube-system', name: 'internal-ca' };
  await createCa({ store: root, secret: ca, commonName: 'Portcullis test CA' });
  return { root, ca, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
