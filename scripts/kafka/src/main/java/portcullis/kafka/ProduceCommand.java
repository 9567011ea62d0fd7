package portcullis.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * Sends --count records (key "i", value "<prefix>-i") without waiting in between, so requests pipeline as
 * they do in real use, then reports each delivered record and each distinct failure (with how many records
 * failed that way).
 */
final class ProduceCommand implements Command {
  @Override
  public boolean run(Options o, JsonLine summary) throws InterruptedException {
    String topic = o.required("topic");
    int count = o.positiveInt("count", 1);
    String prefix = o.text("prefix", "message");
    int delivered = 0;
    Map<String, Failure> failures = new LinkedHashMap<>();
    KafkaProducer<String, String> producer = new KafkaProducer<>(ClientConfigs.producer(o));
    try {
      List<Future<RecordMetadata>> sends = new ArrayList<>();
      for (int i = 0; i < count; i++) sends.add(producer.send(new ProducerRecord<>(topic, String.valueOf(i), prefix + "-" + i)));
      for (int i = 0; i < count; i++) {
        try {
          RecordMetadata m = sends.get(i).get();
          JsonLine.of("produced")
              .put("topic", m.topic())
              .put("partition", m.partition())
              .put("offset", m.hasOffset() ? m.offset() : null)
              .put("key", String.valueOf(i))
              .put("value", prefix + "-" + i)
              .print();
          delivered++;
        } catch (ExecutionException e) {
          Throwable cause = ErrorLine.unwrap(e);
          failures.computeIfAbsent(cause.getClass().getName() + ": " + cause.getMessage(), k -> new Failure(cause)).records++;
        }
      }
    } finally {
      producer.close(Duration.ofMillis(o.timeoutMs()));
    }
    for (Failure f : failures.values()) ErrorLine.of("produce", f.error).put("records", f.records).print();
    summary.put("topic", topic).put("count", delivered).put("failed", count - delivered);
    return delivered == count;
  }

  private static final class Failure {
    final Throwable error;
    int records;

    Failure(Throwable error) {
      this.error = error;
    }
  }
}
