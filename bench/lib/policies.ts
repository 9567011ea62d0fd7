// Synthetic policy sets for the "many rules" benchmarks.

/** `count` CNPs selecting the deathstar, each allowing org=empire ten literal API calls on port 80. */
export function manyHttpPolicies(count: number, rulesPerPolicy = 10): string {
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    const rules = Array.from({ length: rulesPerPolicy }, (_, j) => `        - method: "${j % 2 === 0 ? 'GET' : 'POST'}"\n          path: "/api/v${i}/resource-${j}"`);
    docs.push(deathstarHttpPolicy(`bench-${i}`, rules));
  }
  return docs.join('---\n');
}

/** The `count` regex paths of walkedRegexPolicy, in order: the landing matches only the last. */
export function walkedRegexPaths(count: number): string[] {
  return [...Array.from({ length: count - 1 }, (_, i) => `/api/v${i}/resource-[0-9]+`), '/v1/request-landing/?'];
}

/**
 * One CNP selecting the deathstar whose `count` HTTP rules every allowed request walks: regex paths are not indexed
 * (literal paths are: one Map lookup for thousands), and rules are tried in order, so `count - 1` that never
 * match come first and the last, `POST /v1/request-landing/?`, lets the Star Wars landing through.
 */
export function walkedRegexPolicy(count: number): string {
  const paths = walkedRegexPaths(count);
  const rules = paths.slice(0, -1).map((p) => `        - path: "${p}"`);
  rules.push(`        - method: "POST"\n          path: "${paths.at(-1)!}"`);
  return deathstarHttpPolicy('walked-regex-rules', rules);
}

/** A CNP named `name` allowing org=empire to the deathstar on port 80 with these HTTP rules (YAML list items). */
function deathstarHttpPolicy(name: string, rules: readonly string[]): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: ${name}
spec:
  endpointSelector:
    matchLabels: {org: empire, class: deathstar}
  ingress:
  - fromEndpoints:
    - matchLabels: {org: empire}
    toPorts:
    - ports:
      - port: "80"
        protocol: TCP
      rules:
        http:
${rules.join('\n')}
`;
}
