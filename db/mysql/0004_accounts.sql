-- Aviary schema v4 (MySQL/MariaDB): accounts, the same tables and columns
-- as db/sqlite/0004_accounts.sql. Owners sign in with a password (Argon2id);
-- sessions live here so any web node sees them (the cookie holds a random
-- token, the row its SHA-256); failed logins are counted per account and
-- per address for the rate limit. Times are ms since the epoch.
CREATE TABLE users (
    id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name           VARCHAR(64) NOT NULL UNIQUE,
    role           VARCHAR(16) NOT NULL DEFAULT 'owner',
    pw_hash        VARCHAR(255) NOT NULL,
    api_token_hash CHAR(64) NULL UNIQUE,
    created_ms     BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE sessions (
    token_hash CHAR(64) NOT NULL PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    csrf       CHAR(64) NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    KEY sessions_user (user_id),
    CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE login_failures (
    k         VARCHAR(200) NOT NULL PRIMARY KEY,
    window_ms BIGINT NOT NULL,
    failures  INT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
