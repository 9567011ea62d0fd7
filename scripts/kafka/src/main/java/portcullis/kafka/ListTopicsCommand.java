package portcullis.kafka;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;

/** Lists topics with one all-topics Metadata request, as a plain consumer does (no admin APIs). */
final class ListTopicsCommand implements Command {
  @Override
  public boolean run(Options o, JsonLine summary) {
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(ClientConfigs.consumer(o, null))) {
      Map<String, List<PartitionInfo>> topics = new TreeMap<>(consumer.listTopics(Duration.ofMillis(o.timeoutMs())));
      topics.forEach((name, partitions) -> JsonLine.of("topic").put("name", name).put("partitions", partitions.size()).print());
      summary.put("count", topics.size());
      return true;
    }
  }
}
