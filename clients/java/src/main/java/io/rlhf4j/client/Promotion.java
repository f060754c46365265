package io.rlhf4j.client;

/**
 * The outcome of a promotion or rollback: the version that serves now and the one it replaced, which is
 * what a caller needs to log the change or undo it.
 *
 * @param kind {@code policy} or {@code reward}
 * @param active the version now active
 * @param previous the version active before, or null if none was
 */
public record Promotion(String kind, String active, String previous) {}
