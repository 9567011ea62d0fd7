package portcullis.kafka;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** `<command> --name value ...`. Only known names are accepted; --topic (create-topics) and --acl (acls) may repeat. */
record Options(String command, Map<String, List<String>> values) {
  private static final Set<String> NAMES = Set.of(
      "bootstrap", "client-id", "local-address", "topic", "group", "count", "timeout-ms", "acks", "idempotence", "prefix",
      "partitions", "acl", "tls-ca", "tls-cert", "tls-key", "sasl-user", "sasl-password");

  static Options parse(String[] args) {
    if (args.length == 0) throw new UsageException("missing command");
    Map<String, List<String>> values = new LinkedHashMap<>();
    for (int i = 1; i < args.length; i += 2) {
      String flag = args[i];
      String name = flag.startsWith("--") ? flag.substring(2) : "";
      if (!NAMES.contains(name)) throw new UsageException("unknown option " + flag);
      if (i + 1 >= args.length) throw new UsageException("missing value for " + flag);
      values.computeIfAbsent(name, k -> new ArrayList<>()).add(args[i + 1]);
    }
    return new Options(args[0], values);
  }

  String required(String name) {
    String value = optional(name);
    if (value == null) throw new UsageException("--" + name + " is required for " + command);
    return value;
  }

  /** The last value given for the option, or null. */
  String optional(String name) {
    List<String> all = values.get(name);
    return all == null ? null : all.get(all.size() - 1);
  }

  String text(String name, String fallback) {
    String value = optional(name);
    return value == null ? fallback : value;
  }

  List<String> all(String name) {
    return values.getOrDefault(name, List.of());
  }

  int positiveInt(String name, int fallback) {
    String value = optional(name);
    if (value == null) return fallback;
    try {
      int n = Integer.parseInt(value);
      if (n > 0) return n;
    } catch (NumberFormatException e) {
      // reported below with the option's name
    }
    throw new UsageException("--" + name + " must be a positive integer, got " + value);
  }

  boolean bool(String name, boolean fallback) {
    String value = optional(name);
    if (value == null) return fallback;
    return switch (value) {
      case "true", "on" -> true;
      case "false", "off" -> false;
      default -> throw new UsageException("--" + name + " must be true|false|on|off, got " + value);
    };
  }

  String bootstrap() {
    return required("bootstrap");
  }

  String clientId() {
    return text("client-id", "portcullis-interop");
  }

  int timeoutMs() {
    return positiveInt("timeout-ms", 30_000);
  }
}
