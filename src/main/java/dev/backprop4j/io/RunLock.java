package dev.backprop4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Keeps two runs from writing one file: an exclusive lock on {@code <file>.lock} beside it (the operating system's
 * advisory file lock, which goes with the process that holds it, also when it is killed), with the holder's process
 * id written inside. {@link #acquire} refuses a file another process (or another run of this one) holds, naming
 * that process; {@link #close} gives the lock up and deletes the lock file.
 */
public final class RunLock implements AutoCloseable {
    private final Path lockFile;
    private final FileChannel channel;
    private final FileLock lock;

    private RunLock(Path lockFile, FileChannel channel, FileLock lock) {
        this.lockFile = lockFile;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Locks {@code file} for this run.
     *
     * @throws IllegalStateException naming {@code what} (the option), the file and the process that holds it
     */
    public static RunLock acquire(Path file, String what) throws IOException {
        Path target = AtomicFile.target(file);
        Path lockFile = target.resolveSibling(target.getFileName() + ".lock");
        Files.createDirectories(lockFile.getParent());
        for (int attempt = 0; ; attempt++) {
            FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            try {
                FileLock lock;
                try {
                    lock = ch.tryLock();
                } catch (OverlappingFileLockException e) {
                    lock = null;
                }
                if (lock == null) {
                    throw new IllegalStateException(what + " " + file + " is in use by another run (process "
                            + holder(ch) + ", lock file " + lockFile + "); wait for it to end, or give this run "
                            + "another file");
                }
                if (!Files.exists(lockFile) && attempt < 3) {
                    // the holder deleted the file and let go between our open and our lock: the lock we hold is on
                    // a file no one else will open; lock the one at the path
                    ch.close();
                    continue;
                }
                ch.truncate(0);
                ch.write(ByteBuffer.wrap(Long.toString(ProcessHandle.current().pid())
                        .getBytes(StandardCharsets.US_ASCII)), 0);
                return new RunLock(lockFile, ch, lock);
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
        }
    }

    private static String holder(FileChannel ch) {
        try {
            ByteBuffer b = ByteBuffer.allocate(20);
            int n = ch.read(b, 0);
            String pid = n <= 0 ? "" : new String(b.array(), 0, n, StandardCharsets.US_ASCII).trim();
            return pid.matches("[0-9]{1,19}") ? pid : "unknown";
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** Deletes the lock file, then lets go of it (in that order: a run that opens the path next makes a new one). */
    @Override
    public void close() throws IOException {
        if (channel.isOpen()) {
            Files.deleteIfExists(lockFile);
            lock.release();
            channel.close();
        }
    }
}
