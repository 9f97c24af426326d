-- Telecom ESB: the database and roles of the bus (PostgreSQL 15+; psql script).
--
-- The bus creates its own tables on start (esb_journal_*, esb_outbox,
-- esb_dead_letters, esb_processed_messages); this script only makes the
-- database and the roles. Run it once, as a superuser:
--
--   POSTGRES_ESB_PASSWORD=... psql -v ON_ERROR_STOP=1 -U postgres -f init.sql
--
-- In docker compose it runs from /docker-entrypoint-initdb.d on the first
-- start of an empty data volume, with POSTGRES_ESB_PASSWORD from deploy/.env.
-- The bus then connects with
--   ESB_DATABASE_URL=postgresql+psycopg://esb:<password>@<host>:5432/esb

\set ON_ERROR_STOP on
\getenv esb_password POSTGRES_ESB_PASSWORD
\if :{?esb_password}
\else
  \set esb_password ''
\endif
SELECT :'esb_password' = '' AS esb_password_missing \gset
\if :esb_password_missing
  DO $$ BEGIN RAISE EXCEPTION 'POSTGRES_ESB_PASSWORD is not set: export the password of role esb'; END $$;
\endif

-- The bus's own role: owns its database, so it may create its tables
-- (PostgreSQL 15+ lets only the database owner create in schema public).
CREATE ROLE esb LOGIN PASSWORD :'esb_password';
-- A transaction left open by a stuck worker must not hold back vacuum for long.
ALTER ROLE esb SET idle_in_transaction_session_timeout = '5min';

-- Read-only access for reporting, Grafana or a journal export on the replica.
CREATE ROLE esb_reader NOLOGIN;

CREATE DATABASE esb OWNER esb ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE esb FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE esb TO esb;
GRANT CONNECT ON DATABASE esb TO esb_reader;

\connect esb
GRANT USAGE ON SCHEMA public TO esb_reader;
-- Tables the bus creates later become readable by esb_reader too.
ALTER DEFAULT PRIVILEGES FOR ROLE esb IN SCHEMA public GRANT SELECT ON TABLES TO esb_reader;

-- Query statistics for the journal-heavy workload (needs
-- shared_preload_libraries = 'pg_stat_statements'; harmless without it until queried).
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
