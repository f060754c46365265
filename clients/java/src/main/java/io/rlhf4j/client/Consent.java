package io.rlhf4j.client;

/**
 * A user's training consent after a change, and how many of their stored prompts it re-marked.
 *
 * @param user the user the server applied it to (the key's user, or the named user for a service key)
 * @param trainingConsent the consent now in force
 * @param promptsUpdated stored prompts whose consent changed
 */
public record Consent(String user, boolean trainingConsent, long promptsUpdated) {}
