package portcullis.kafka;

import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * Reads --topic from the earliest offset until --count records arrived or --timeout-ms passed. With --group
 * it subscribes as a consumer group and commits after every batch; without, it assigns all partitions and
 * uses no group APIs.
 */
final class ConsumeCommand implements Command {
  private static final Duration POLL = Duration.ofMillis(200);
  private static final Duration MAX_CLOSE = Duration.ofSeconds(5);

  @Override
  public boolean run(Options o, JsonLine summary) {
    String topic = o.required("topic");
    String group = o.optional("group");
    int expected = o.positiveInt("count", 1);
    long deadline = System.nanoTime() + o.timeoutMs() * 1_000_000L;
    int consumed = 0;
    boolean failed = false;
    summary.put("topic", topic).put("group", group).put("expected", expected);
    KafkaConsumer<String, String> consumer = new KafkaConsumer<>(ClientConfigs.consumer(o, group));
    try {
      if (group != null) {
        consumer.subscribe(List.of(topic));
      } else {
        List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
            .map(p -> new TopicPartition(p.topic(), p.partition()))
            .toList();
        if (partitions.isEmpty()) throw new UnknownTopicOrPartitionException("no partitions for topic " + topic);
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
      }
      while (consumed < expected && System.nanoTime() < deadline) {
        ConsumerRecords<String, String> records = consumer.poll(POLL);
        for (ConsumerRecord<String, String> r : records) {
          JsonLine.of("consumed")
              .put("topic", r.topic())
              .put("partition", r.partition())
              .put("offset", r.offset())
              .put("key", r.key())
              .put("value", r.value())
              .print();
          consumed++;
        }
        if (group != null && !records.isEmpty()) consumer.commitSync();
      }
    } catch (KafkaException e) {
      ErrorLine.of("consume", e).print();
      failed = true;
    } finally {
      consumer.close(MAX_CLOSE.compareTo(Duration.ofMillis(o.timeoutMs())) < 0 ? MAX_CLOSE : Duration.ofMillis(o.timeoutMs()));
    }
    boolean timedOut = !failed && consumed < expected;
    summary.put("count", consumed).put("timedOut", timedOut);
    return !failed && !timedOut;
  }
}
