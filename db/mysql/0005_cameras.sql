-- Aviary schema v5 (MySQL/MariaDB): live cameras (issue 19), the same tables
-- and columns as db/sqlite/0005_cameras.sql. One row per visit a camera saw,
-- listed by camera, species and time; its best frame is a JPEG as base64
-- text so any node serves it. Times are ms since the epoch (UTC).
-- camera_leases: which node watches a camera (taken over when stale).
CREATE TABLE camera_visits (
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

CREATE TABLE camera_leases (
    camera     VARCHAR(64) NOT NULL PRIMARY KEY,
    node       VARCHAR(128) NOT NULL,
    renewed_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
