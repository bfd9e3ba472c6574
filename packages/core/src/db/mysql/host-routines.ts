import { sql, type Kysely } from 'kysely'

/**
 * The host routines: every write a host account makes, as SQL SECURITY DEFINER procedures.
 * A host account holds SELECT and EXECUTE on the procedures named in HOST_PROCEDURES, and no
 * INSERT, UPDATE or DELETE anywhere, so a stolen host password can only do what these allow:
 *
 * - the host is taken from the session's account (`host_accounts`, written by the operator),
 *   never from an argument: a host name passed by the caller must match, or the call fails;
 * - every time comes from the server's clock; a spooled report's age is kept only when sane;
 * - the flood limit (`fleet_settings`) is enforced here: past it, reports are stored held;
 * - stamps, revocations and expiry are set here, never taken from the caller;
 * - a host's cursor only moves forward, and never past the last stamp handed out;
 * - a host registers single addresses of its own only, at most MAX_HOST_ADDRESSES.
 *
 * An account that is not bound to a host (the operator, who holds every privilege anyway)
 * acts for the host it names, as the operator's `simulate` and the tests do.
 *
 * Reads inside them use SELECT … INTO: in a stored routine, a subquery in SET or IF is a
 * locking read (shared locks until the statement ends), which made pollers deadlock with
 * the stamper; SELECT … INTO reads a snapshot like any plain SELECT.
 *
 * `f2b-central migrate` installs them (DROP and CREATE, so an upgrade replaces them). The
 * definer is the account that ran migrate, which must keep its privileges.
 */

/** What `hosts add` grants EXECUTE on. */
export const HOST_PROCEDURES = [
  'f2b_heartbeat',
  'f2b_report_ban',
  'f2b_stamp',
  'f2b_record_decisions',
  'f2b_advance_cursor',
  'f2b_mark_swept',
  'f2b_register_addresses',
  'f2b_record_resync',
] as const

/** What `hosts add` grants SELECT on: the reads of add2db, readdb and `check`. */
export const HOST_READABLE_TABLES = [
  'hosts',
  'bans',
  'ban_status',
  'ban_sequence',
  'allowlist',
  'allowlist_version',
  'host_addresses',
  'host_accounts',
  'fleet_settings',
  'kysely_migration',
  'ban_host_status',
] as const

// Parameters carry the table's character set and collation, so comparing them with columns
// never mixes collations, whatever the database's default.
const NAME = 'VARCHAR(253) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
const TEXT = (n: number) => `VARCHAR(${n}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`
const ACCOUNT = "SUBSTRING_INDEX(USER(), '@', 1)"
const MAX_AGE_MS = 30 * 86400 * 1000
const MAX_ADDRESSES = 64
const MAX_ERROR = 1000

const ROUTINES: Record<string, string> = {
  f2b_session_host: `
CREATE PROCEDURE f2b_session_host(IN p_name ${NAME}, IN p_machine_id ${TEXT(64)}, OUT o_host BIGINT)
  SQL SECURITY DEFINER
BEGIN
  DECLARE v_bound BIGINT DEFAULT NULL;
  DECLARE v_name ${NAME};
  DECLARE v_msg VARCHAR(600);
  SELECT MAX(host_id) INTO v_bound FROM host_accounts WHERE account = ${ACCOUNT};
  IF v_bound IS NOT NULL THEN
    SELECT MAX(name) INTO v_name FROM hosts WHERE id = v_bound;
    IF p_name IS NOT NULL AND NOT (p_name <=> v_name) THEN
      SET v_msg = CONCAT('account ', ${ACCOUNT}, ' speaks for host ', COALESCE(v_name, '?'), ', not ', p_name);
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    SET o_host = v_bound;
  ELSE
    SELECT MAX(id) INTO o_host FROM hosts WHERE name = p_name;
    IF o_host IS NULL THEN
      INSERT IGNORE INTO hosts (name, machine_id) VALUES (p_name, p_machine_id);
      SELECT MAX(id) INTO o_host FROM hosts WHERE name = p_name;
    END IF;
  END IF;
END`,

  f2b_move_cursor: `
CREATE PROCEDURE f2b_move_cursor(IN p_host BIGINT, IN p_seq BIGINT)
  SQL SECURITY DEFINER
BEGIN
  DECLARE v_last BIGINT;
  DECLARE v_target BIGINT;
  SELECT MAX(value) INTO v_last FROM ban_sequence WHERE id = 1;
  SET v_target = LEAST(p_seq, v_last);
  UPDATE hosts SET cursor_seq = v_target WHERE id = p_host AND cursor_seq < v_target;
END`,

  f2b_heartbeat: `
CREATE PROCEDURE f2b_heartbeat(IN p_name ${NAME}, IN p_machine_id ${TEXT(64)})
  SQL SECURITY DEFINER
BEGIN
  DECLARE v_host BIGINT;
  CALL f2b_session_host(p_name, p_machine_id, v_host);
  UPDATE hosts SET last_seen = CURRENT_TIMESTAMP(3), machine_id = p_machine_id WHERE id = v_host;
  SELECT id, name, cursor_seq, last_seen, swept_until FROM hosts WHERE id = v_host;
END`,

  f2b_report_ban: `
CREATE PROCEDURE f2b_report_ban(IN p_name ${NAME}, IN p_machine_id ${TEXT(64)}, IN p_ip ${TEXT(45)}, IN p_jail ${TEXT(64)},
                                IN p_protocol ${TEXT(16)}, IN p_port ${TEXT(128)}, IN p_bantime BIGINT, IN p_report_key ${TEXT(64)}, IN p_age_ms BIGINT)
  SQL SECURITY DEFINER
BEGIN
  DECLARE v_host BIGINT;
  DECLARE v_held BOOL;
  DECLARE v_recent BIGINT;
  DECLARE v_limit BIGINT;
  DECLARE v_created DATETIME(3);
  DECLARE v_bantime BIGINT;
  DECLARE v_id BIGINT;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  -- What no fail2ban report looks like never enters the table; readdb validates again anyway.
  IF p_ip IS NULL OR p_ip NOT REGEXP '^[0-9A-Fa-f.:]{2,45}$' OR p_jail IS NULL OR p_jail NOT REGEXP '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'
     OR p_protocol IS NULL OR p_protocol NOT REGEXP '^[a-z0-9-]{1,16}$' OR p_port IS NULL OR p_port NOT REGEXP '^[A-Za-z0-9:,-]{1,128}$'
     OR p_bantime IS NULL OR p_bantime = 0 OR p_bantime > 315360000 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'f2b_report_ban: not a valid ban report';
  END IF;
  -- Outside the transaction: a new host's row is created by an autocommitted statement.
  CALL f2b_session_host(p_name, p_machine_id, v_host);
  SET v_bantime = IF(p_bantime < 0, -1, p_bantime);
  SET v_created = CURRENT_TIMESTAMP(3) - INTERVAL IF(p_age_ms BETWEEN 0 AND ${MAX_AGE_MS}, p_age_ms, 0) * 1000 MICROSECOND;
  START TRANSACTION;
  UPDATE hosts SET last_seen = CURRENT_TIMESTAMP(3), machine_id = COALESCE(p_machine_id, machine_id) WHERE id = v_host;
  SELECT COUNT(*) INTO v_recent FROM bans WHERE reporter_id = v_host AND held_at IS NULL AND created_at > CURRENT_TIMESTAMP(3) - INTERVAL 60 SECOND;
  SELECT MAX(max_bans_per_minute) INTO v_limit FROM fleet_settings WHERE id = 1;
  SET v_held = v_recent >= COALESCE(v_limit, 1000);
  INSERT INTO bans (ip, jail, protocol, port, reporter_id, bantime, report_key, created_at, expires_at, held_at)
    VALUES (p_ip, p_jail, p_protocol, p_port, v_host, v_bantime, p_report_key, v_created,
            IF(v_bantime < 0, NULL, v_created + INTERVAL v_bantime SECOND), IF(v_held, CURRENT_TIMESTAMP(3), NULL));
  SET v_id = LAST_INSERT_ID();
  INSERT INTO ban_status (ban_id, host_id, status, error) VALUES (v_id, v_host, 1, NULL);
  COMMIT;
  SELECT v_id AS ban_id, v_held AS held;
END`,

  // Read committed: under repeatable read the locking read of seq IS NULL gap-locks the
  // bans_seq index, and a report inserting its NULL entry there then deadlocks with the
  // stamper. SKIP LOCKED passes over rows still being inserted; a later stamp takes them.
  // The caller checks for unstamped rows first, with a plain read: inside a routine, a read
  // in IF or SET (subquery) is a locking read, and would wait on (and deadlock with) a stamper.
  f2b_stamp: `
CREATE PROCEDURE f2b_stamp(IN p_limit INT)
  SQL SECURITY DEFINER
BEGIN
  DECLARE v_id BIGINT;
  DECLARE v_first BIGINT DEFAULT NULL;
  DECLARE v_last_id BIGINT DEFAULT NULL;
  DECLARE v_last BIGINT;
  DECLARE v_offset BIGINT;
  DECLARE v_count INT DEFAULT 0;
  DECLARE v_done BOOL DEFAULT FALSE;
  DECLARE cur CURSOR FOR SELECT id FROM bans WHERE seq IS NULL AND held_at IS NULL ORDER BY id LIMIT p_limit FOR UPDATE SKIP LOCKED;
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_done = TRUE;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  START TRANSACTION;
  SELECT value INTO v_last FROM ban_sequence WHERE id = 1 FOR UPDATE;
  OPEN cur;
  stamping: LOOP
    FETCH cur INTO v_id;
    IF v_done THEN LEAVE stamping; END IF;
    IF v_first IS NULL THEN
      SET v_first = v_id;
      SET v_offset = v_last + 1 - v_first;
    END IF;
    UPDATE bans SET seq = v_id + v_offset WHERE id = v_id;
    SET v_last_id = v_id;
    SET v_count = v_count + 1;
  END LOOP;
  CLOSE cur;
  IF v_count > 0 THEN
    UPDATE ban_sequence SET value = v_last_id + v_offset WHERE id = 1;
  END IF;
  COMMIT;
  SELECT v_count AS stamped;
END`,

  // p_decisions: [[ban_id, status, error or null, 1 when the host has no row yet], …]
  f2b_record_decisions: `
CREATE PROCEDURE f2b_record_decisions(IN p_name ${NAME}, IN p_decisions LONGTEXT, IN p_cursor BIGINT)
  SQL SECURITY DEFINER
BEGIN
  DECLARE v_host BIGINT;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  CALL f2b_session_host(p_name, NULL, v_host);
  START TRANSACTION;
  INSERT IGNORE INTO ban_status (ban_id, host_id, status, error)
    SELECT j.ban_id, v_host, j.status, LEFT(j.error, ${MAX_ERROR})
    FROM JSON_TABLE(p_decisions, '$[*]' COLUMNS (ban_id BIGINT PATH '$[0]', status INT PATH '$[1]', error TEXT PATH '$[2]', fresh INT PATH '$[3]')) j
    WHERE j.fresh = 1 AND j.status BETWEEN 0 AND 6;
  UPDATE ban_status s
    JOIN JSON_TABLE(p_decisions, '$[*]' COLUMNS (ban_id BIGINT PATH '$[0]', status INT PATH '$[1]', error TEXT PATH '$[2]', fresh INT PATH '$[3]')) j ON s.ban_id = j.ban_id
    SET s.status = j.status, s.error = LEFT(j.error, ${MAX_ERROR}), s.updated_at = CURRENT_TIMESTAMP(3)
    WHERE s.host_id = v_host AND j.fresh = 0 AND j.status BETWEEN 0 AND 6;
  CALL f2b_move_cursor(v_host, p_cursor);
  COMMIT;
END`,

  f2b_advance_cursor: `
CREATE PROCEDURE f2b_advance_cursor(IN p_name ${NAME}, IN p_seq BIGINT)
  SQL SECURITY DEFINER
BEGIN
  DECLARE v_host BIGINT;
  CALL f2b_session_host(p_name, NULL, v_host);
  CALL f2b_move_cursor(v_host, p_seq);
END`,

  f2b_mark_swept: `
CREATE PROCEDURE f2b_mark_swept(IN p_name ${NAME}, IN p_until DATETIME(3))
  SQL SECURITY DEFINER
BEGIN
  DECLARE v_host BIGINT;
  CALL f2b_session_host(p_name, NULL, v_host);
  UPDATE hosts SET swept_until = LEAST(p_until, CURRENT_TIMESTAMP(3)) WHERE id = v_host;
END`,

  // A host's own firewall resync: only its own row, only counts, the time from the server.
  f2b_record_resync: `
CREATE PROCEDURE f2b_record_resync(IN p_name ${NAME}, IN p_backend VARCHAR(16), IN p_entries INT, IN p_drift INT)
  SQL SECURITY DEFINER
BEGIN
  DECLARE v_host BIGINT;
  CALL f2b_session_host(p_name, NULL, v_host);
  IF p_backend NOT IN ('nftables', 'ipset') OR p_entries < 0 OR p_drift < 0 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'f2b_record_resync: backend nftables or ipset, counts not negative';
  END IF;
  UPDATE hosts SET firewall_backend = p_backend, resynced_at = CURRENT_TIMESTAMP(3), firewall_entries = p_entries,
    resync_drift = p_drift, drift_total = drift_total + p_drift WHERE id = v_host;
END`,

  // p_addresses: a JSON array of single addresses. Anything that is not one is left out.
  f2b_register_addresses: `
CREATE PROCEDURE f2b_register_addresses(IN p_name ${NAME}, IN p_addresses LONGTEXT)
  SQL SECURITY DEFINER
BEGIN
  DECLARE v_host BIGINT;
  DECLARE v_added INT;
  DECLARE v_total INT;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  CALL f2b_session_host(p_name, NULL, v_host);
  START TRANSACTION;
  INSERT IGNORE INTO host_addresses (host_id, address)
    SELECT v_host, j.address FROM JSON_TABLE(p_addresses, '$[*]' COLUMNS (address VARCHAR(100) PATH '$')) j
    WHERE j.address REGEXP '^[0-9a-f.:]{2,45}$';
  SET v_added = ROW_COUNT();
  SELECT COUNT(*) INTO v_total FROM host_addresses WHERE host_id = v_host;
  IF v_total > ${MAX_ADDRESSES} THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'f2b_register_addresses: a host registers at most ${MAX_ADDRESSES} addresses of its own';
  END IF;
  IF v_added > 0 THEN
    UPDATE allowlist_version SET version = version + 1 WHERE id = 1;
  END IF;
  COMMIT;
  SELECT v_added AS added;
END`,
}

/**
 * Install or replace every host routine (run by migrate, with the operator account), then
 * give every host account EXECUTE on all of them again: the server drops a routine's grants
 * with the routine, so without this an upgrade would lock every host out, and a routine new in
 * this version would be one no existing host may call.
 */
export async function installHostRoutines(db: Kysely<unknown>): Promise<void> {
  for (const [name, body] of Object.entries(ROUTINES)) {
    await sql`DROP PROCEDURE IF EXISTS ${sql.id(name)}`.execute(db)
    await sql.raw(body).execute(db)
  }
  const { rows } = await sql<{ account: string; accountHost: string }>`SELECT account, account_host AS accountHost FROM host_accounts`.execute(db)
  for (const { account, accountHost } of rows) {
    try {
      for (const procedure of HOST_PROCEDURES) await sql`GRANT EXECUTE ON PROCEDURE ${sql.id(procedure)} TO ${account}@${accountHost}`.execute(db)
    } catch (err) {
      // 1133: the account was dropped by hand and its binding left behind; nothing to give it.
      if ((err as { errno?: number }).errno !== 1133) throw err
    }
  }
}
