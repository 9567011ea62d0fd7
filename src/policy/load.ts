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

/** `portcullis test` expectation files, which live beside the policies and are not policies. */
export const EXPECTATION_FILE = /\.expect\.ya?ml$/i;

/** What parsing policy texts found: the valid documents, the errors, and what was skipped or ignored (warnings). */
export interface ParsedPolicies {
  readonly documents: PolicyDocument[];
  readonly errors: SourceError[];
  readonly warnings: SourceError[];
}

/** Every CNP/CCNP in a (multi-document) YAML or JSON text; documents of other kinds are skipped with a warning. */
export function parsePolicyText(text: string, file: string): ParsedPolicies {
  const { documents: roots, errors } = parseYamlSource(text, file);
  const p = new Problems();
  const documents: PolicyDocument[] = [];
  for (const root of roots) {
    const doc = parsePolicyDocument(root, p);
    if (doc) documents.push(doc);
  }
  return { documents, errors: [...errors, ...p.errors], warnings: p.warnings };
}

function fileError(file: string, message: string): SourceError {
  return { file, line: 1, column: 1, path: '', message };
}

export interface PolicyPaths {
  /** Every policy file, in reading order. */
  readonly files: string[];
  /** Every folder walked to find them (for watching). */
  readonly folders: string[];
  readonly errors: SourceError[];
}

/** Adds the policy files under `dir` and the folders walked, sorted, skipping dot-names; symlink loops are visited once. */
function walkFolder(dir: string, seen: Set<string>, found: PolicyPaths): void {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (e) {
    found.errors.push(fileError(dir, `cannot read: ${(e as Error).message}`));
    return;
  }
  if (seen.has(real)) return;
  seen.add(real);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    found.errors.push(fileError(dir, `cannot read: ${(e as Error).message}`));
    return;
  }
  found.folders.push(dir);
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    let isDir = false;
    try {
      isDir = statSync(path).isDirectory();
    } catch (e) {
      found.errors.push(fileError(path, `cannot read: ${(e as Error).message}`));
      continue;
    }
    if (isDir) walkFolder(path, seen, found);
    else if (POLICY_EXTENSIONS.has(extname(name).toLowerCase()) && !EXPECTATION_FILE.test(name) && !found.files.includes(path)) found.files.push(path);
  }
}

/**
 * The files and folders `paths` name now: folders recursively (*.yaml, *.yml, *.json, but not *.expect.yaml); a
 * file named explicitly counts whatever its name.
 */
export function listPolicyPaths(paths: readonly string[]): PolicyPaths {
  const found: PolicyPaths = { files: [], folders: [], errors: [] };
  const seen = new Set<string>();
  for (const path of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch (e) {
      found.errors.push(fileError(path, `cannot read: ${(e as Error).message}`));
      continue;
    }
    if (isDir) walkFolder(path, seen, found);
    else if (!found.files.includes(path)) found.files.push(path);
  }
  return found;
}

/** A policy file's text as read, so a revision can be compiled again from the same bytes (by every worker). */
export interface PolicyText {
  readonly file: string;
  readonly text: string;
}

/** Reads what listPolicyPaths finds. */
export function readPolicyPaths(paths: readonly string[]): { texts: PolicyText[]; errors: SourceError[] } {
  const { files, errors } = listPolicyPaths(paths);
  const texts: PolicyText[] = [];
  for (const file of files) {
    try {
      texts.push({ file, text: readFileSync(file, 'utf8') });
    } catch (e) {
      errors.push(fileError(file, `cannot read: ${(e as Error).message}`));
    }
  }
  return { texts, errors };
}

/** Parses policy texts in order. */
export function parsePolicyTexts(texts: readonly PolicyText[]): ParsedPolicies {
  const all: ParsedPolicies = { documents: [], errors: [], warnings: [] };
  for (const { file, text } of texts) {
    const r = parsePolicyText(text, file);
    all.documents.push(...r.documents);
    all.errors.push(...r.errors);
    all.warnings.push(...r.warnings);
  }
  return all;
}

/** Reads and parses what listPolicyPaths finds. `files` lists every file read. */
export function loadPolicyPaths(paths: readonly string[]): ParsedPolicies & { files: string[] } {
  const read = readPolicyPaths(paths);
  const parsed = parsePolicyTexts(read.texts);
  return { ...parsed, errors: [...read.errors, ...parsed.errors], files: read.texts.map((t) => t.file) };
}
