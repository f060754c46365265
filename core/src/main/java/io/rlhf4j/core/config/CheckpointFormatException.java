package io.rlhf4j.core.config;

/**
 * A checkpoint file that exists but cannot be used. The message is one line that names the file and,
 * where there is one, the field or tensor at fault: the CLI prints it as it is.
 */
public class CheckpointFormatException extends IllegalArgumentException {
    public CheckpointFormatException(String message) {
        super(message);
    }
}
