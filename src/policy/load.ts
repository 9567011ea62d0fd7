// Loading policy files: text -> validated PolicyDocuments plus every problem found, located.
// Invalid documents are left out (and reported); the caller decides whether to keep the last good snapshot.
import { readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { SourceError } from './types.js';
import type { PolicyDocument } from './model.js';
import { parseYamlSource } from '../config/yaml-source.js';
import { Problems } from './parse-fields.js';
import { parsePolicyDocument } from './parse-document.js';

export type { PolicyDocument } from './model.js';

const POLICY_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Every CNP/CCNP in a (multi-document) YAML or JSON text. */
export function parsePolicyText(text: string, file: string): { documents: PolicyDocument[]; errors: SourceError[] } {
  const { documents: roots, errors } = parseYamlSource(text, file);
  const p = new Problems();
  const documents: PolicyDocument[] = [];
  for (const root of roots) {
    const doc = parsePolicyDocument(root, p);
    if (doc) documents.push(doc);
  }
  return { documents, errors: [...errors, ...p.errors] };
}

function fileError(file: string, message: string): SourceError {
  return { file, line: 1, column: 1, path: '', message };
}

/** Policy files under `dir`, sorted, skipping dot-files and dot-directories; symlink loops are visited once. */
function policyFiles(dir: string, seen: Set<string>, errors: SourceError[]): string[] {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (e) {
    errors.push(fileError(dir, `cannot read: ${(e as Error).message}`));
    return [];
  }
  if (seen.has(real)) return [];
  seen.add(real);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    errors.push(fileError(dir, `cannot read: ${(e as Error).message}`));
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    let isDir = false;
    try {
      isDir = statSync(path).isDirectory();
    } catch (e) {
      errors.push(fileError(path, `cannot read: ${(e as Error).message}`));
      continue;
    }
    if (isDir) out.push(...policyFiles(path, seen, errors));
    else if (POLICY_EXTENSIONS.has(extname(name).toLowerCase())) out.push(path);
  }
  return out;
}

/**
 * Loads files and folders (recursively: *.yaml, *.yml, *.json). A file named explicitly is read whatever
 * its extension. `files` lists every file read, for watching.
 */
export function loadPolicyPaths(paths: readonly string[]): { documents: PolicyDocument[]; errors: SourceError[]; files: string[] } {
  const errors: SourceError[] = [];
  const files: string[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch (e) {
      errors.push(fileError(path, `cannot read: ${(e as Error).message}`));
      continue;
    }
    for (const f of isDir ? policyFiles(path, seen, errors) : [path]) if (!files.includes(f)) files.push(f);
  }
  const documents: PolicyDocument[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      errors.push(fileError(file, `cannot read: ${(e as Error).message}`));
      continue;
    }
    const r = parsePolicyText(text, file);
    documents.push(...r.documents);
    errors.push(...r.errors);
  }
  return { documents, errors, files };
}
