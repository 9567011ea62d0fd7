package portcullis.kafka;

import java.util.Map;

/**
 * The Java reference client for Portcullis' Kafka interop tests. Usage:
 *
 * <pre>
 *   InteropClient produce       --bootstrap H:P --topic T [--count N] [--prefix P] [--acks all|1|0] [--idempotence true|false]
 *   InteropClient consume       --bootstrap H:P --topic T [--group G] [--count N]
 *   InteropClient topics        --bootstrap H:P
 *   InteropClient create-topics --bootstrap H:P --topic T [--topic T2 ...] [--partitions N]
 *   InteropClient acls          --bootstrap H:P --acl allow|deny,HOST,OPERATION,topic|group|cluster,NAME [--acl ...]
 *   InteropClient load          --bootstrap H:P --topic T   (commands on stdin: see LoadCommand, for bench/kafka)
 *   common: [--client-id ID] [--timeout-ms MS] [--local-address 127.0.0.X]
 *           [--tls-ca CA.pem [--tls-cert CERT.pem --tls-key KEY.pem]] [--sasl-user U --sasl-password P]
 * </pre>
 *
 * Stdout carries only JSON lines: "produced"/"consumed"/"topic"/"created"/"acl" per item, "error" per failure
 * (exception class and message, denied topics or group), and a final "summary" with "ok". Exit status 0 when
 * ok, 1 when the client reported a failure, 2 for a bad command line. Logging goes to stderr.
 * --local-address needs the JVM flags in {@link BindingSelectorProvider}. --tls-ca connects with SSL, verifying
 * the broker's certificate (and its name) against that CA; --tls-cert/--tls-key add a client certificate.
 * --sasl-user/--sasl-password authenticate with SASL PLAIN (SASL_PLAINTEXT, or SASL_SSL with --tls-ca).
 */
public final class InteropClient {
  private static final Map<String, Command> COMMANDS = Map.of(
      "produce", new ProduceCommand(),
      "consume", new ConsumeCommand(),
      "topics", new ListTopicsCommand(),
      "create-topics", new CreateTopicsCommand(),
      "acls", new AclsCommand(),
      "load", new LoadCommand());

  private InteropClient() {}

  public static void main(String[] args) {
    long start = System.nanoTime();
    Options options;
    Command command;
    try {
      options = Options.parse(args);
      command = COMMANDS.get(options.command());
      if (command == null) throw new UsageException("unknown command " + options.command() + "; expected one of " + COMMANDS.keySet());
      String local = options.optional("local-address");
      if (local != null) {
        if (!BindingSelectorProvider.installed()) throw new UsageException("--local-address needs the JVM flags documented in BindingSelectorProvider");
        System.setProperty(BindingSelectorProvider.LOCAL_ADDRESS, local);
      }
    } catch (UsageException e) {
      JsonLine.of("error").put("op", "usage").put("message", e.getMessage()).print();
      System.exit(2);
      return;
    }
    JsonLine summary = JsonLine.of("summary").put("op", options.command());
    boolean ok;
    try {
      ok = command.run(options, summary);
    } catch (UsageException e) {
      JsonLine.of("error").put("op", "usage").put("message", e.getMessage()).print();
      System.exit(2);
      return;
    } catch (Exception e) {
      ErrorLine.of(options.command(), e).print();
      ok = false;
    }
    summary.put("ok", ok).put("elapsedMs", (System.nanoTime() - start) / 1_000_000).print();
    // Client threads must not keep a finished run alive.
    System.exit(ok ? 0 : 1);
  }
}
