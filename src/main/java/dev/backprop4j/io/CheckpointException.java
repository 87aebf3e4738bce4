package dev.backprop4j.io;

/** A checkpoint file that is malformed or does not fit the model; the message names the file and the tensor. */
public class CheckpointException extends IllegalArgumentException {
    public CheckpointException(String message) {
        super(message);
    }
}
