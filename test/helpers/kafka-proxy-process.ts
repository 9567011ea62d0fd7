// Portcullis as a child process (proxy-process.ts) with the Kafka fixture's listener in front of a broker, for the
// denial-of-service tests, under Cilium's Empire policy.
import { EMPIRE_POLICY, kafkaProxyConfigText, type KafkaProxyOptions } from './kafka-proxy-fixture.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';

export function startKafkaProxyProcess(o: Pick<KafkaProxyOptions, 'upstream' | 'kafka'>): Promise<ProxyProcess> {
  return startProxyProcess(kafkaProxyConfigText(o, './empire.yaml'), { files: { 'empire.yaml': EMPIRE_POLICY } });
}
