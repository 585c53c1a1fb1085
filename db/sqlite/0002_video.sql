-- Aviary schema v2 (SQLite): videos. A video is an images row (its upload,
-- status, vote) plus a videos row; each visit is one inferences row (at its
-- best frame, box in frame pixels, idx = visit order) with its timing in
-- video_visits; every sampled frame's detections are in video_detections;
-- the poster and visit thumbnails (JPEG, base64 text so the driver-neutral
-- statement layer can carry them) are in video_media, so any web node can
-- serve them.

CREATE TABLE videos (
    ID              TEXT PRIMARY KEY REFERENCES images(ID),
    container       TEXT NOT NULL,             -- mp4, mov, webm, mkv, avi (magic bytes)
    codec           TEXT,
    width           INTEGER,
    height          INTEGER,
    duration_s      REAL,
    sample_fps      REAL,
    frames_done     INTEGER NOT NULL DEFAULT 0, -- progress: sampled frames analysed
    frames_expected INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0, -- analyses started (restarts count)
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE video_visits (
    ID         TEXT NOT NULL REFERENCES images(ID),
    idx        INTEGER NOT NULL,   -- = inferences.idx of the visit's row
    track      INTEGER NOT NULL,   -- visit id, 1, 2, ... by first appearance
    first_s    REAL NOT NULL,
    last_s     REAL NOT NULL,
    best_t     REAL NOT NULL,
    best_frame INTEGER NOT NULL,   -- sampled frame number (video_detections.frame)
    n_frames   INTEGER NOT NULL,
    PRIMARY KEY (ID, idx)
);

CREATE TABLE video_detections (
    ID             TEXT NOT NULL REFERENCES images(ID),
    frame          INTEGER NOT NULL,  -- sampled frame number, 0, 1, ...
    frame_index    INTEGER NOT NULL,  -- decoded frame number in the stream
    t              REAL NOT NULL,     -- seconds
    track          INTEGER NOT NULL,  -- visit id
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL, -- frame pixels
    label          TEXT NOT NULL,
    species        TEXT,
    common_name    TEXT,
    score          REAL NOT NULL,
    detector_score REAL NOT NULL,
    species_score  REAL
);
CREATE INDEX video_detections_id ON video_detections(ID, frame);

CREATE TABLE video_media (
    ID           TEXT NOT NULL REFERENCES images(ID),
    name         TEXT NOT NULL,   -- poster, visit-N
    content_type TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    data_b64     TEXT NOT NULL,
    PRIMARY KEY (ID, name)
);
