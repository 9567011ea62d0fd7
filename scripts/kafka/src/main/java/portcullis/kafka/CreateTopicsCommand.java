package portcullis.kafka;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;

/**
 * Creates every --topic (--partitions each, replication factor 1) and waits until each partition has a
 * leader, so a producer started right after never sees the topic half-created.
 */
final class CreateTopicsCommand implements Command {
  private static final long LEADER_POLL_MS = 100;

  @Override
  public boolean run(Options o, JsonLine summary) throws InterruptedException {
    List<String> names = o.all("topic");
    if (names.isEmpty()) throw new UsageException("--topic is required for create-topics");
    int partitions = o.positiveInt("partitions", 1);
    long deadline = System.nanoTime() + o.timeoutMs() * 1_000_000L;
    int created = 0;
    try (Admin admin = Admin.create(ClientConfigs.admin(o))) {
      Map<String, KafkaFuture<Void>> results =
          admin.createTopics(names.stream().map(n -> new NewTopic(n, partitions, (short) 1)).toList()).values();
      for (String name : names) {
        try {
          results.get(name).get(o.timeoutMs(), TimeUnit.MILLISECONDS);
          awaitLeaders(admin, name, deadline);
          JsonLine.of("created").put("topic", name).put("partitions", partitions).print();
          created++;
        } catch (ExecutionException | TimeoutException e) {
          ErrorLine.of("create-topics", e).put("topic", name).print();
        }
      }
    }
    summary.put("count", created);
    return created == names.size();
  }

  private static void awaitLeaders(Admin admin, String name, long deadline)
      throws ExecutionException, InterruptedException, TimeoutException {
    while (true) {
      TopicDescription d = admin.describeTopics(List.of(name)).allTopicNames().get().get(name);
      if (d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty())) return;
      if (System.nanoTime() > deadline) throw new TimeoutException("no leader for every partition of " + name);
      Thread.sleep(LEADER_POLL_MS);
    }
  }
}
