-- Aviary schema v6 (SQLite): per-bird reviews and capture metadata.
-- A review is one row per decision about one box of an image: box is the
-- detection's inferences.idx, or for a bird the model missed a number after
-- the detections (n, n+1, ...) given when it is added. rev counts the
-- decisions about a box (1, 2, ...): the highest rev is the box's current
-- review (the latest wins), older ones are kept as history. The primary key
-- makes two racing reviews of one box (or two added boxes) take distinct
-- numbers. Boxes are in original-image pixels; model_species is what the
-- model said (NULL for an added box), species the final scientific name
-- (NULL for not_bird, duplicate, or an added bird left unidentified).
CREATE TABLE reviews (
    image_id      TEXT NOT NULL REFERENCES images(ID),
    box           INTEGER NOT NULL,
    rev           INTEGER NOT NULL,
    action        TEXT NOT NULL,    -- confirm | species | not_bird | duplicate | added
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
    model_species TEXT,
    species       TEXT,
    common_name   TEXT,
    who           TEXT NOT NULL,    -- the signed-in owner's name, else 'guest'
    created_at    TEXT NOT NULL,    -- ISO-8601 UTC, from the web node's clock
    PRIMARY KEY (image_id, box, rev)
);
CREATE INDEX reviews_created ON reviews(created_at);

-- What an upload says about itself (EXIF), read once at upload: when the
-- photo was taken (camera clock, as written: no zone) and where.
CREATE TABLE image_meta (
    ID        TEXT PRIMARY KEY REFERENCES images(ID),
    taken_at  TEXT,                 -- 'YYYY-MM-DDTHH:MM:SS' from EXIF, NULL if none
    latitude  REAL,                 -- degrees, north positive; NULL if no GPS
    longitude REAL                  -- degrees, east positive
);
CREATE INDEX images_created ON images(created_at);
