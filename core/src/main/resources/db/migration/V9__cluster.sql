-- Replicas sharing this store: each writes its row every heartbeat, so any replica can say which
-- versions the cluster serves and whether it has converged on the active ones.
CREATE TABLE replicas (
    id              TEXT PRIMARY KEY,
    address         TEXT NOT NULL,
    policy_version  TEXT,
    reward_version  TEXT,
    running         INTEGER NOT NULL,
    queued          INTEGER NOT NULL,
    error           TEXT,               -- why it does not serve the active version, if it does not
    started_at      BIGINT NOT NULL,
    heartbeat_at    BIGINT NOT NULL
);

-- Leases on cluster-wide roles (the one training supervisor): held while renewed before expires_at.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- bucket4j's token buckets, shared by the replicas on PostgreSQL (its JDBC proxy's table layout).
CREATE TABLE rate_buckets (
    id          TEXT PRIMARY KEY,
    state       BYTEA,
    expires_at  BIGINT
);
