// Synthetic policy sets for the "many rules" benchmark.

/** `count` CNPs selecting the deathstar, each allowing org=empire ten literal API calls on port 80. */
export function manyHttpPolicies(count: number, rulesPerPolicy = 10): string {
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    const rules = Array.from({ length: rulesPerPolicy }, (_, j) => `        - method: "${j % 2 === 0 ? 'GET' : 'POST'}"\n          path: "/api/v${i}/resource-${j}"`).join('\n');
    docs.push(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: bench-${i}
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
${rules}
`);
  }
  return docs.join('---\n');
}
