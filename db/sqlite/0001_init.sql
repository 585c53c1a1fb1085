-- Aviary schema v1 (SQLite). The original's three tables keep their names
-- and columns (images, inferences, monitoring) so its queries still work;
-- the added columns hold what the original packed into strings or lost.

CREATE TABLE images (
    ID           TEXT PRIMARY KEY,          -- 32 hex chars, 128 random bits
    name         TEXT NOT NULL,             -- file name as uploaded (display only)
    image_blob   BLOB,                      -- the upload (NULL when kept in a file store)
    voted        INTEGER NOT NULL DEFAULT 0,
    ext          TEXT NOT NULL,             -- from the magic bytes: jpg, png, webp, bmp
    content_type TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    width        INTEGER,
    height       INTEGER,
    status       TEXT NOT NULL DEFAULT 'pending',  -- pending | done | failed
    error        TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE inferences (
    ID             TEXT NOT NULL REFERENCES images(ID),
    box            TEXT NOT NULL,   -- original format: "ymin, xmin, ymax, xmax", normalised
    score          REAL NOT NULL,   -- the confidence the UI shows
    class          INTEGER NOT NULL,-- species label index (0 = no species)
    idx            INTEGER NOT NULL,-- order within the image
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL, -- pixels
    label          TEXT NOT NULL,   -- detector class, e.g. bird
    species        TEXT,            -- scientific name
    common_name    TEXT,
    detector_score REAL NOT NULL,
    species_score  REAL,
    model_version  TEXT NOT NULL
);
CREATE INDEX inferences_id ON inferences(ID);

-- One row per feedback vote: the running state after that vote.
CREATE TABLE monitoring (
    imageID           TEXT NOT NULL,
    timestamp         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    avg_score_1       REAL,   -- running mean confidence of tracked class 1 (NULL: none seen yet)
    avg_score_2       REAL,
    avg_score_3       REAL,
    user_satisfaction REAL NOT NULL,  -- running mean satisfaction over all votes
    seq               INTEGER NOT NULL UNIQUE  -- vote number, 1, 2, ...
);

-- Running means for any number of tracked classes, per monitoring row.
CREATE TABLE monitoring_classes (
    seq       INTEGER NOT NULL REFERENCES monitoring(seq),
    class     TEXT NOT NULL,  -- scientific name
    avg_score REAL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (seq, class)
);

-- The votes themselves.
CREATE TABLE feedback (
    imageID      TEXT PRIMARY KEY REFERENCES images(ID),
    vote         TEXT NOT NULL,     -- yes | no
    ground_truth INTEGER,
    predicted    INTEGER,
    satisfaction REAL NOT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Sums behind the running means: key 'satisfaction' or 'class:<name>'.
CREATE TABLE feedback_stats (
    key TEXT PRIMARY KEY,
    sum REAL NOT NULL,
    n   INTEGER NOT NULL
);
