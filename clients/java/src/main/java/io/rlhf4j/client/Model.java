package io.rlhf4j.client;

/**
 * A model version as {@code GET /v1/models} lists it: OpenAI's model object plus rlhf4j's lineage.
 *
 * @param id the version ({@code "1"}, {@code "2"}, ...); pass it as {@link CompletionRequest#model()}
 * @param object always {@code model}
 * @param created seconds since the epoch (OpenAI's unit; the admin API uses milliseconds)
 * @param ownedBy always {@code rlhf4j}
 * @param parent the version it was trained from, or null
 * @param active whether it is the policy answering completions now
 */
public record Model(String id, String object, long created, String ownedBy, String parent, boolean active) {}
