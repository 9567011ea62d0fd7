// Where a secret lives in the store (`<root>/<namespace>/<name>/<item>`). Names come from policy files and the
// CLI, so they are checked against Kubernetes' own naming rules before they become paths: no `..`, no `/`.
import path from 'node:path';
import { PortcullisError } from '../errors.js';

export interface SecretName {
  readonly namespace: string;
  readonly name: string;
}

/** Cilium's default item names (`pkg/crypto/certificatemanager`). */
export const DEFAULT_ITEMS = { certificate: 'tls.crt', privateKey: 'tls.key', trustedCA: 'ca.crt' } as const;

// Namespaces are DNS-1123 labels, secret names DNS-1123 subdomains, item names Secret data keys.
const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const NAME = /^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/;
const ITEM = /^[-._a-zA-Z0-9]{1,253}$/;

export class SecretNameError extends PortcullisError {
  readonly code = 'PCL_ERR_SECRET_NAME';
}

export function secretLabel(secret: SecretName): string {
  return `${secret.namespace}/${secret.name}`;
}

/** `ns/name`, or a bare `name` in `defaultNamespace`. */
export function parseSecretName(text: string, defaultNamespace = 'default'): SecretName {
  const parts = text.split('/');
  const secret = parts.length === 1 ? { namespace: defaultNamespace, name: parts[0]! } : parts.length === 2 ? { namespace: parts[0]!, name: parts[1]! } : undefined;
  if (!secret) throw new SecretNameError(`secret ${JSON.stringify(text)} must be <namespace>/<name> or <name>`);
  checkSecretName(secret);
  return secret;
}

export function checkSecretName(secret: SecretName): void {
  if (secret.name === '') throw new SecretNameError('Missing Secret name');
  if (!NAMESPACE.test(secret.namespace)) throw new SecretNameError(`namespace ${JSON.stringify(secret.namespace)} is not a valid Kubernetes namespace name`);
  if (!NAME.test(secret.name)) throw new SecretNameError(`secret name ${JSON.stringify(secret.name)} is not a valid Kubernetes secret name`);
}

/** An item name must be a plain file name; `..data`-style names are the Kubernetes volume's internals. */
export function checkItemName(item: string): void {
  if (!ITEM.test(item) || item.startsWith('..') || item === '.') throw new SecretNameError(`item name ${JSON.stringify(item)} is not a valid secret key`);
}

export function secretDir(root: string, secret: SecretName): string {
  checkSecretName(secret);
  return path.join(root, secret.namespace, secret.name);
}
