-- Aviary schema v5 (SQLite): live cameras (issue 19). One row per visit a
-- camera saw (birds tracked over live frames), listed by camera, species
-- and time; its best frame is a JPEG as base64 text so any node serves it.
-- Times are ms since the epoch (UTC). camera_leases: which node watches a
-- camera; a node renews its lease, another takes a lease older than the
-- lease time over (its node died).
CREATE TABLE camera_visits (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    camera      TEXT NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    species     TEXT NOT NULL DEFAULT '',  -- scientific name, '' when unknown
    common_name TEXT NOT NULL DEFAULT '',
    label       TEXT NOT NULL DEFAULT '',  -- what the UI shows
    score       REAL NOT NULL,             -- best confidence of its species
    n_frames    INTEGER NOT NULL,
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL, -- best box, frame px
    best_jpeg   TEXT,                      -- base64, NULL when none was kept
    node        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX camera_visits_camera_time ON camera_visits (camera, first_seen);
CREATE INDEX camera_visits_species_time ON camera_visits (species, first_seen);
CREATE INDEX camera_visits_time ON camera_visits (first_seen);

CREATE TABLE camera_leases (
    camera     TEXT PRIMARY KEY,
    node       TEXT NOT NULL,
    renewed_at INTEGER NOT NULL
);
