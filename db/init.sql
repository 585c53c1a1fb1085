-- Aviary: create the birdsClassifier database by hand, as the original's
-- set-up did:   mysql -u USER -p < db/init.sql
-- It holds the same schema as `aviary db init` (db/mysql/0001_init.sql and
-- 0002_video.sql, 0003_claim.sql, 0004_accounts.sql, 0005_cameras.sql,
-- 0006_reviews.sql, 0007_pending.sql, 0008_guesses.sql, 0009_visit_reviews.sql,
-- 0010_whole_image_by.sql, 0011_illustration.sql, with IF NOT EXISTS, so feeding it twice
-- is harmless) and records schema versions 1 to 11, so `aviary db migrate` later applies only
-- newer migrations. The ML
-- Metadata tables come from `aviary mlmd init` (or `aviary serve`).

CREATE DATABASE IF NOT EXISTS birdsClassifier CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
USE birdsClassifier;

CREATE TABLE IF NOT EXISTS images (
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

CREATE TABLE IF NOT EXISTS inferences (
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
CREATE TABLE IF NOT EXISTS monitoring (
    imageID           CHAR(32) NOT NULL,
    `timestamp`       TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    avg_score_1       DOUBLE NULL,  -- running mean confidence of tracked class 1 (NULL: none seen yet)
    avg_score_2       DOUBLE NULL,
    avg_score_3       DOUBLE NULL,
    user_satisfaction DOUBLE NOT NULL,  -- running mean satisfaction over all votes
    seq               INT NOT NULL UNIQUE  -- vote number, 1, 2, ...
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Running means for any number of tracked classes, per monitoring row.
CREATE TABLE IF NOT EXISTS monitoring_classes (
    seq       INT NOT NULL,
    `class`   VARCHAR(128) NOT NULL,  -- scientific name
    avg_score DOUBLE NULL,
    n         INT NOT NULL,
    PRIMARY KEY (seq, `class`),
    CONSTRAINT monitoring_classes_seq FOREIGN KEY (seq) REFERENCES monitoring (seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The votes themselves.
CREATE TABLE IF NOT EXISTS feedback (
    imageID      CHAR(32) NOT NULL PRIMARY KEY,
    vote         VARCHAR(3) NOT NULL,  -- yes | no
    ground_truth INT NULL,
    predicted    INT NULL,
    satisfaction DOUBLE NOT NULL,
    created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    CONSTRAINT feedback_image FOREIGN KEY (imageID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Sums behind the running means: key 'satisfaction' or 'class:<name>'.
CREATE TABLE IF NOT EXISTS feedback_stats (
    `key` VARCHAR(160) NOT NULL PRIMARY KEY,
    `sum` DOUBLE NOT NULL,
    n     INT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Videos (db/mysql/0002_video.sql).
CREATE TABLE IF NOT EXISTS videos (
    ID              CHAR(32) NOT NULL PRIMARY KEY,
    container       VARCHAR(8) NOT NULL,      -- mp4, mov, webm, mkv, avi (magic bytes)
    codec           VARCHAR(32) NULL,
    width           INT NULL,
    height          INT NULL,
    duration_s      DOUBLE NULL,
    sample_fps      DOUBLE NULL,
    frames_done     INT NOT NULL DEFAULT 0,   -- progress: sampled frames analysed
    frames_expected INT NOT NULL DEFAULT 0,
    attempts        INT NOT NULL DEFAULT 0,   -- analyses started (restarts count)
    updated_at      DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    CONSTRAINT videos_image FOREIGN KEY (ID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS video_visits (
    ID         CHAR(32) NOT NULL,
    idx        INT NOT NULL,     -- = inferences.idx of the visit's row
    track      INT NOT NULL,     -- visit id, 1, 2, ... by first appearance
    first_s    DOUBLE NOT NULL,
    last_s     DOUBLE NOT NULL,
    best_t     DOUBLE NOT NULL,
    best_frame INT NOT NULL,     -- sampled frame number (video_detections.frame)
    n_frames   INT NOT NULL,
    PRIMARY KEY (ID, idx),
    CONSTRAINT video_visits_image FOREIGN KEY (ID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS video_detections (
    ID             CHAR(32) NOT NULL,
    frame          INT NOT NULL,     -- sampled frame number, 0, 1, ...
    frame_index    INT NOT NULL,     -- decoded frame number in the stream
    t              DOUBLE NOT NULL,  -- seconds
    track          INT NOT NULL,     -- visit id
    x1 DOUBLE NOT NULL, y1 DOUBLE NOT NULL, x2 DOUBLE NOT NULL, y2 DOUBLE NOT NULL, -- frame pixels
    label          VARCHAR(96) NOT NULL,
    species        VARCHAR(128) NULL,
    common_name    VARCHAR(128) NULL,
    score          DOUBLE NOT NULL,
    detector_score DOUBLE NOT NULL,
    species_score  DOUBLE NULL,
    INDEX video_detections_id (ID, frame),
    CONSTRAINT video_detections_image FOREIGN KEY (ID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS video_media (
    ID           CHAR(32) NOT NULL,
    name         VARCHAR(32) NOT NULL,   -- poster, visit-N
    content_type VARCHAR(32) NOT NULL,
    size_bytes   INT NOT NULL,
    data_b64     LONGTEXT NOT NULL,
    PRIMARY KEY (ID, name),
    CONSTRAINT video_media_image FOREIGN KEY (ID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- v3: a lease on an image's analysis, so two web nodes run it once
CREATE TABLE IF NOT EXISTS analysis_claims (
    ID         CHAR(32) NOT NULL PRIMARY KEY,
    claimed_at BIGINT NOT NULL,  -- ms since the epoch
    CONSTRAINT analysis_claims_image FOREIGN KEY (ID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- v4: accounts (owners), sessions any node sees, failed-login counts
CREATE TABLE IF NOT EXISTS users (
    id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name           VARCHAR(64) NOT NULL UNIQUE,
    role           VARCHAR(16) NOT NULL DEFAULT 'owner',
    pw_hash        VARCHAR(255) NOT NULL,     -- Argon2id (libsodium crypto_pwhash_str)
    api_token_hash CHAR(64) NULL UNIQUE,      -- SHA-256 hex of the API token
    created_ms     BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS sessions (
    token_hash CHAR(64) NOT NULL PRIMARY KEY, -- SHA-256 hex of the cookie's token
    user_id    BIGINT NOT NULL,
    csrf       CHAR(64) NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    KEY sessions_user (user_id),
    CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS login_failures (
    k         VARCHAR(200) NOT NULL PRIMARY KEY, -- 'user:NAME' or 'addr:ADDRESS'
    window_ms BIGINT NOT NULL,
    failures  INT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- v5: live cameras
CREATE TABLE IF NOT EXISTS camera_visits (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    camera      VARCHAR(64) NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    species     VARCHAR(128) NOT NULL DEFAULT '',
    common_name VARCHAR(128) NOT NULL DEFAULT '',
    label       VARCHAR(128) NOT NULL DEFAULT '',
    score       DOUBLE NOT NULL,
    n_frames    INT NOT NULL,
    x1 DOUBLE NOT NULL, y1 DOUBLE NOT NULL, x2 DOUBLE NOT NULL, y2 DOUBLE NOT NULL,
    best_jpeg   MEDIUMTEXT NULL,
    node        VARCHAR(128) NOT NULL DEFAULT '',
    KEY camera_visits_camera_time (camera, first_seen),
    KEY camera_visits_species_time (species, first_seen),
    KEY camera_visits_time (first_seen)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS camera_leases (
    camera     VARCHAR(64) NOT NULL PRIMARY KEY,
    node       VARCHAR(128) NOT NULL,
    renewed_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- v6: per-bird reviews, capture metadata, site settings
CREATE TABLE IF NOT EXISTS reviews (
    image_id      CHAR(32) NOT NULL,
    box           INT NOT NULL,
    rev           INT NOT NULL,
    action        VARCHAR(16) NOT NULL,
    x1 DOUBLE NOT NULL, y1 DOUBLE NOT NULL, x2 DOUBLE NOT NULL, y2 DOUBLE NOT NULL,
    model_species VARCHAR(128) NULL,
    species       VARCHAR(128) NULL,
    common_name   VARCHAR(128) NULL,
    who           VARCHAR(64) NOT NULL,
    created_at    VARCHAR(32) NOT NULL,
    PRIMARY KEY (image_id, box, rev),
    KEY reviews_created (created_at),
    CONSTRAINT reviews_image FOREIGN KEY (image_id) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS image_meta (
    ID        CHAR(32) NOT NULL PRIMARY KEY,
    taken_at  VARCHAR(32) NULL,
    latitude  DOUBLE NULL,
    longitude DOUBLE NULL,
    CONSTRAINT image_meta_image FOREIGN KEY (ID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE INDEX IF NOT EXISTS images_created ON images (created_at);

CREATE TABLE IF NOT EXISTS site_settings (
    k VARCHAR(64) NOT NULL PRIMARY KEY,
    v TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- v7: pending images found by index
CREATE INDEX IF NOT EXISTS images_pending ON images (status, created_at);

-- v8: each box's top species guesses (db/mysql/0008_guesses.sql)
CREATE TABLE IF NOT EXISTS inference_guesses (
    ID          CHAR(32) NOT NULL,
    idx         INT NOT NULL,
    rnk         INT NOT NULL,
    species     VARCHAR(128) NOT NULL,
    common_name VARCHAR(128) NULL,
    score       DOUBLE NOT NULL,
    PRIMARY KEY (ID, idx, rnk),
    CONSTRAINT inference_guesses_image FOREIGN KEY (ID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- v9: camera visits reviewed like photo birds (db/mysql/0009_visit_reviews.sql)
ALTER TABLE camera_visits
    ADD COLUMN IF NOT EXISTS review_action VARCHAR(16) NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS review_species VARCHAR(128) NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS review_common VARCHAR(128) NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS reviewed_by VARCHAR(128) NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS reviewed_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS camera_visits_reviewed ON camera_visits (reviewed_at);

-- v10: the rule that found a whole-image bird (db/mysql/0010_whole_image_by.sql)
ALTER TABLE inferences
    ADD COLUMN IF NOT EXISTS whole_image_by VARCHAR(16) NOT NULL DEFAULT '';

-- v11: a drawing, not a photo, and its best guess (db/mysql/0011_illustration.sql)
ALTER TABLE images
    ADD COLUMN IF NOT EXISTS illustration TINYINT(1) NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS illustration_species VARCHAR(128) NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS illustration_common VARCHAR(128) NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS illustration_score DOUBLE NULL;

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INT NOT NULL PRIMARY KEY,
    applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB;
INSERT IGNORE INTO schema_migrations (version) VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11);
