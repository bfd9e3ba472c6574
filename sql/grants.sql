-- f2b-central: the operator account (MySQL 8 / MariaDB 10.6+).
--
-- Replace before running:  f2b_central  the database, and the password. Run as an
-- administrator. The operator runs `f2b-central migrate` (which installs the host routines,
-- so it needs CREATE ROUTINE), unban, allow, expire, purge, import and `hosts add`. Keep it off
-- the hosts.
--
--   sed -e 's/f2b_central/mydb/g' sql/grants.sql | mysql
--
-- Hosts do NOT share an account. Each host gets its own, bound to its host row, made by the
-- operator with:
--
--   f2b-central hosts add web-1.example.org --from 10.0.0.% --password-file /root/web-1.pw
--
-- which grants it SELECT and EXECUTE on the host routines only (no INSERT, UPDATE or DELETE
-- anywhere): README "One host, one identity".
CREATE USER IF NOT EXISTS 'f2b_operator'@'localhost' IDENTIFIED BY 'change-me-operator';
-- WITH GRANT OPTION: `hosts add` grants each host account its SELECT and EXECUTE rights;
-- CREATE USER: it creates those accounts.
GRANT ALL PRIVILEGES ON f2b_central.* TO 'f2b_operator'@'localhost' WITH GRANT OPTION;
GRANT CREATE USER ON *.* TO 'f2b_operator'@'localhost';
