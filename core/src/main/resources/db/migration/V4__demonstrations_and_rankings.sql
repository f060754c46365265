-- Labeler judgements: demonstrations (a written answer to a prompt) and rankings (an order over K
-- of a prompt's completions, ties allowed), each with the labeler who made it.
CREATE TABLE demonstrations (
    id          TEXT PRIMARY KEY,
    prompt_id   TEXT NOT NULL REFERENCES prompts (id),
    labeler_id  TEXT NOT NULL,
    text        TEXT NOT NULL,
    source      TEXT NOT NULL,      -- labeling | import | simulated
    created_at  BIGINT NOT NULL
);
CREATE INDEX demonstrations_by_prompt ON demonstrations (prompt_id);

CREATE TABLE rankings (
    id          TEXT PRIMARY KEY,
    prompt_id   TEXT NOT NULL REFERENCES prompts (id),
    labeler_id  TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX rankings_by_prompt ON rankings (prompt_id);

CREATE TABLE ranking_entries (
    ranking_id     TEXT NOT NULL REFERENCES rankings (id),
    completion_id  TEXT NOT NULL REFERENCES completions (id),
    rank           INTEGER NOT NULL,    -- 0 is best; equal ranks are ties
    PRIMARY KEY (ranking_id, completion_id)
);
