package portcullis.kafka;

import java.io.IOException;

/**
 * Runs the Kafka broker (kafka.Kafka) and shuts it down cleanly when stdin closes. The test helper keeps a pipe
 * to the broker's stdin, so a broker never outlives the test process that started it, however that process ends
 * (a crash, a runner timeout, SIGKILL), and a forgotten stop() cannot leave a JVM running on a shared machine.
 */
public final class BrokerMain {
  private BrokerMain() {}

  public static void main(String[] args) {
    Thread watchdog = new Thread(() -> {
      try {
        while (System.in.read() != -1) {
          // Nothing is ever written; only the end of the stream matters.
        }
      } catch (IOException e) {
        // A broken pipe means the parent is gone too.
      }
      System.exit(0); // runs Kafka's shutdown hook
    }, "parent-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    kafka.Kafka.main(args);
  }
}
