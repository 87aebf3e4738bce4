package dev.backprop4j.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** One command line run in this JVM ({@link Main#execute}): its exit code, standard output and standard error. */
record CliRun(int code, String out, String err) {

    static CliRun of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new CliRun(code, out.toString(), err.toString());
    }
}
