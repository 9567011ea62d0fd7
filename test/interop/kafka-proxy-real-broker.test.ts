// The Kafka proxy interop matrix (Java client, kcat, kafkajs) in front of a real Apache Kafka broker (KRaft,
// assembled from Maven Central by scripts/kafka/install.sh).
import { startRealKafka } from '../helpers/kafka-broker-real.js';
import { ANNOUNCE, PLANS } from '../helpers/kafka-proxy-fixture.js';
import { describeProxyInterop } from '../helpers/kafka-proxy-interop.js';

describeProxyInterop('a real Apache Kafka broker', async () => {
  const kafka = await startRealKafka({ topics: [ANNOUNCE, PLANS] });
  return { host: kafka.host, port: kafka.port, stop: () => kafka.stop() };
});
