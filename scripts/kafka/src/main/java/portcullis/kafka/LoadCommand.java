package portcullis.kafka;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * Load for bench/kafka with the Java client used as applications use it: the producer with its defaults
 * (batching, acks=all, idempotence as --idempotence says) and a consumer fetching with default sizes. The process
 * stays up so the JIT stays warm between rounds: it reads commands on stdin and answers each with one JSON line.
 *   produce SECONDS RECORD_BYTES  sends as fast as the producer accepts for SECONDS, then waits for every
 *                                 acknowledgement: {"type":"load","records","bytes","seconds","p99Ms","errors"}
 *   consume RECORDS               reads partition 0 of --topic from the beginning, without a group, until
 *                                 RECORDS arrived: {"type":"load","records","bytes","seconds"}
 * End of input ends the process.
 */
final class LoadCommand implements Command {
  private KafkaProducer<String, String> producer;
  private KafkaConsumer<String, String> consumer;

  @Override
  public boolean run(Options o, JsonLine summary) throws Exception {
    String topic = o.required("topic");
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    try {
      for (String line; (line = in.readLine()) != null; ) {
        String[] words = line.trim().split("\\s+");
        // Created on first use: a process that only consumes never asks for a producer id, which its identity may not be allowed.
        switch (words[0]) {
          case "produce" -> {
            if (producer == null) producer = new KafkaProducer<>(ClientConfigs.producer(o));
            produce(producer, topic, Double.parseDouble(words[1]), Integer.parseInt(words[2]));
          }
          case "consume" -> {
            if (consumer == null) consumer = new KafkaConsumer<>(ClientConfigs.consumer(o, null));
            consume(consumer, topic, Long.parseLong(words[1]), o.timeoutMs());
          }
          default -> throw new UsageException("unknown load command: " + line);
        }
      }
    } finally {
      if (producer != null) producer.close();
      if (consumer != null) consumer.close();
    }
    return true;
  }

  private static void produce(KafkaProducer<String, String> producer, String topic, double seconds, int recordBytes) {
    String value = "k".repeat(recordBytes);
    long[] latencies = new long[1 << 20];
    AtomicInteger acknowledged = new AtomicInteger();
    AtomicInteger errors = new AtomicInteger();
    long start = System.nanoTime();
    long deadline = start + (long) (seconds * 1e9);
    int sent = 0;
    while (System.nanoTime() < deadline) {
      long sentAt = System.nanoTime();
      producer.send(new ProducerRecord<>(topic, value), (m, e) -> {
        // Callbacks run on the producer's one I/O thread, in order.
        if (e != null) errors.incrementAndGet();
        int i = acknowledged.getAndIncrement();
        if (i < latencies.length) latencies[i] = System.nanoTime() - sentAt;
      });
      sent++;
    }
    producer.flush();
    double elapsed = (System.nanoTime() - start) / 1e9;
    int n = Math.min(acknowledged.get(), latencies.length);
    long[] sorted = Arrays.copyOf(latencies, n);
    Arrays.sort(sorted);
    double p99 = n == 0 ? Double.NaN : sorted[Math.min(n - 1, (int) (0.99 * n))] / 1e6;
    int delivered = sent - errors.get();
    JsonLine.of("load").put("records", delivered).put("bytes", (long) delivered * recordBytes).put("seconds", elapsed).put("p99Ms", p99).put("errors", errors.get()).print();
  }

  private static void consume(KafkaConsumer<String, String> consumer, String topic, long wanted, int timeoutMs) {
    TopicPartition partition = new TopicPartition(topic, 0);
    consumer.assign(List.of(partition));
    consumer.seekToBeginning(List.of(partition));
    long records = 0;
    long bytes = 0;
    long start = System.nanoTime();
    long lastProgress = start;
    while (records < wanted) {
      var batch = consumer.poll(Duration.ofMillis(200));
      long now = System.nanoTime();
      if (batch.isEmpty() && now - lastProgress > timeoutMs * 1_000_000L) throw new IllegalStateException("no records for " + timeoutMs + " ms after " + records);
      if (!batch.isEmpty()) lastProgress = now;
      for (ConsumerRecord<String, String> r : batch) {
        records++;
        bytes += r.serializedValueSize() + Math.max(0, r.serializedKeySize());
      }
    }
    JsonLine.of("load").put("records", records).put("bytes", bytes).put("seconds", (System.nanoTime() - start) / 1e9).print();
  }
}
