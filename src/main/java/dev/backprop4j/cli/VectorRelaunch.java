package dev.backprop4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The fast CPU GEMM uses the Vector API, an incubator module in Java 17 that a jar's manifest cannot
 * enable. So that users never type JVM flags, {@code java -jar backprop4j.jar ...} restarts itself once
 * with {@code --add-modules jdk.incubator.vector} (keeping the original JVM options), forwards the
 * streams, drops the JVM's one-line "Using incubator modules" notice, and exits with the child's code.
 * Set -Dbackprop4j.relaunch=false to run without it (the scalar GEMM is then used).
 *
 * <p>The two JVMs live and die together, however the first one ends: a signal to it (SIGTERM from a supervisor, an
 * IDE's stop button, {@code Process.destroy()}) runs its shutdown hook, which stops the child and waits for it;
 * SIGKILL runs nothing, so the child watches its parent ({@link #watchParent}) and stops within half a second of
 * its end, before it can train on or overwrite a checkpoint. The parent also passes what it knows of the terminal
 * (the child's standard error is a pipe) for the progress bar.
 */
final class VectorRelaunch {
    private static final String MODULE = "jdk.incubator.vector";
    private static final String NOTICE = "WARNING: Using incubator modules: " + MODULE;

    private VectorRelaunch() {
    }

    static boolean needed() {
        return ModuleLayer.boot().findModule(MODULE).isEmpty()
                && !"false".equals(System.getProperty("backprop4j.relaunch"));
    }

    static int run(Class<?> main, String[] args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--add-modules");
        cmd.add(MODULE);
        // the relaunched JVM runs from the class path, where the jar's Enable-Native-Access does not apply; every
        // runtime this project supports knows the flag (Java 17 accepts it, 22 and later need it to stay quiet)
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-Dbackprop4j.relaunch=false");
        cmd.add("-D" + PARENT_PID + "=" + ProcessHandle.current().pid());
        cmd.add("-D" + ProgressDisplay.TERMINAL + "=" + ProgressDisplay.stderrIsTerminal());
        cmd.add("-D" + ProgressDisplay.COLUMNS + "=" + ProgressDisplay.columns());
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(main.getName());
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.INHERIT)
                    .redirectOutput(ProcessBuilder.Redirect.INHERIT).start();
            Thread stopChild = new Thread(() -> stop(p), "stop-child");
            Runtime.getRuntime().addShutdownHook(stopChild);
            Thread errPump = new Thread(() -> pumpWithoutNotice(p.getErrorStream(), System.err), "stderr-pump");
            errPump.setDaemon(true);
            errPump.start();
            int code = p.waitFor();
            errPump.join(2000);
            try {
                Runtime.getRuntime().removeShutdownHook(stopChild);
            } catch (IllegalStateException shuttingDown) {
                // a signal stopped this JVM, and its hook stopped the child: nothing more to do or to say
            }
            return code;
        } catch (IOException e) {
            System.err.println("error: cannot restart the JVM with --add-modules " + MODULE + ": " + e.getMessage()
                    + " (run with -Dbackprop4j.relaunch=false to skip)");
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        }
    }

    /** The system property that tells a relaunched JVM which process to live and die with. */
    static final String PARENT_PID = "backprop4j.parent.pid";

    /** Shutdown hook of the parent: SIGTERM to the child, then, after ten seconds, SIGKILL. */
    private static void stop(Process child) {
        if (child.isAlive()) {
            child.destroy();
            try {
                if (!child.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                    child.destroyForcibly();
                }
            } catch (InterruptedException e) {
                child.destroyForcibly();
            }
        }
    }

    /**
     * In a relaunched JVM: a daemon thread that halts this JVM (exit code 143, no shutdown hooks, nothing saved)
     * when the launching process has ended, whatever ended it; polls twice a second.
     */
    static void watchParent() {
        String pid = System.getProperty(PARENT_PID);
        if (pid == null) {
            return;
        }
        java.util.Optional<ProcessHandle> parent = ProcessHandle.of(Long.parseLong(pid));
        java.util.Optional<java.time.Instant> started = parent.flatMap(h -> h.info().startInstant());
        Thread watch = new Thread(() -> {
            while (true) {
                java.util.Optional<ProcessHandle> now = ProcessHandle.of(Long.parseLong(pid));
                boolean same = now.isPresent() && now.get().isAlive()
                        && now.flatMap(h -> h.info().startInstant()).equals(started);
                if (!same) {
                    System.err.println("backprop4j: the launching java process (pid " + pid + ") has ended; stopping");
                    System.err.flush();
                    Runtime.getRuntime().halt(143);
                }
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "watch-parent");
        watch.setDaemon(true);
        watch.start();
    }

    /** Copies bytes from in to out, leaving out a first line equal to the incubator notice. */
    private static void pumpWithoutNotice(InputStream in, OutputStream out) {
        try {
            byte[] first = new byte[NOTICE.length() + 1];
            int n = in.readNBytes(first, 0, first.length);
            String head = new String(first, 0, n, java.nio.charset.StandardCharsets.UTF_8);
            if (!head.equals(NOTICE + "\n")) {
                out.write(first, 0, n);
                out.flush();
            }
            byte[] buf = new byte[8192];
            int r;
            while ((r = in.read(buf)) > 0) {
                out.write(buf, 0, r);
                out.flush();
            }
        } catch (IOException ignored) {
            // the child has exited
        }
    }
}
