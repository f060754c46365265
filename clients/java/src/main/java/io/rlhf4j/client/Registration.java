package io.rlhf4j.client;

/**
 * A newly registered version: registering only copies the export into the registry; it serves nothing
 * until {@link AdminClient#promote promoted}.
 *
 * @param version the id the registry gave it
 * @param state {@code registered}
 */
public record Registration(String version, String state) {}
