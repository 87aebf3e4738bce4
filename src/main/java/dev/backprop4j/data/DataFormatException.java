package dev.backprop4j.data;

/** A data file that cannot be used as it is; the message names the file and, where known, line and column. */
public class DataFormatException extends IllegalArgumentException {
    public DataFormatException(String message) {
        super(message);
    }
}
