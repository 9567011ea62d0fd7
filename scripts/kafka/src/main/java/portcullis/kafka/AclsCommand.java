package portcullis.kafka;

import java.util.List;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

/**
 * Creates ACLs on a broker started with an authorizer, so the real broker itself denies a client and the
 * interop tests see Kafka's own authorization errors. Each --acl is
 * {@code allow|deny,HOST,OPERATION,topic|group|cluster,NAME} for every principal (User:*): on a PLAINTEXT
 * listener all clients are User:ANONYMOUS and only the host (see --local-address) tells them apart. Returns once
 * the broker reports every ACL, i.e. once they are enforced.
 */
final class AclsCommand implements Command {
  private static final long VISIBLE_POLL_MS = 100;

  @Override
  public boolean run(Options o, JsonLine summary) throws Exception {
    List<AclBinding> bindings = o.all("acl").stream().map(AclsCommand::parse).toList();
    if (bindings.isEmpty()) throw new UsageException("--acl is required for acls");
    long deadline = System.nanoTime() + o.timeoutMs() * 1_000_000L;
    try (Admin admin = Admin.create(ClientConfigs.admin(o))) {
      admin.createAcls(bindings).all().get();
      for (AclBinding binding : bindings) {
        while (!admin.describeAcls(binding.toFilter()).values().get().contains(binding)) {
          if (System.nanoTime() > deadline) throw new TimeoutException("ACL not visible: " + binding);
          Thread.sleep(VISIBLE_POLL_MS);
        }
        JsonLine.of("acl")
            .put("permission", binding.entry().permissionType().toString())
            .put("host", binding.entry().host())
            .put("operation", binding.entry().operation().toString())
            .put("resourceType", binding.pattern().resourceType().toString())
            .put("name", binding.pattern().name())
            .print();
      }
    }
    summary.put("count", bindings.size());
    return true;
  }

  private static AclBinding parse(String spec) {
    String[] p = spec.split(",", 5);
    if (p.length != 5) throw new UsageException("--acl must be allow|deny,HOST,OPERATION,topic|group|cluster,NAME, got " + spec);
    AclPermissionType permission = AclPermissionType.fromString(p[0]);
    AclOperation operation = AclOperation.fromString(p[2]);
    ResourceType type = ResourceType.fromString(p[3]);
    if (permission != AclPermissionType.ALLOW && permission != AclPermissionType.DENY) throw new UsageException("bad permission in --acl " + spec);
    if (operation == AclOperation.UNKNOWN || operation == AclOperation.ANY) throw new UsageException("bad operation in --acl " + spec);
    if (!List.of(ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER).contains(type)) throw new UsageException("bad resource type in --acl " + spec);
    return new AclBinding(
        new ResourcePattern(type, p[4], PatternType.LITERAL),
        new AccessControlEntry("User:*", p[1], operation, permission));
  }
}
