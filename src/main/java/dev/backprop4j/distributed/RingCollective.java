package dev.backprop4j.distributed;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;

/**
 * A {@link Collective} over TCP in pure Java: the ranks form a ring, each connected to the next (it sends there) and
 * accepting from the previous (it receives from there). All-reduce is the bandwidth-optimal ring algorithm: the
 * array is cut into one segment per rank; n - 1 steps of reduce-scatter (each rank sends one segment to the right
 * while it receives another from the left and adds it in) leave every segment fully summed on one rank, and n - 1
 * steps of all-gather pass the sums around. Every rank sends and receives 2 (n - 1) / n of the array, whatever n is.
 * Within a step the segment streams in chunks through non-blocking channels, sending and receiving at once (so two
 * ranks sending each other large segments cannot deadlock on full socket buffers) and adding each chunk as it lands.
 * Each element is summed in one fixed order along the ring, so every run and every rank get the same bits.
 *
 * <p>Setup: every rank first {@link #listen}s (any free port), the addresses are exchanged out of band (a Spark
 * barrier's allGather, or a test), then every rank {@link #connect}s. A rank that fails closes its sockets, and its
 * neighbours fail at their next read or write instead of waiting.
 */
public final class RingCollective implements Collective {
    private static final int MAGIC = 0x62703472; // "bp4r"
    private static final int CHUNK = 256 << 10;

    private final int rank;
    private final int size;
    private final SocketChannel right;
    private final SocketChannel left;
    private final Selector selector;
    private final long timeoutMillis;
    private final ByteBuffer sendBuf = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
    /** Bytes received and not yet taken (write mode: they are [0, position)); may run into the next call's data. */
    private final ByteBuffer recvBuf = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);

    private RingCollective(int rank, int size, SocketChannel right, SocketChannel left, Selector selector,
                           long timeoutMillis) {
        this.rank = rank;
        this.size = size;
        this.right = right;
        this.left = left;
        this.selector = selector;
        this.timeoutMillis = timeoutMillis;
    }

    /** A listening socket for this rank on {@code host}, on a free port; give its address to the other ranks. */
    public static ServerSocketChannel listen(InetAddress host) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress(host, 0));
        return server;
    }

    /**
     * Joins the ring as {@code rank} of {@code addresses.size()}: addresses.get(i) is rank i's {@link #listen}
     * address (this rank's own included). Connects to the next rank, accepts the previous one on
     * {@code listener} (then closed), and checks that each side is who it should be. A rank with no progress for
     * {@code timeout}, at setup or in any later call, fails naming the neighbour it waited for.
     */
    public static RingCollective connect(int rank, List<InetSocketAddress> addresses, ServerSocketChannel listener,
                                         Duration timeout) throws IOException {
        int size = addresses.size();
        if (rank < 0 || rank >= size) {
            throw new IllegalArgumentException("ring: rank " + rank + " of " + size);
        }
        if (size == 1) {
            listener.close();
            return new RingCollective(0, 1, null, null, null, timeout.toMillis());
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        int next = (rank + 1) % size;
        int prev = (rank + size - 1) % size;
        SocketChannel right = null;
        SocketChannel left = null;
        try {
            right = connectWithRetry(addresses.get(next), deadline, next);
            right.socket().setTcpNoDelay(true);
            ByteBuffer hello = ByteBuffer.allocate(8).putInt(MAGIC).putInt(rank).flip();
            while (hello.hasRemaining()) {
                right.write(hello);
            }
            left = accept(listener, deadline, prev);
            ByteBuffer got = ByteBuffer.allocate(8);
            while (got.hasRemaining()) {
                if (left.read(got) < 0) {
                    throw new IOException("ring: rank " + prev + " closed the connection during setup");
                }
            }
            got.flip();
            int magic = got.getInt();
            int from = got.getInt();
            if (magic != MAGIC || from != prev) {
                throw new IOException("ring: rank " + rank + " expected rank " + prev + " on its listener, got "
                        + (magic != MAGIC ? "a stranger" : "rank " + from));
            }
            left.setOption(StandardSocketOptions.SO_RCVBUF, 1 << 20);
            right.setOption(StandardSocketOptions.SO_SNDBUF, 1 << 20);
            right.configureBlocking(false);
            left.configureBlocking(false);
            Selector selector = Selector.open();
            return new RingCollective(rank, size, right, left, selector, timeout.toMillis());
        } catch (IOException | RuntimeException e) {
            closeQuietly(right);
            closeQuietly(left);
            throw e;
        } finally {
            listener.close();
        }
    }

    private static SocketChannel connectWithRetry(InetSocketAddress to, long deadline, int who) throws IOException {
        IOException last = null;
        while (System.nanoTime() < deadline) {
            try {
                return SocketChannel.open(to);
            } catch (IOException e) {
                last = e;
                try {
                    Thread.sleep(20);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException("ring: interrupted connecting to rank " + who, ie);
                }
            }
        }
        throw new IOException("ring: could not connect to rank " + who + " at " + to, last);
    }

    private static SocketChannel accept(ServerSocketChannel listener, long deadline, int who) throws IOException {
        listener.configureBlocking(false);
        try (Selector s = Selector.open()) {
            listener.register(s, SelectionKey.OP_ACCEPT);
            while (true) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    throw new IOException("ring: rank " + who + " did not connect in time");
                }
                s.select(left);
                SocketChannel c = listener.accept();
                if (c != null) {
                    c.configureBlocking(true);
                    return c;
                }
            }
        }
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    /** Reads and writes elements of one array as little-endian bytes. */
    private interface Elements {
        int bytes();

        void put(ByteBuffer to, int i);

        void take(ByteBuffer from, int i, boolean add);
    }

    private static Elements of(float[] a) {
        return new Elements() {
            public int bytes() {
                return 4;
            }

            public void put(ByteBuffer to, int i) {
                to.putFloat(a[i]);
            }

            public void take(ByteBuffer from, int i, boolean add) {
                a[i] = add ? a[i] + from.getFloat() : from.getFloat();
            }
        };
    }

    private static Elements of(double[] a) {
        return new Elements() {
            public int bytes() {
                return 8;
            }

            public void put(ByteBuffer to, int i) {
                to.putDouble(a[i]);
            }

            public void take(ByteBuffer from, int i, boolean add) {
                a[i] = add ? a[i] + from.getDouble() : from.getDouble();
            }
        };
    }

    private int segFrom(int length, int s) {
        return (int) ((long) length * s / size);
    }

    @Override
    public void allReduceSum(float[] data) {
        allReduce(of(data), data.length);
    }

    @Override
    public void allReduceSum(double[] data) {
        allReduce(of(data), data.length);
    }

    private void allReduce(Elements e, int n) {
        if (size == 1) {
            return;
        }
        for (int k = 0; k < size - 1; k++) { // reduce-scatter
            int out = Math.floorMod(rank - k, size);
            int in = Math.floorMod(rank - k - 1, size);
            transfer(e, segFrom(n, out), segFrom(n, out + 1), segFrom(n, in), segFrom(n, in + 1), true, false);
        }
        for (int k = 0; k < size - 1; k++) { // all-gather
            int out = Math.floorMod(rank + 1 - k, size);
            int in = Math.floorMod(rank - k, size);
            transfer(e, segFrom(n, out), segFrom(n, out + 1), segFrom(n, in), segFrom(n, in + 1), false, false);
        }
    }

    /** Passes root's data along the ring, each rank forwarding chunks as they arrive (none back to the root). */
    @Override
    public void broadcast(float[] data, int root) {
        broadcast(of(data), data.length, root);
    }

    @Override
    public void broadcast(double[] data, int root) {
        broadcast(of(data), data.length, root);
    }

    private void broadcast(Elements e, int n, int root) {
        if (size == 1) {
            return;
        }
        boolean sends = (rank + 1) % size != root;
        if (rank == root) {
            transfer(e, 0, n, 0, 0, false, false);
        } else {
            transfer(e, 0, sends ? n : 0, 0, n, false, true);
        }
    }

    /**
     * Sends elements [outFrom, outTo) to the right while receiving [inFrom, inTo) from the left (added in, or
     * stored), chunk by chunk through the non-blocking channels; with {@code forward}, sends only what was received.
     */
    private void transfer(Elements e, int outFrom, int outTo, int inFrom, int inTo, boolean add, boolean forward) {
        int b = e.bytes();
        int sendNext = outFrom;
        sendBuf.clear().flip();
        // recvBuf may already hold the start of this step's data, read with the end of the last step's
        int recvNext = take(e, inFrom, inTo, add);
        try {
            while (sendNext < outTo || sendBuf.hasRemaining() || recvNext < inTo) {
                int ops = 0;
                boolean wantSend = sendBuf.hasRemaining() || (sendNext < outTo && (!forward || sendNext < recvNext));
                if (wantSend) {
                    ops++;
                    right.register(selector, SelectionKey.OP_WRITE);
                }
                if (recvNext < inTo) {
                    ops++;
                    left.register(selector, SelectionKey.OP_READ);
                }
                if (ops == 0) {
                    break;
                }
                if (selector.select(timeoutMillis) == 0) {
                    throw new IllegalStateException("collective: rank " + rank + " made no progress for "
                            + timeoutMillis / 1000 + " s (waiting for rank " + Math.floorMod(rank - 1, size)
                            + " or rank " + (rank + 1) % size + ")");
                }
                for (SelectionKey key : selector.selectedKeys()) {
                    if (key.isValid() && key.isWritable()) {
                        if (!sendBuf.hasRemaining()) {
                            sendBuf.clear();
                            int limit = forward ? Math.min(outTo, recvNext) : outTo;
                            while (sendNext < limit && sendBuf.remaining() >= b) {
                                e.put(sendBuf, sendNext++);
                            }
                            sendBuf.flip();
                        }
                        right.write(sendBuf);
                    }
                    if (key.isValid() && key.isReadable()) {
                        if (left.read(recvBuf) < 0) {
                            // the neighbour failed or was stopped: let its own error reach whoever collects the
                            // ranks' failures (Spark's driver) before this consequence of it does
                            sleepQuietly(1000);
                            throw new IllegalStateException("collective: rank " + Math.floorMod(rank - 1, size)
                                    + " closed its connection (did it fail?)");
                        }
                        recvNext = take(e, recvNext, inTo, add);
                    }
                }
                selector.selectedKeys().clear();
                for (SelectionKey key : selector.keys()) {
                    key.interestOps(0);
                }
            }
        } catch (IOException ex) {
            throw new IllegalStateException("collective: rank " + rank + ": " + ex.getMessage(), ex);
        }
    }

    /** Takes the whole elements recvBuf holds into [from, to); returns the next element to receive. */
    private int take(Elements e, int from, int to, boolean add) {
        recvBuf.flip();
        int next = from;
        while (recvBuf.remaining() >= e.bytes() && next < to) {
            e.take(recvBuf, next++, add);
        }
        recvBuf.compact();
        return next;
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closeQuietly(right);
        closeQuietly(left);
        if (selector != null) {
            try {
                selector.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    private static void closeQuietly(SocketChannel c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
