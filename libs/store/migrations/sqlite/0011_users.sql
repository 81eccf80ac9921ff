-- Named dashboard users and their roles (`claudeops-control-plane user add`).
-- Keep in step with ../postgres/0011_users.sql.

-- `role` is viewer, operator or admin; `password_hash` is an argon2 PHC string,
-- never the password.
CREATE TABLE users (
    name          TEXT    NOT NULL PRIMARY KEY,
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
