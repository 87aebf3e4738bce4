package dev.backprop4j.backend.cuda;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The kernel entry points of a PTX text with their parameter lists and thread limits, read from the
 * {@code .entry} directives, so each launch can be checked against the kernel it calls: a pointer or a
 * {@code long long} is {@code u64}, an {@code int} {@code u32}, a {@code double} {@code f64}, a by-value struct of
 * b bytes {@code b8[b]}; {@code .maxntid} (from {@code __launch_bounds__}) bounds the threads per block.
 */
final class PtxEntries {

    /** One entry: its parameter types in order and the most threads per block it may be launched with. */
    record Entry(String name, List<String> params, int maxThreads) {
    }

    private static final Pattern ENTRY = Pattern.compile(
            "^\\.visible \\.entry (\\w+)\\(\\s*(.*?)\\)\\s*(?:\\.maxntid (\\d+), (\\d+), (\\d+))?",
            Pattern.MULTILINE | Pattern.DOTALL);
    private static final Pattern PARAM = Pattern.compile(
            "\\.param\\s+(?:\\.align \\d+\\s+)?\\.(\\w+)\\s+(?:\\.ptr\\s+(?:\\.\\w+\\s+)*)?\\w+(\\[\\d+])?");

    /** The CUDA limit on threads per block, used when an entry declares no .maxntid. */
    static final int DEVICE_MAX_THREADS = 1024;

    private PtxEntries() {
    }

    /** Every .entry of {@code ptx}, by name, in file order. */
    static Map<String, Entry> parse(String ptx) {
        Map<String, Entry> out = new LinkedHashMap<>();
        Matcher e = ENTRY.matcher(ptx);
        while (e.find()) {
            List<String> params = new ArrayList<>();
            Matcher p = PARAM.matcher(e.group(2));
            while (p.find()) {
                params.add(p.group(1) + (p.group(2) == null ? "" : p.group(2)));
            }
            int max = e.group(3) == null ? DEVICE_MAX_THREADS
                    : Integer.parseInt(e.group(3)) * Integer.parseInt(e.group(4)) * Integer.parseInt(e.group(5));
            out.put(e.group(1), new Entry(e.group(1), Collections.unmodifiableList(params), max));
        }
        return Collections.unmodifiableMap(out);
    }
}
