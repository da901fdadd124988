-- The plugins Claude Code loaded (plugin_known events, from telemetry's
-- plugin_loaded at each session's start), kept as the skill inventory is
-- (0016): per name the first and the latest load, the latest load's
-- details, and how many distinct users loaded it.
CREATE TABLE known_plugins (
  name        TEXT    NOT NULL PRIMARY KEY,
  first_seen  INTEGER NOT NULL,
  last_seen   INTEGER NOT NULL,
  scope       TEXT    NOT NULL, -- user, project, managed...
  enabled_via TEXT    NOT NULL,
  skills      INTEGER NOT NULL, -- skill folders the plugin brings
  commands    INTEGER NOT NULL,
  has_hooks   INTEGER NOT NULL,
  has_mcp     INTEGER NOT NULL,
  users       INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE known_plugin_users (
  name         TEXT NOT NULL,
  user_id_hash BLOB NOT NULL,
  PRIMARY KEY (name, user_id_hash)
) WITHOUT ROWID;
