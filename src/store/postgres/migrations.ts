/**
 * The PostgreSQL schema of the event store, as numbered migrations. A migration is never edited
 * once released: a change of schema is a new entry at the end. Each replica applies the missing
 * ones on start, all in one transaction under an advisory lock (see migrate.ts).
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** In order of `version`, starting at 1, without gaps. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events table, append-only',
    sql: `
      -- Text columns compared with < and > (time) or by prefix (type) use the "C" collation, so
      -- the database orders them byte-wise exactly as matchesFilter does in JavaScript, whatever
      -- the database's default locale.
      CREATE TABLE events (
        seq       bigint PRIMARY KEY CHECK (seq > 0),
        id        text NOT NULL,
        type      text COLLATE "C" NOT NULL,
        time      text COLLATE "C" NOT NULL,
        actor     text NOT NULL,
        target    text,
        subject   text,
        -- json, not jsonb: the text is kept as written (no \\u0000 refusal, no number rewriting),
        -- and the hash is over canonical JSON anyway.
        data      json NOT NULL,
        prev_hash text NOT NULL,
        hash      text NOT NULL,
        CONSTRAINT events_id_unique UNIQUE (id)
      );
      -- (column, seq) so "newest N of this target" is one backward index scan.
      CREATE INDEX events_target_seq ON events (target, seq) WHERE target IS NOT NULL;
      CREATE INDEX events_subject_seq ON events (subject, seq) WHERE subject IS NOT NULL;
      CREATE INDEX events_type_seq ON events (type, seq);
      CREATE INDEX events_time ON events (time);

      CREATE FUNCTION leviathan_events_append_only() RETURNS trigger
      LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'the events table is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'restrict_violation',
                HINT = 'Events are never changed or removed; record a correcting event instead.';
      END;
      $$;
      CREATE TRIGGER events_no_update_or_delete BEFORE UPDATE OR DELETE ON events
        FOR EACH ROW EXECUTE FUNCTION leviathan_events_append_only();
      CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
        FOR EACH STATEMENT EXECUTE FUNCTION leviathan_events_append_only();
    `,
  },
];
