-- What a labeler says about each completion besides its place: a 1-7 overall score and the
-- InstructGPT metadata flags (a JSON array of names).
CREATE TABLE ranking_labels (
    ranking_id     TEXT NOT NULL REFERENCES rankings (id),
    completion_id  TEXT NOT NULL REFERENCES completions (id),
    score          INTEGER,
    flags          TEXT NOT NULL,
    PRIMARY KEY (ranking_id, completion_id)
);

-- A labeler skipped an unclear prompt: it is not offered to them again.
CREATE TABLE labeling_skips (
    prompt_id   TEXT NOT NULL REFERENCES prompts (id),
    labeler_id  TEXT NOT NULL,
    reason      TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (prompt_id, labeler_id)
);

-- Background training runs of the serving loop; the row is the run's durable state, so a restart can
-- tell a run that finished from one a crash interrupted.
CREATE TABLE training_runs (
    id          TEXT PRIMARY KEY,
    state       TEXT NOT NULL,      -- queued | running | succeeded | failed
    trigger_kind TEXT NOT NULL,     -- manual | schedule | demo
    stage       TEXT,
    progress    DOUBLE PRECISION NOT NULL,
    snapshot    TEXT,
    candidate   TEXT,
    gate        TEXT,               -- JSON
    promoted    BOOLEAN NOT NULL,
    error       TEXT,
    dir         TEXT NOT NULL,
    config      TEXT NOT NULL,      -- JSON overrides
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Admin actions that bypass a safeguard (a forced promotion) or destroy data (a user's deletion).
CREATE TABLE audit_log (
    id      TEXT PRIMARY KEY,
    at      BIGINT NOT NULL,
    action  TEXT NOT NULL,
    detail  TEXT NOT NULL
);
