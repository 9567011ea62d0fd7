// Portcullis as a child process (proxy-process.ts) with one `kafka` listener in front of a broker, for the
// denial-of-service tests. The endpoints are the Empire's (kafka-proxy-fixture.ts), the policy Cilium's Empire policy.
import { EMPIRE, EMPIRE_POLICY } from './kafka-proxy-fixture.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';

/** `kafka`: YAML flow-map body of the listener's `kafka:` options. */
export function startKafkaProxyProcess(o: { upstream: { host: string; port: number }; kafka?: string }): Promise<ProxyProcess> {
  return startProxyProcess(
    `policies: ./empire.yaml
admin: "off"
flows: "off"
endpoints:
  - {name: kafka-broker, labels: {app: kafka}, addresses: [${EMPIRE.broker}]}
  - {name: empire-hq, labels: {app: empire-hq}, addresses: [${EMPIRE.hq}]}
  - {name: empire-outpost-8888, labels: {app: empire-outpost, outpostid: "8888"}, addresses: [${EMPIRE.outpost}]}
listeners:
  - name: kafka-service
    listen: "127.0.0.1:0"
    protocol: kafka
    to: kafka-broker
    upstream: "${o.upstream.host}:${o.upstream.port}"
    port: 9092
    kafka: {${o.kafka ?? ''}}
`,
    { files: { 'empire.yaml': EMPIRE_POLICY } },
  );
}
