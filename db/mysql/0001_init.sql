-- Aviary schema v1 (MySQL/MariaDB), the same tables and columns as
-- db/sqlite/0001_init.sql. The original's three tables keep their names and
-- columns (images, inferences, monitoring) so its queries still work; the
-- added columns hold what the original packed into strings or lost.
-- Text compares byte-wise (utf8mb4_bin), as SQLite's does.

CREATE TABLE images (
    ID           CHAR(32) NOT NULL PRIMARY KEY,  -- 32 hex chars, 128 random bits
    name         VARCHAR(255) NOT NULL,          -- file name as uploaded (display only)
    image_blob   LONGBLOB NULL,                  -- the upload (NULL when kept in a file store)
    voted        TINYINT(1) NOT NULL DEFAULT 0,
    ext          VARCHAR(8) NOT NULL,            -- from the magic bytes: jpg, png, webp, bmp
    content_type VARCHAR(64) NOT NULL,
    size_bytes   BIGINT NOT NULL,
    width        INT NULL,
    height       INT NULL,
    status       VARCHAR(16) NOT NULL DEFAULT 'pending',  -- pending | done | failed
    error        TEXT NULL,
    created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)  -- UTC
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE inferences (
    ID             CHAR(32) NOT NULL,
    box            VARCHAR(255) NOT NULL, -- original format: "ymin, xmin, ymax, xmax", normalised
    score          DOUBLE NOT NULL,       -- the confidence the UI shows
    `class`        INT NOT NULL,          -- species label index (0 = no species)
    idx            INT NOT NULL,          -- order within the image
    x1 DOUBLE NOT NULL, y1 DOUBLE NOT NULL, x2 DOUBLE NOT NULL, y2 DOUBLE NOT NULL, -- pixels
    label          VARCHAR(32) NOT NULL,  -- detector class, e.g. bird
    species        VARCHAR(128) NULL,     -- scientific name
    common_name    VARCHAR(128) NULL,
    detector_score DOUBLE NOT NULL,
    species_score  DOUBLE NULL,
    model_version  VARCHAR(64) NOT NULL,
    INDEX inferences_id (ID),
    CONSTRAINT inferences_image FOREIGN KEY (ID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per feedback vote: the running state after that vote.
CREATE TABLE monitoring (
    imageID           CHAR(32) NOT NULL,
    `timestamp`       TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    avg_score_1       DOUBLE NULL,  -- running mean confidence of tracked class 1 (NULL: none seen yet)
    avg_score_2       DOUBLE NULL,
    avg_score_3       DOUBLE NULL,
    user_satisfaction DOUBLE NOT NULL,  -- running mean satisfaction over all votes
    seq               INT NOT NULL UNIQUE  -- vote number, 1, 2, ...
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Running means for any number of tracked classes, per monitoring row.
CREATE TABLE monitoring_classes (
    seq       INT NOT NULL,
    `class`   VARCHAR(128) NOT NULL,  -- scientific name
    avg_score DOUBLE NULL,
    n         INT NOT NULL,
    PRIMARY KEY (seq, `class`),
    CONSTRAINT monitoring_classes_seq FOREIGN KEY (seq) REFERENCES monitoring (seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The votes themselves.
CREATE TABLE feedback (
    imageID      CHAR(32) NOT NULL PRIMARY KEY,
    vote         VARCHAR(3) NOT NULL,  -- yes | no
    ground_truth INT NULL,
    predicted    INT NULL,
    satisfaction DOUBLE NOT NULL,
    created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    CONSTRAINT feedback_image FOREIGN KEY (imageID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Sums behind the running means: key 'satisfaction' or 'class:<name>'.
CREATE TABLE feedback_stats (
    `key` VARCHAR(160) NOT NULL PRIMARY KEY,
    `sum` DOUBLE NOT NULL,
    n     INT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
