-- API keys map to user ids. Only a hash of each key is stored; the key itself is shown once.
CREATE TABLE api_keys (
    key_hash             TEXT PRIMARY KEY,   -- SHA-256 of the key, hex
    prefix               TEXT NOT NULL,      -- the key's first characters, to tell keys apart
    user_id              TEXT NOT NULL,
    role                 TEXT NOT NULL,      -- user | service | labeler
    may_set_user         BOOLEAN NOT NULL,   -- a service key may record its own users from the 'user' field
    requests_per_minute  INTEGER NOT NULL,
    created_at           BIGINT NOT NULL,
    revoked_at           BIGINT
);
CREATE INDEX api_keys_by_prefix ON api_keys (prefix);
