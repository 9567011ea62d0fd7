package portcullis.kafka;

import java.util.TreeSet;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.common.errors.GroupAuthorizationException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TopicAuthorizationException;

/**
 * An exception as a JSON "error" line: the exception's simple and full class name and message, plus the
 * denied topics or group of an authorization error, so a test can assert exactly what the client saw.
 */
final class ErrorLine {
  private ErrorLine() {}

  static JsonLine of(String op, Throwable thrown) {
    Throwable t = unwrap(thrown);
    JsonLine line = JsonLine.of("error")
        .put("op", op)
        .put("exception", t.getClass().getSimpleName())
        .put("class", t.getClass().getName())
        .put("message", t.getMessage())
        .put("retriable", t instanceof RetriableException);
    if (t instanceof TopicAuthorizationException e) line.put("unauthorizedTopics", new TreeSet<>(e.unauthorizedTopics()));
    if (t instanceof GroupAuthorizationException e) line.put("groupId", e.groupId());
    if (t.getCause() != null) line.put("cause", t.getCause().getClass().getName());
    return line;
  }

  /** Futures wrap the client's exception; report the one the application would act on. */
  static Throwable unwrap(Throwable t) {
    while ((t instanceof ExecutionException || t instanceof CompletionException) && t.getCause() != null) t = t.getCause();
    return t;
  }
}
