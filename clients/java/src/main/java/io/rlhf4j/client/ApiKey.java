package io.rlhf4j.client;

/**
 * A freshly created API key. The server keeps only its hash, so this is the one chance to store
 * {@link #key()}; {@link #toString()} masks it so that logging the record does not leak it.
 *
 * @param key the secret to send as {@code Authorization: Bearer <key>}
 * @param prefix its first characters, by which it is listed and revoked
 * @param user the user id requests with the key are recorded under
 * @param role {@code user}, {@code service} or {@code labeler}
 * @param requestsPerMinute the key's rate limit
 */
public record ApiKey(String key, String prefix, String user, String role, int requestsPerMinute) {

    /** The roles the server knows. */
    public static final String USER = "user";

    public static final String SERVICE = "service";
    public static final String LABELER = "labeler";

    @Override
    public String toString() {
        return "ApiKey[prefix=" + prefix + "..., user=" + user + ", role=" + role + ", requestsPerMinute="
                + requestsPerMinute + "]";
    }
}
