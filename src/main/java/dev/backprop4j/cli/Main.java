package dev.backprop4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;

/**
 * The command line: {@code train}, {@code evaluate}, {@code predict}, {@code doctor}. Errors end with one line on standard
 * error and exit code 1 (2 for bad usage); {@code --verbose} adds the stack trace.
 */
@Command(name = "backprop4j", mixinStandardHelpOptions = true, version = "backprop4j 0.1.0",
        description = "Train and use multi-layer perceptrons on the CPU or an NVIDIA GPU.",
        subcommands = {TrainCommand.class, EvaluateCommand.class, PredictCommand.class, DoctorCommand.class, GpuBenchCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @Option(names = "--verbose", description = "Print stack traces of errors.", scope = CommandLine.ScopeType.INHERIT)
    boolean verbose;

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        if (VectorRelaunch.needed()) {
            System.exit(VectorRelaunch.run(Main.class, args));
        }
        VectorRelaunch.watchParent();
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line with the given streams; returns the exit code. */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        boolean verbose = java.util.Arrays.asList(args).contains("--verbose");
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((ex, a) -> {
            err.println("error: " + printable(ex.getMessage()) + " (see 'backprop4j " + commandName(ex) + "--help')");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            Throwable cause = ex;
            while (cause instanceof CommandLine.ExecutionException && cause.getCause() != null) {
                cause = cause.getCause();
            }
            err.println("error: " + message(cause));
            if (verbose) {
                cause.printStackTrace(err);
            }
            err.flush();
            return 1;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {
            err.println("error: out of memory: " + MemoryBudget.heapAdvice());
            if (verbose) {
                e.printStackTrace(err);
            }
            err.flush();
            return 1;
        }
    }

    private static String commandName(CommandLine.ParameterException ex) {
        String name = ex.getCommandLine().getCommandName();
        return name.equals("backprop4j") ? "" : name + " ";
    }

    static String message(Throwable t) {
        if (t instanceof java.nio.file.NoSuchFileException) {
            return "file not found: " + printable(t.getMessage());
        }
        if (t instanceof java.nio.file.AccessDeniedException) {
            return "permission denied: " + printable(t.getMessage());
        }
        String m = t.getMessage();
        return m == null ? t.getClass().getSimpleName() : printable(m);
    }

    /**
     * A message made safe for the terminal, whatever a file put in it: control characters escaped, and any run of
     * over 200 characters without a space cut (the messages quote file contents through Excerpt already; this is
     * the net).
     */
    static String printable(String message) {
        if (message == null) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        int run = 0;
        for (int i = 0; i < message.length(); i++) {
            char c = message.charAt(i);
            run = Character.isWhitespace(c) ? 0 : run + 1;
            if (run == 200) {
                int next = i;
                while (next < message.length() && !Character.isWhitespace(message.charAt(next))) {
                    next++;
                }
                sb.append("... (").append(next - i).append(" more characters)");
                i = next - 1;
                continue;
            }
            if (Character.isISOControl(c) || Character.getType(c) == Character.FORMAT) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
