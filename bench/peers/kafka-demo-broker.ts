// Benchmark broker when real Kafka is not installed: the embedded demo broker on the host:port given as
// argv[2], argv[3], in a process of its own.
import { startDemoBroker } from '../../src/demo/kafka/broker/index.js';

await startDemoBroker({ host: process.argv[2] ?? '127.0.0.1', port: Number(process.argv[3] ?? 0) });
