package dev.backprop4j.core;

/**
 * Text taken from a file, made safe to quote in an error message: control characters (terminal escape sequences
 * among them) and other invisible characters are written as {@code \\uXXXX}, and text longer than {@link #MAX}
 * characters is cut to its start and the count of the rest, so a crafted file can neither drive the terminal nor
 * flood it.
 */
public final class Excerpt {
    /** Characters of a file's text a message quotes at most. */
    public static final int MAX = 60;

    private Excerpt() {
    }

    /** {@code text} escaped and cut to about {@link #MAX} characters ("null" for null). */
    public static String of(String text) {
        if (text == null) {
            return "null";
        }
        String cut = text.length() > MAX ? text.substring(0, MAX - 20) : text;
        StringBuilder sb = new StringBuilder(cut.length() + 16);
        for (int i = 0; i < cut.length(); ) {
            int c = cut.codePointAt(i);
            boolean invisible = Character.isISOControl(c) || Character.getType(c) == Character.FORMAT
                    || Character.getType(c) == Character.SURROGATE; // a surrogate alone: half a character
            sb.append(invisible ? String.format("\\u%04x", c) : new String(Character.toChars(c)));
            i += Character.charCount(c);
        }
        if (cut.length() < text.length()) {
            sb.append("... (").append(text.length() - cut.length()).append(" more characters)");
        }
        return sb.toString();
    }
}
