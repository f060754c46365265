package io.rlhf4j.core.store;

/** A registered model version: an immutable directory in the registry and its manifest. */
public record ModelVersion(
        String version, String kind, String parent, String path, String manifestJson, String state, long createdAt) {

    public static final String POLICY = "policy";
    public static final String REWARD = "reward";
    public static final String REGISTERED = "registered";
    public static final String UNREGISTERED = "unregistered";
}
