-- Telecom ESB: retention of the bus's PostgreSQL state (psql script, PostgreSQL 13+).
--
--   psql -v ON_ERROR_STOP=1 "postgresql://esb@db-primary:5432/esb" -f retention.sql \
--        -v journal_days=90 -v processed_days=7 -v dead_letter_days=180
--
-- Run it daily (cron, a systemd timer or pg_cron) against the primary, as the
-- role esb. It deletes in batches of :batch rows, committing after each, so it
-- never holds long locks or one huge transaction; autovacuum reclaims the space.
--
-- What it deletes and why:
-- * journal (esb_journal_messages / _events / _keys) older than :journal_days
--   (by the message's occurred_at and the hop's at, both Unix seconds): keep
--   what your audit policy demands; the journal is what `esb messages search` reads.
-- * processed ids (esb_processed_messages) older than :processed_days: they
--   only need to outlive any redelivery of the same message (retry tiers are
--   minutes; a backlog or a paused queue can be days). A message redelivered
--   after its id was deleted is handled again.
-- * dead letters already replayed more than :dead_letter_days ago. Dead
--   letters still waiting (status 'dead') are never deleted here: replay or
--   discard them deliberately.
-- The outbox deletes its own rows once relayed: a growing esb_outbox means
-- the relay cannot reach the broker; nothing to prune.

\set ON_ERROR_STOP on
\if :{?journal_days}
\else
  \set journal_days 90
\endif
\if :{?processed_days}
\else
  \set processed_days 7
\endif
\if :{?dead_letter_days}
\else
  \set dead_letter_days 180
\endif
\if :{?batch}
\else
  \set batch 10000
\endif

-- psql variables do not reach inside DO blocks; custom settings do.
SET esb_retention.journal_days = :'journal_days';
SET esb_retention.processed_days = :'processed_days';
SET esb_retention.dead_letter_days = :'dead_letter_days';
SET esb_retention.batch = :'batch';

-- Once: processed ids have no index on their time; without it every batch
-- below scans the whole table. (Outside a transaction block: psql autocommit.)
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_esb_processed_messages_processed_at
    ON esb_processed_messages (processed_at);

DO $$
DECLARE
    journal_cutoff double precision := extract(epoch FROM
        now() - make_interval(days => current_setting('esb_retention.journal_days')::int));
    processed_cutoff double precision := extract(epoch FROM
        now() - make_interval(days => current_setting('esb_retention.processed_days')::int));
    dead_letter_cutoff double precision := extract(epoch FROM
        now() - make_interval(days => current_setting('esb_retention.dead_letter_days')::int));
    batch int := current_setting('esb_retention.batch')::int;
    last_event bigint;
    deleted bigint;
    total bigint;
BEGIN
    -- Journal hops: ids grow with time, so find the newest old hop once and
    -- delete by primary key ranges below it.
    SELECT max(id) INTO last_event FROM esb_journal_events WHERE at < journal_cutoff;
    total := 0;
    IF last_event IS NOT NULL THEN
        LOOP
            DELETE FROM esb_journal_events
             WHERE id IN (SELECT id FROM esb_journal_events
                           WHERE id <= last_event AND at < journal_cutoff
                           ORDER BY id LIMIT batch);
            GET DIAGNOSTICS deleted = ROW_COUNT;
            total := total + deleted;
            COMMIT;
            EXIT WHEN deleted < batch;
        END LOOP;
    END IF;
    RAISE NOTICE 'journal events deleted: %', total;

    -- Journal messages with their search keys (no foreign keys between them).
    total := 0;
    LOOP
        WITH doomed AS (
            SELECT id FROM esb_journal_messages
             WHERE occurred_at < journal_cutoff
             ORDER BY occurred_at LIMIT batch
        ), keys AS (
            DELETE FROM esb_journal_keys WHERE message_id IN (SELECT id FROM doomed)
        )
        DELETE FROM esb_journal_messages WHERE id IN (SELECT id FROM doomed);
        GET DIAGNOSTICS deleted = ROW_COUNT;
        total := total + deleted;
        COMMIT;
        EXIT WHEN deleted < batch;
    END LOOP;
    RAISE NOTICE 'journal messages deleted: %', total;

    total := 0;
    LOOP
        DELETE FROM esb_processed_messages
         WHERE (subscriber, message_id) IN (
               SELECT subscriber, message_id FROM esb_processed_messages
                WHERE processed_at < processed_cutoff LIMIT batch);
        GET DIAGNOSTICS deleted = ROW_COUNT;
        total := total + deleted;
        COMMIT;
        EXIT WHEN deleted < batch;
    END LOOP;
    RAISE NOTICE 'processed ids deleted: %', total;

    DELETE FROM esb_dead_letters
     WHERE status = 'replayed' AND replayed_at < dead_letter_cutoff;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    COMMIT;
    RAISE NOTICE 'replayed dead letters deleted: %', deleted;
END $$;
