package io.rlhf4j.core.chat;

/** A chat template that cannot be read or that refused a conversation ({@code raise_exception}). */
public final class ChatTemplateException extends RuntimeException {

    public ChatTemplateException(String message) {
        super(message);
    }

    public ChatTemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
