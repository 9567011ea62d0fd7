// The Kafka proxy interop matrix (Java client, kcat, kafkajs) in front of the embedded demo broker.
import { startDemoBroker } from '../../src/demo/kafka/broker/index.js';
import { describeProxyInterop } from '../helpers/kafka-proxy-interop.js';

describeProxyInterop('the embedded demo broker', async () => {
  const broker = await startDemoBroker();
  return { host: broker.host, port: broker.port, stop: () => broker.close() };
});
