package portcullis.kafka;

import java.util.Collection;

/** One JSON object printed as one line on stdout: the program's only output channel for results. */
final class JsonLine {
  private final StringBuilder json = new StringBuilder("{");

  static JsonLine of(String type) {
    return new JsonLine().put("type", type);
  }

  /** Values: null, String, Number, Boolean, or a Collection of those. */
  JsonLine put(String key, Object value) {
    if (json.length() > 1) json.append(',');
    appendString(key);
    json.append(':');
    appendValue(value);
    return this;
  }

  void print() {
    System.out.println(json + "}");
    System.out.flush();
  }

  private void appendValue(Object value) {
    if (value == null) {
      json.append("null");
    } else if (value instanceof Number || value instanceof Boolean) {
      json.append(value);
    } else if (value instanceof Collection<?> items) {
      json.append('[');
      boolean first = true;
      for (Object item : items) {
        if (!first) json.append(',');
        appendValue(item);
        first = false;
      }
      json.append(']');
    } else {
      appendString(value.toString());
    }
  }

  private void appendString(String s) {
    json.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> json.append("\\\"");
        case '\\' -> json.append("\\\\");
        case '\n' -> json.append("\\n");
        case '\r' -> json.append("\\r");
        case '\t' -> json.append("\\t");
        default -> {
          if (c < 0x20) json.append(String.format("\\u%04x", (int) c));
          else json.append(c);
        }
      }
    }
    json.append('"');
  }
}
