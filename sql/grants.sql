-- f2b-central: database accounts (MySQL 8 / MariaDB 10.6+).
--
-- Replace before running:  f2b_central  the database,  10.0.0.%  where hosts connect from,
-- and the passwords. Run as an administrator, AFTER `f2b-central migrate` (column grants
-- need the tables). Re-run it after a migration that adds tables.
--
--   sed -e 's/f2b_central/mydb/g' -e 's/10\.0\.0\.%/192.168.1.%/g' sql/grants.sql | mysql
--
-- Operator: migrations, unban, allowlist, expire, purge, import. Keep it off the hosts.
CREATE USER IF NOT EXISTS 'f2b_operator'@'localhost' IDENTIFIED BY 'change-me-operator';
GRANT ALL PRIVILEGES ON f2b_central.* TO 'f2b_operator'@'localhost';

-- Host: what add2db and readdb need and nothing more. No DELETE anywhere, no DDL, no write
-- to the allowlist, and UPDATE only on the columns a host writes: it cannot rewrite a ban's
-- address, rename a host or unban. Add REQUIRE SSL when the database is reached over a network.
CREATE USER IF NOT EXISTS 'f2b_host'@'10.0.0.%' IDENTIFIED BY 'change-me-host';
GRANT SELECT ON f2b_central.* TO 'f2b_host'@'10.0.0.%';
GRANT INSERT, UPDATE (last_seen, machine_id, cursor_seq, refused_bans, swept_until) ON f2b_central.hosts TO 'f2b_host'@'10.0.0.%';
GRANT INSERT, UPDATE (seq) ON f2b_central.bans TO 'f2b_host'@'10.0.0.%';
GRANT INSERT, UPDATE (status, error, updated_at) ON f2b_central.ban_status TO 'f2b_host'@'10.0.0.%';
GRANT UPDATE (value) ON f2b_central.ban_sequence TO 'f2b_host'@'10.0.0.%';
-- A host registers its own addresses (never banned by the fleet) and tells pollers to reload.
GRANT INSERT ON f2b_central.host_addresses TO 'f2b_host'@'10.0.0.%';
GRANT UPDATE (version) ON f2b_central.allowlist_version TO 'f2b_host'@'10.0.0.%';
