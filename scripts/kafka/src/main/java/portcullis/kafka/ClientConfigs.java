package portcullis.kafka;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.SslConfigs;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Client settings from the options. Every wait is bounded by --timeout-ms so a denial never hangs a test. */
final class ClientConfigs {
  private ClientConfigs() {}

  private static Properties common(Options o) {
    Properties p = new Properties();
    p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap());
    p.put(CommonClientConfigs.CLIENT_ID_CONFIG, o.clientId());
    p.put(CommonClientConfigs.REQUEST_TIMEOUT_MS_CONFIG, o.timeoutMs());
    tls(o, p);
    sasl(o, p);
    return p;
  }

  /** --sasl-user with --sasl-password: SASL PLAIN, over TLS when tls() chose SSL. */
  private static void sasl(Options o, Properties p) {
    String user = o.optional("sasl-user");
    String password = o.optional("sasl-password");
    if ((user == null) != (password == null)) throw new UsageException("--sasl-user and --sasl-password go together");
    if (user == null) return;
    p.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "SSL".equals(p.get(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG)) ? "SASL_SSL" : "SASL_PLAINTEXT");
    p.put(SaslConfigs.SASL_MECHANISM, "PLAIN");
    p.put(SaslConfigs.SASL_JAAS_CONFIG, "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"" + jaasQuoted(user) + "\" password=\"" + jaasQuoted(password) + "\";");
  }

  private static String jaasQuoted(String value) {
    if (value.contains("\"") || value.contains("\\")) throw new UsageException("SASL user and password may not contain quotes or backslashes");
    return value;
  }

  /**
   * --tls-ca: SSL with that PEM CA as the only trust anchor; hostname verification keeps Kafka's default (https).
   * --tls-cert with --tls-key: a client certificate. A PEM keystore file must hold key and chain together, so
   * they go inline instead (ssl.keystore.key / ssl.keystore.certificate.chain, the key unencrypted PKCS#8).
   */
  private static void tls(Options o, Properties p) {
    String ca = o.optional("tls-ca");
    String cert = o.optional("tls-cert");
    String key = o.optional("tls-key");
    if ((cert == null) != (key == null)) throw new UsageException("--tls-cert and --tls-key go together");
    if (ca == null) {
      if (cert != null) throw new UsageException("--tls-cert needs --tls-ca");
      return;
    }
    p.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "SSL");
    p.put(SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG, "PEM");
    p.put(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, ca);
    if (cert != null) {
      p.put(SslConfigs.SSL_KEYSTORE_TYPE_CONFIG, "PEM");
      p.put(SslConfigs.SSL_KEYSTORE_CERTIFICATE_CHAIN_CONFIG, read(cert));
      p.put(SslConfigs.SSL_KEYSTORE_KEY_CONFIG, read(key));
    }
  }

  private static String read(String file) {
    try {
      return Files.readString(Path.of(file));
    } catch (IOException e) {
      throw new UsageException("cannot read " + file + ": " + e.getMessage());
    }
  }

  static Properties producer(Options o) {
    Properties p = common(o);
    p.put(ProducerConfig.ACKS_CONFIG, o.text("acks", "all"));
    // Off by default: idempotence adds InitProducerId, which Cilium's `produce` role does not allow.
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, o.bool("idempotence", false));
    p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, o.timeoutMs());
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, o.timeoutMs());
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    return p;
  }

  /** group null: no consumer group (assign + seek), which sends no group APIs at all. */
  static Properties consumer(Options o, String group) {
    Properties p = common(o);
    if (group != null) p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    // Commits are explicit (commitSync after each batch) so an OffsetCommit denial surfaces as an error line.
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, o.timeoutMs());
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    return p;
  }

  static Properties admin(Options o) {
    Properties p = common(o);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, o.timeoutMs());
    return p;
  }
}
