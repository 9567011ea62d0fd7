package portcullis.kafka;

/** A bad command line: reported as a "usage" error line and exit status 2, never as a Kafka outcome. */
final class UsageException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  UsageException(String message) {
    super(message);
  }
}
