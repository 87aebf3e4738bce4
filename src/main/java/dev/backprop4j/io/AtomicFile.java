package dev.backprop4j.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file so that a failed or killed write leaves the previous one intact: the bytes go to a temporary file
 * beside the target ({@code .<name>.<pid>.<random>.tmp}), are forced to disk, and the temporary file is renamed over
 * the target. A symbolic link is written through (its target is replaced and the link stays); a path that exists
 * and is not a regular file (a folder, {@code /dev/full}, a pipe) is refused; the new file gets the old one's
 * permissions, or the process's umask when there was none. Temporary files left by writers that were killed (their
 * process is gone) are deleted on the next write to the same folder.
 */
public final class AtomicFile {

    /** Writes the file's bytes into a channel. */
    @FunctionalInterface
    public interface Body {
        void write(FileChannel channel) throws IOException;
    }

    private AtomicFile() {
    }

    /**
     * Fails now, naming the path, unless {@link #write} could write a file of about {@code bytes} bytes at
     * {@code path}: its folder exists or can be made and takes new files (a probe file is created and deleted), the
     * path is absent or a regular file, and the file system has the room. {@code what} names the option or file in
     * messages ("--save").
     */
    public static void checkWritable(Path path, long bytes, String what) throws IOException {
        checkWritable(path, bytes, what, false);
    }

    /**
     * {@link #checkWritable(Path, long, String)} for a file that will be replaced again and again (a checkpoint after
     * every epoch) when {@code replaced}: each replacement writes the new file beside the old one, so the room needed
     * is two copies, less what the file there now already takes.
     */
    public static void checkWritable(Path path, long bytes, String what, boolean replaced) throws IOException {
        Path target = target(path);
        if (Files.exists(target) && !Files.isRegularFile(target)) {
            throw new IllegalArgumentException(what + " " + path + ": " + kind(target) + ", not a regular file");
        }
        Path dir = target.getParent();
        for (Path d = dir; d != null; d = d.getParent()) {
            if (Files.exists(d) && !Files.isDirectory(d)) {
                throw new IllegalArgumentException(what + " " + path + ": " + d + " is a file, not a folder");
            }
            if (Files.isDirectory(d)) {
                break;
            }
        }
        try {
            Files.createDirectories(dir);
            Path probe = Files.createTempFile(dir, ".backprop4j-probe.", ".tmp");
            Files.delete(probe);
        } catch (AccessDeniedException e) {
            throw new IllegalArgumentException(what + " " + path + ": cannot create files in " + dir
                    + " (permission denied)");
        } catch (FileSystemException e) {
            throw new IllegalArgumentException(what + " " + path + ": cannot create files in " + dir + " ("
                    + (e.getReason() != null ? e.getReason() : e instanceof java.nio.file.NoSuchFileException
                    ? "no such folder" : e instanceof java.nio.file.FileAlreadyExistsException ? "a file is in the way"
                    : "the file system refused") + ")");
        }
        long free = Files.getFileStore(dir).getUsableSpace();
        long existing = Files.isRegularFile(target) ? Files.size(target) : 0;
        long needed = replaced ? Math.max(0, 2 * bytes - existing) : Math.max(0, bytes - existing);
        if (needed > free) {
            throw new IllegalArgumentException(what + " " + path + ": needs about " + needed + " bytes"
                    + (replaced ? " (each replacement writes the new file beside the old one: two copies of about "
                    + bytes + " bytes)" : "") + " but " + dir + " has " + free + " bytes free");
        }
    }

    /** Replaces the file at {@code path} with what {@code body} writes, atomically (see the class comment). */
    public static void write(Path path, Body body) throws IOException {
        Path target = target(path);
        if (Files.exists(target) && !Files.isRegularFile(target)) {
            throw new IOException(path + ": " + kind(target) + ", not a regular file; nothing was written");
        }
        Path dir = target.getParent();
        Files.createDirectories(dir);
        String name = target.getFileName().toString();
        sweepStale(dir, name);
        Path tmp = dir.resolve("." + name + "." + ProcessHandle.current().pid() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                body.write(ch);
                ch.force(true);
            }
            copyPermissions(target, tmp);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().contains(path.toString())) {
                throw e;
            }
            // "No space left on device" names no file: say which, and that nothing was lost
            throw new IOException("writing " + path + ": " + (e.getMessage() != null ? e.getMessage()
                    : e.getClass().getSimpleName()) + " (the previous file, if any, is intact)", e);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The file a write to {@code path} replaces: the final target of a symbolic link, else the path itself. */
    static Path target(Path path) throws IOException {
        Path p = path.toAbsolutePath();
        for (int hops = 0; Files.isSymbolicLink(p); hops++) {
            if (hops == 40) {
                throw new IOException(path + ": too many levels of symbolic links");
            }
            p = p.getParent().resolve(Files.readSymbolicLink(p)).normalize();
        }
        return p;
    }

    private static String kind(Path p) {
        return Files.isDirectory(p) ? "a folder" : "a special file (device, pipe or socket)";
    }

    private static void copyPermissions(Path from, Path to) throws IOException {
        PosixFileAttributeView src = Files.getFileAttributeView(from, PosixFileAttributeView.class);
        PosixFileAttributeView dst = Files.getFileAttributeView(to, PosixFileAttributeView.class);
        if (src != null && dst != null && Files.exists(from, LinkOption.NOFOLLOW_LINKS)) {
            Set<PosixFilePermission> perms = src.readAttributes().permissions();
            dst.setPermissions(perms);
        }
    }

    /** Deletes {@code .<name>.<pid>.*.tmp} files in dir whose writing process no longer exists. */
    private static void sweepStale(Path dir, String name) {
        String prefix = "." + name + ".";
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, prefix.replace("[", "\\[") + "*.tmp")) {
            for (Path p : s) {
                String rest = p.getFileName().toString().substring(prefix.length());
                int dot = rest.indexOf('.');
                try {
                    long pid = Long.parseLong(rest.substring(0, dot));
                    if (ProcessHandle.of(pid).isEmpty()) {
                        Files.deleteIfExists(p);
                    }
                } catch (RuntimeException | IOException e) {
                    // not one of ours, or already gone
                }
            }
        } catch (IOException | RuntimeException e) {
            // an unreadable folder: the write itself will say what is wrong
        }
    }
}
