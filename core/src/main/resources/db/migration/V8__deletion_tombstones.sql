-- A user's deletion is remembered: a prompt of theirs sent before it (a request still in flight when
-- the admin deleted them) is never written afterwards, and the dataset builder drops what it read
-- before the deletion. Only the id and the time are kept; the data itself is gone.
CREATE TABLE deleted_users (
    user_id     TEXT PRIMARY KEY,
    deleted_at  BIGINT NOT NULL
);
