package portcullis.kafka;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.nio.channels.DatagramChannel;
import java.nio.channels.Pipe;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.spi.AbstractSelector;
import java.nio.channels.spi.SelectorProvider;

/**
 * Binds every client socket to the address in the system property {@value #LOCAL_ADDRESS} (set from
 * --local-address) before it connects. Portcullis identifies a source by its address, so each test client needs
 * its own, but the Kafka Java client has no source-address setting; it does open its sockets through the
 * JVM-wide SelectorProvider, which the JVM lets us replace. Install with
 * {@code -Djava.nio.channels.spi.SelectorProvider=portcullis.kafka.BindingSelectorProvider
 * --add-exports java.base/sun.nio.ch=ALL-UNNAMED} (the platform provider it delegates to is internal).
 */
public final class BindingSelectorProvider extends SelectorProvider {
  static final String LOCAL_ADDRESS = "portcullis.kafka.localAddress";

  private final SelectorProvider platform;

  public BindingSelectorProvider() {
    try {
      platform = (SelectorProvider) Class.forName("sun.nio.ch.DefaultSelectorProvider").getMethod("get").invoke(null);
    } catch (ClassNotFoundException | NoSuchMethodException | IllegalAccessException | InvocationTargetException e) {
      throw new IllegalStateException("cannot reach the platform SelectorProvider (is sun.nio.ch exported?)", e);
    }
  }

  /** True when the JVM was started with this provider, i.e. --local-address can take effect. */
  static boolean installed() {
    return SelectorProvider.provider() instanceof BindingSelectorProvider;
  }

  @Override
  public SocketChannel openSocketChannel() throws IOException {
    return bind(platform.openSocketChannel());
  }

  @Override
  public SocketChannel openSocketChannel(ProtocolFamily family) throws IOException {
    return bind(platform.openSocketChannel(family));
  }

  private static SocketChannel bind(SocketChannel channel) throws IOException {
    String local = System.getProperty(LOCAL_ADDRESS);
    if (local != null) {
      try {
        channel.bind(new InetSocketAddress(InetAddress.getByName(local), 0));
      } catch (IOException e) {
        channel.close();
        throw e;
      }
    }
    return channel;
  }

  @Override
  public DatagramChannel openDatagramChannel() throws IOException {
    return platform.openDatagramChannel();
  }

  @Override
  public DatagramChannel openDatagramChannel(ProtocolFamily family) throws IOException {
    return platform.openDatagramChannel(family);
  }

  @Override
  public Pipe openPipe() throws IOException {
    return platform.openPipe();
  }

  @Override
  public AbstractSelector openSelector() throws IOException {
    return platform.openSelector();
  }

  @Override
  public ServerSocketChannel openServerSocketChannel() throws IOException {
    return platform.openServerSocketChannel();
  }

  @Override
  public ServerSocketChannel openServerSocketChannel(ProtocolFamily family) throws IOException {
    return platform.openServerSocketChannel(family);
  }
}
