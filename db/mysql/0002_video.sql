-- Aviary schema v2 (MySQL/MariaDB): videos, the same tables and columns as
-- db/sqlite/0002_video.sql. A video is an images row plus a videos row;
-- each visit is one inferences row (at its best frame, box in frame pixels,
-- idx = visit order) with its timing in video_visits; every sampled frame's
-- detections are in video_detections; the poster and visit thumbnails
-- (JPEG as base64 text) are in video_media, so any web node can serve them.

CREATE TABLE videos (
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

CREATE TABLE video_visits (
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

CREATE TABLE video_detections (
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

CREATE TABLE video_media (
    ID           CHAR(32) NOT NULL,
    name         VARCHAR(32) NOT NULL,   -- poster, visit-N
    content_type VARCHAR(32) NOT NULL,
    size_bytes   INT NOT NULL,
    data_b64     LONGTEXT NOT NULL,
    PRIMARY KEY (ID, name),
    CONSTRAINT video_media_image FOREIGN KEY (ID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
