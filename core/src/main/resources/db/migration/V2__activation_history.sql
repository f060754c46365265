-- Every activation in order, so a rollback knows what was active before.
CREATE TABLE activations (
    seq           BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    version       TEXT NOT NULL REFERENCES model_versions (version),
    activated_at  BIGINT NOT NULL,
    forced        BOOLEAN NOT NULL,
    PRIMARY KEY (kind, seq)
);
