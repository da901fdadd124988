-- The skill inventory: the skills and MCP servers that scans found
-- installed (skill_known and mcp_known events), kept by the consumer from
-- the stream, so that a replay rebuilds them. A redelivered event changes
-- nothing: first_seen only goes down, last_seen and the details only move
-- to a later scan, and a user counts once (the *_users tables).

-- One row per skill name. first_seen and last_seen are the Unix ms of the
-- first and the latest scan that registered it; the details are those of
-- the latest scan; users is how many distinct users registered it.
CREATE TABLE known_skills (
  name        TEXT    NOT NULL PRIMARY KEY,
  first_seen  INTEGER NOT NULL,
  last_seen   INTEGER NOT NULL,
  description TEXT    NOT NULL,
  size_bytes  INTEGER NOT NULL,
  source      TEXT    NOT NULL,
  plugin      TEXT    NOT NULL,
  users       INTEGER NOT NULL
) WITHOUT ROWID;

-- The users (identity hashes, as stored elsewhere) that registered a skill.
CREATE TABLE known_skill_users (
  name         TEXT NOT NULL,
  user_id_hash BLOB NOT NULL,
  PRIMARY KEY (name, user_id_hash)
) WITHOUT ROWID;

-- One row per MCP server name, as known_skills.
CREATE TABLE known_mcp_servers (
  name       TEXT    NOT NULL PRIMARY KEY,
  first_seen INTEGER NOT NULL,
  last_seen  INTEGER NOT NULL,
  source     TEXT    NOT NULL,
  users      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE known_mcp_server_users (
  name         TEXT NOT NULL,
  user_id_hash BLOB NOT NULL,
  PRIMARY KEY (name, user_id_hash)
) WITHOUT ROWID;
