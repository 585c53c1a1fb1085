-- Aviary schema v6 (MySQL/MariaDB): per-bird reviews and capture metadata,
-- the same tables and columns as db/sqlite/0006_reviews.sql (see there).
-- The highest rev of (image_id, box) is the box's current review.
CREATE TABLE reviews (
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

CREATE TABLE image_meta (
    ID        CHAR(32) NOT NULL PRIMARY KEY,
    taken_at  VARCHAR(32) NULL,
    latitude  DOUBLE NULL,
    longitude DOUBLE NULL,
    CONSTRAINT image_meta_image FOREIGN KEY (ID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE INDEX images_created ON images (created_at);
