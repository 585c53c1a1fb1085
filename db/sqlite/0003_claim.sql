-- Aviary schema v3 (SQLite): a lease on an image's analysis. Two web nodes
-- asked for the same pending image would both run the models; a node now
-- runs an analysis only when it inserted the image's claim, or moved a
-- claim older than the lease forward (claimed_at: ms since the epoch).
CREATE TABLE analysis_claims (
    ID         TEXT PRIMARY KEY REFERENCES images(ID),
    claimed_at INTEGER NOT NULL
);
