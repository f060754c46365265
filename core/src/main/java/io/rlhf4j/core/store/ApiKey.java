package io.rlhf4j.core.store;

import io.rlhf4j.core.io.Checksums;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;

/**
 * An API key's record: whose it is, what it may do, how fast. Keys are 256 random bits, so a plain
 * SHA-256 is enough to store them: there is nothing to brute-force.
 */
public record ApiKey(
        String hash,
        String prefix,
        String userId,
        String role,
        boolean maySetUser,
        int requestsPerMinute,
        long createdAt,
        Long revokedAt) {

    public static final Set<String> ROLES = Set.of("user", "service", "labeler");
    private static final SecureRandom RANDOM = new SecureRandom();

    public ApiKey {
        if (!ROLES.contains(role)) {
            throw new IllegalArgumentException("role must be one of " + ROLES + ", got '" + role + "'");
        }
        if (requestsPerMinute < 1) {
            throw new IllegalArgumentException("requests per minute must be at least 1, got " + requestsPerMinute);
        }
        if (userId == null || userId.isBlank()) {
            throw new IllegalArgumentException("a key needs a user id");
        }
    }

    public boolean revoked() {
        return revokedAt != null;
    }

    /** A fresh secret key, {@code rk-} then 43 base64url characters. */
    public static String generate() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return "rk-" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** What the store keeps of a key (for keys only; other digests use {@link Checksums#sha256(String)}). */
    public static String hash(String key) {
        return Checksums.sha256(key);
    }

    public static String prefixOf(String key) {
        return key.substring(0, Math.min(key.length(), 10));
    }
}
