// Policy folders hold more than policies: which documents are skipped with a warning, and which stay errors
// because skipping them would silently drop a policy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSourceError, formatSourceWarning, parsePolicyText } from '../../src/policy/index.js';

const RULE = 'spec: {endpointSelector: {}, ingress: [{}]}\n';

function parse(text: string): { documents: string[]; errors: string[]; warnings: string[] } {
  const r = parsePolicyText(text, 'f.yaml');
  return { documents: r.documents.map((d) => d.name), errors: r.errors.map(formatSourceError), warnings: r.warnings.map(formatSourceWarning) };
}

test('Kubernetes objects of other kinds are skipped, one warning each, and the policies beside them load', () => {
  const text = [
    'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec: {podSelector: {}}\n',
    'apiVersion: cilium.io/v2\nkind: CiliumLocalRedirectPolicy\nmetadata: {name: lrp}\nspec: {}\n',
    'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n',
    `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\n${RULE}`,
  ].join('---\n');
  assert.deepEqual(parse(text), {
    documents: ['p'],
    errors: [],
    warnings: [
      'f.yaml:2:7: warning: kind: skipped NetworkPolicy "np": not a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy',
      'f.yaml:7:7: warning: kind: skipped CiliumLocalRedirectPolicy "lrp": not a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy',
      'f.yaml:12:7: warning: kind: skipped Kustomization: not a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy',
    ],
  });
});

test('a map that is no Kubernetes object is skipped; one with a spec but no kind is a policy missing its kind', () => {
  assert.deepEqual(parse('resources: [a.yaml]\n'), { documents: [], errors: [], warnings: ['f.yaml:1:1: warning: skipped: not a Kubernetes object (no apiVersion or kind)'] });
  assert.deepEqual(parse(`metadata: {name: p}\n${RULE}`).errors, ['f.yaml:1:1: apiVersion: apiVersion is required', 'f.yaml:1:1: kind: kind is required']);
});

test('a kind meant as a policy is an error: one typo away, or a cilium.io ...NetworkPolicy', () => {
  assert.deepEqual(parse(`apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolcy\nmetadata: {name: p}\n${RULE}`), {
    documents: [], warnings: [], errors: ['f.yaml:2:7: kind: unsupported kind "CiliumClusterwideNetworkPolcy" (did you mean "CiliumClusterwideNetworkPolicy"?)'],
  });
  assert.deepEqual(parse(`apiVersion: cilium.io/v2\nkind: NetworkPolicy\nmetadata: {name: p}\n${RULE}`).errors, [
    'f.yaml:2:7: kind: unsupported kind "NetworkPolicy" (expected CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy)',
  ]);
});

test('a top-level description is a warning and the policy loads; unknown fields elsewhere stay errors', () => {
  const policy = `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\ndescription: allow the empire\nmetadata: {name: p}\n${RULE}`;
  assert.deepEqual(parse(policy), { documents: ['p'], errors: [], warnings: ['f.yaml:3:14: warning: description: ignored: only spec.description is part of a policy'] });
  assert.deepEqual(parse(policy.replace('description:', 'labels:')).errors, ['f.yaml:3:1: labels: unknown field "labels"']);
  assert.deepEqual(parse(policy.replace('ingress: [{}]', 'ingress: [{}], descripton: x')).errors, ['f.yaml:5:45: spec.descripton: unknown field "descripton" (did you mean "description"?)']);
});
