-- Aviary schema v3 (MySQL/MariaDB): a lease on an image's analysis. Two web
-- nodes asked for the same pending image would both run the models; a node
-- now runs an analysis only when it inserted the image's claim, or moved a
-- claim older than the lease forward (claimed_at: ms since the epoch).
CREATE TABLE analysis_claims (
    ID         CHAR(32) NOT NULL PRIMARY KEY,
    claimed_at BIGINT NOT NULL,
    CONSTRAINT analysis_claims_image FOREIGN KEY (ID) REFERENCES images (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
