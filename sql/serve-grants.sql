-- f2b-central: the account `f2b-central serve` reads with (MySQL 8 / MariaDB 10.6+).
--
-- Replace before running:  f2b_central  the database,  f2b_serve  the account (if you want
-- another name), the password, and 'localhost' where serve runs elsewhere (its address, or a
-- pattern such as '10.0.0.%'). Run as an administrator:
--
--   sed -e 's/f2b_central/mydb/g' -e 's/change-me-serve/LONG-RANDOM-PASSWORD/' sql/serve-grants.sql | mysql
--
-- SELECT and nothing else: serve only reads (the ban lists, the metrics, the status page,
-- the schema version for /healthz). A stolen serve password shows the fleet's bans and
-- hosts and can change none of them. test/serve.test.ts runs every endpoint with exactly
-- this account.
CREATE USER IF NOT EXISTS 'f2b_serve'@'localhost' IDENTIFIED BY 'change-me-serve';
GRANT SELECT ON f2b_central.* TO 'f2b_serve'@'localhost';
