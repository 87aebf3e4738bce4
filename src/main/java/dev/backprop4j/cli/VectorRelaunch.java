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
        cmd.add("-Dbackprop4j.relaunch=false");
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(main.getName());
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.INHERIT)
                    .redirectOutput(ProcessBuilder.Redirect.INHERIT).start();
            Thread errPump = new Thread(() -> pumpWithoutNotice(p.getErrorStream(), System.err), "stderr-pump");
            errPump.setDaemon(true);
            errPump.start();
            int code = p.waitFor();
            errPump.join(2000);
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
