-- Aviary schema v8 (MySQL/MariaDB): each box's top species guesses, the
-- same table and columns as db/sqlite/0008_guesses.sql (see there).
CREATE TABLE inference_guesses (
    ID          CHAR(32) NOT NULL,
    idx         INT NOT NULL,
    rnk         INT NOT NULL,
    species     VARCHAR(128) NOT NULL,
    common_name VARCHAR(128) NULL,
    score       DOUBLE NOT NULL,
    PRIMARY KEY (ID, idx, rnk),
    CONSTRAINT inference_guesses_image FOREIGN KEY (ID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
