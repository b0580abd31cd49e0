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
  {
    version: 2,
    name: 'one-round-trip append',
    sql: `
      -- An append sealed onto the head the replica believes current, in one statement: under the
      -- append lock (advisory 0x4c657669, 2, as every append takes it), and only if the head is
      -- still that one and no id is in the log yet. Otherwise nothing is written and the answer
      -- says why ('stale <head seq>', 'duplicate'), and the replica takes the general path (lock, read head
      -- and ids, seal, insert, commit). Run as one statement outside an explicit transaction, it
      -- commits when it returns, so the lock is held until then. Known ids are found by the
      -- unique index as the insert goes (a look-up of them all first read the whole table).
      CREATE FUNCTION leviathan_append(
        expect_seq bigint, expect_hash text,
        p_seq bigint[], p_id text[], p_type text[], p_time text[], p_actor text[], p_target text[],
        p_subject text[], p_data json[], p_prev_hash text[], p_hash text[], notify text
      ) RETURNS text
      LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        head_seq bigint;
        head_hash text;
      BEGIN
        PERFORM pg_advisory_xact_lock(1281717865, 2);
        -- A statement after the lock: its snapshot sees whatever the previous holder committed.
        SELECT seq, hash INTO head_seq, head_hash FROM events ORDER BY seq DESC LIMIT 1;
        IF coalesce(head_seq, 0) <> expect_seq OR (head_seq IS NOT NULL AND head_hash <> expect_hash) THEN
          RETURN 'stale ' || coalesce(head_seq, 0);
        END IF;
        INSERT INTO events (seq, id, type, time, actor, target, subject, data, prev_hash, hash)
          SELECT * FROM unnest(p_seq, p_id, p_type, p_time, p_actor, p_target, p_subject, p_data, p_prev_hash, p_hash);
        PERFORM pg_notify('leviathan_events', notify);
        RETURN 'ok';
      EXCEPTION WHEN unique_violation THEN
        RETURN 'duplicate';
      END;
      $$;
    `,
  },
];
