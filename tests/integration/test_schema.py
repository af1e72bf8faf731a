"""The database the sender and coordinator stand on: Iris's schema fixture, the sender's own
migrations and the demo data load cleanly into a fresh MariaDB database, migrations are
idempotent and recorded once, the columns the C code depends on have the expected types, every
foreign key holds for the demo data, and the lease/claim idioms the code relies on behave as
documented in docs/db-schema.md. Uses the mariadb CLI (PyMySQL is not in the venv)."""
import glob
import json
import os
import subprocess
import uuid

import pytest

import irisstack as stack

SRC = stack.SRC
MIGRATIONS = sorted(glob.glob(os.path.join(SRC, "db", "migrations", "[0-9][0-9][0-9][0-9]_*.sql")))


def db_sh(cmd, db, check=True):
    r = stack.run_db_sh(cmd, db, timeout=120)
    if check:
        assert r.returncode == 0, f"db.sh {cmd} {db} failed:\n{r.stdout}{r.stderr}"
    return r


def mysql(db, sql, stdin=None):
    """Run SQL in db; return rows as lists of strings (None for NULL)."""
    r = stack.mariadb(db, sql if stdin is None else stdin,
                      extra_args=["--default-character-set=utf8mb4"])
    assert r.returncode == 0, f"SQL failed: {sql or '<stdin>'}\n{r.stderr}"
    return [[None if v == "NULL" else _unescape(v) for v in line.split("\t")]
            for line in r.stdout.splitlines()]


def _unescape(v):
    """Undo the client's batch-mode escaping of backslash, newline, tab and NUL."""
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            out.append({"n": "\n", "t": "\t", "0": "\0", "\\": "\\"}.get(v[i + 1], v[i + 1]))
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def scalar(db, sql):
    rows = mysql(db, sql)
    assert len(rows) == 1 and len(rows[0]) == 1, rows
    return rows[0][0]


@pytest.fixture(scope="module")
def db():
    name = "it_schema_" + uuid.uuid4().hex[:12]
    try:
        db_sh("load-iris", name)
        db_sh("migrate", name)
        db_sh("migrate", name)  # a second run must be a no-op
        db_sh("demo", name)
        yield name
    finally:
        db_sh("drop", name, check=False)


def columns(db, table):
    rows = mysql(db, "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                     f"WHERE table_schema = DATABASE() AND table_name = '{table}'")
    return {r[0]: (r[1], r[2]) for r in rows}


# Columns the sender/coordinator read or write in Iris's tables: (table, column, type, nullable).
IRIS_COLUMNS = [
    ("incident", "id", "bigint", "NO"), ("incident", "plan_id", "bigint", "NO"),
    ("incident", "created", "datetime", "NO"), ("incident", "context", "text", "YES"),
    ("incident", "application_id", "int", "NO"), ("incident", "current_step", "int", "NO"),
    ("incident", "active", "tinyint", "NO"), ("incident", "owner_id", "bigint", "YES"),
    ("message", "id", "bigint", "NO"), ("message", "batch", "varchar", "YES"),
    ("message", "created", "datetime", "NO"), ("message", "sent", "datetime", "YES"),
    ("message", "application_id", "int", "NO"), ("message", "target_id", "bigint", "NO"),
    ("message", "destination", "varchar", "YES"), ("message", "mode_id", "int", "YES"),
    ("message", "plan_id", "bigint", "YES"), ("message", "priority_id", "int", "NO"),
    ("message", "subject", "varchar", "YES"), ("message", "body", "text", "YES"),
    ("message", "incident_id", "bigint", "YES"), ("message", "plan_notification_id", "bigint", "YES"),
    ("message", "active", "tinyint", "NO"), ("message", "template_id", "int", "YES"),
    ("message_changelog", "date", "datetime", "NO"), ("message_changelog", "message_id", "bigint", "NO"),
    ("message_changelog", "change_type", "varchar", "NO"), ("message_changelog", "old", "varchar", "NO"),
    ("message_changelog", "new", "varchar", "NO"), ("message_changelog", "description", "varchar", "YES"),
    ("plan", "step_count", "int", "NO"), ("plan", "user_id", "bigint", "NO"),
    ("plan", "threshold_window", "bigint", "YES"), ("plan", "threshold_count", "bigint", "YES"),
    ("plan", "aggregation_window", "bigint", "YES"), ("plan", "aggregation_reset", "bigint", "YES"),
    ("plan", "tracking_key", "varchar", "YES"), ("plan", "tracking_type", "varchar", "YES"),
    ("plan", "tracking_template", "text", "YES"), ("plan_active", "plan_id", "bigint", "NO"),
    ("plan_notification", "step", "int", "NO"), ("plan_notification", "template", "varchar", "YES"),
    ("plan_notification", "target_id", "bigint", "YES"), ("plan_notification", "role_id", "int", "YES"),
    ("plan_notification", "priority_id", "int", "NO"), ("plan_notification", "repeat", "int", "NO"),
    ("plan_notification", "wait", "int", "NO"), ("plan_notification", "optional", "tinyint", "NO"),
    ("plan_notification", "dynamic_index", "int", "YES"),
    ("dynamic_plan_map", "dynamic_index", "int", "NO"),
    ("target", "name", "varchar", "NO"), ("target", "type_id", "int", "NO"), ("target", "active", "tinyint", "NO"),
    ("target_contact", "destination", "varchar", "NO"), ("priority", "mode_id", "int", "NO"),
    ("application", "key", "varchar", "NO"), ("application", "secondary_key", "varchar", "YES"),
    ("application_mode", "mode_id", "int", "NO"), ("default_application_mode", "mode_id", "int", "NO"),
    ("target_mode", "mode_id", "int", "NO"), ("target_application_mode", "mode_id", "int", "NO"),
    ("target_reprioritization", "count", "tinyint", "NO"),
    ("target_reprioritization", "duration", "smallint", "NO"),
    ("template_content", "subject", "varchar", "NO"), ("template_content", "body", "text", "NO"),
    ("template_active", "template_id", "int", "NO"),
    ("application_quota", "hard_quota_threshold", "smallint", "NO"),
    ("application_quota", "soft_quota_duration", "smallint", "NO"),
    ("application_quota", "wait_time", "smallint", "NO"),
    ("application_custom_sender_address", "sender_address", "varchar", "NO"),
    ("mailing_list", "count", "bigint", "NO"), ("mailing_list_membership", "user_id", "bigint", "NO"),
    ("generic_message_sent_status", "status", "tinyint", "NO"),
    ("twilio_delivery_status", "twilio_sid", "varchar", "NO"),
    ("twilio_delivery_status", "message_id", "bigint", "YES"), ("twilio_retry", "retry_id", "bigint", "NO"),
    ("notification_category", "mode_id", "int", "NO"), ("category_override", "mode_id", "int", "NO"),
    ("mode_template_override", "target_id", "bigint", "NO"), ("device", "registration_id", "varchar", "NO"),
    ("response", "message_id", "bigint", "NO"), ("incident_emails", "plan_name", "varchar", "NO"),
    ("user", "target_id", "bigint", "NO"), ("user_setting", "value", "varchar", "NO"),
    ("user_team", "team_id", "bigint", "NO"), ("team", "manager_id", "bigint", "YES"),
    ("application_owner", "user_id", "bigint", "NO"), ("template_variable", "name", "varchar", "NO"),
]

SENDER_COLUMNS = [
    ("schema_migrations", "version", "int", "NO"), ("schema_migrations", "checksum", "char", "NO"),
    ("sender_lease", "name", "varchar", "NO"), ("sender_lease", "owner", "varchar", "YES"),
    ("sender_lease", "token", "bigint", "NO"), ("sender_lease", "expires_at", "datetime", "NO"),
    ("sender_lease", "acquired_at", "datetime", "YES"), ("sender_lease", "renewed_count", "bigint", "NO"),
    ("sender_claim", "claim_key", "varchar", "NO"), ("sender_claim", "kind", "enum", "NO"),
    ("sender_claim", "message_id", "bigint", "YES"), ("sender_claim", "notification_id", "varchar", "YES"),
    ("sender_claim", "state", "enum", "NO"), ("sender_claim", "final", "tinyint", "NO"),
    ("sender_claim", "owner", "varchar", "YES"), ("sender_claim", "lease_expires_at", "datetime", "YES"),
    ("sender_claim", "attempts", "int", "NO"), ("sender_claim", "vendor", "varchar", "YES"),
    ("sender_claim", "vendor_message_id", "varchar", "YES"), ("sender_claim", "last_error", "varchar", "YES"),
    ("sender_claim", "created_at", "datetime", "NO"), ("sender_claim", "updated_at", "datetime", "NO"),
    ("sender_enqueue", "message_id", "bigint", "NO"), ("sender_enqueue", "state", "enum", "NO"),
    ("sender_enqueue", "lane", "varchar", "YES"), ("sender_enqueue", "next_attempt_at", "datetime", "YES"),
    ("sender_enqueue", "enqueued_at", "datetime", "YES"), ("sender_enqueue", "sqs_message_id", "varchar", "YES"),
    ("sender_enqueue", "attempts", "int", "NO"), ("sender_enqueue", "done_at", "datetime", "YES"),
    ("sender_enqueue", "batch_id", "char", "YES"),
    ("sender_quota_counter", "scope", "enum", "NO"), ("sender_quota_counter", "subject_id", "bigint", "NO"),
    ("sender_quota_counter", "bucket", "datetime", "NO"), ("sender_quota_counter", "hits", "int", "NO"),
    ("sender_quota_state", "soft_notified_at", "datetime", "YES"),
    ("sender_aggregation", "plan_id", "bigint", "NO"), ("sender_aggregation", "aggregating_since", "datetime", "YES"),
    ("sender_aggregation", "next_flush_at", "datetime", "YES"),
    ("sender_notification", "id", "varchar", "NO"), ("sender_notification", "state", "enum", "NO"),
    ("sender_notification", "payload_sha256", "char", "NO"),
]

# Indexes the hot queries need (the migration comments say which query each serves).
SENDER_INDEXES = [
    ("sender_claim", "PRIMARY"), ("sender_claim", "ix_sender_claim_state_lease"),
    ("sender_claim", "ix_sender_claim_message"), ("sender_enqueue", "ix_sender_enqueue_due"),
    ("sender_enqueue", "ix_sender_enqueue_aggkey"), ("sender_aggregation", "ix_sender_aggregation_flush"),
    ("sender_quota_counter", "PRIMARY"), ("sender_lease", "PRIMARY"),
    ("sender_escalation", "ix_sender_escalation_due"), ("sender_tracking", "ix_sender_tracking_due"),
]


def test_columns_have_expected_types(db):
    missing = []
    for table, col, dtype, nullable in IRIS_COLUMNS + SENDER_COLUMNS:
        got = columns(db, table).get(col)
        if got != (dtype, nullable):
            missing.append(f"{table}.{col}: want {dtype} {nullable}, got {got}")
    assert not missing, "\n".join(missing)


def test_required_tables_exist(db):
    tables = {r[0] for r in mysql(db, "SHOW TABLES")}
    want = {"incident", "message", "message_changelog", "plan", "plan_active", "plan_notification",
            "application", "application_mode", "application_quota", "application_owner",
            "default_application_mode", "target", "target_type", "target_role", "target_contact",
            "target_mode", "target_application_mode", "target_reprioritization", "user",
            "user_setting", "user_team", "team", "mailing_list", "mailing_list_membership", "mode",
            "priority", "template", "template_active", "template_content", "template_variable",
            "response", "twilio_delivery_status", "twilio_retry", "generic_message_sent_status",
            "incident_emails", "device", "dynamic_plan_map", "notification_category",
            "category_override", "mode_template_override", "application_custom_sender_address",
            "schema_migrations", "sender_lease", "sender_claim", "sender_enqueue",
            "sender_quota_counter", "sender_quota_state", "sender_aggregation",
            "sender_notification", "sender_tracking", "sender_reprioritization",
            "sender_escalation"}
    assert not want - tables


def _iris_tables():
    import re
    with open(os.path.join(SRC, "db", "iris", "schema.sql")) as f:
        return set(re.findall(r"CREATE TABLE IF NOT EXISTS `(\w+)`", f.read()))


def test_every_table_is_innodb_with_production_charsets(db):
    """Iris's tables keep linkedin/iris db/schema_0.sql's charsets (44 latin1 tables, and
    message_changelog in the database default utf8 = utf8mb3), so a test writing text they
    cannot hold fails as production would; the sender's own tables are utf8mb4."""
    iris = _iris_tables()
    assert len(iris) == 45, sorted(iris)
    rows = mysql(db, "SELECT table_name, engine, table_collation FROM information_schema.tables "
                     "WHERE table_schema = DATABASE()")
    want = {t: ("utf8mb3" if t == "message_changelog" else "latin1") for t in iris}
    bad = [r for r in rows if r[1] != "InnoDB" or
           not r[2].startswith(want.get(r[0], "utf8mb4") + "_")]
    assert not bad
    assert sum(1 for r in rows if r[2].startswith("latin1_")) == 44


def test_indexes_for_hot_queries(db):
    for table, index in SENDER_INDEXES:
        n = scalar(db, "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = "
                       f"DATABASE() AND table_name = '{table}' AND index_name = '{index}'")
        assert int(n) >= 1, f"{table}.{index} missing"


def test_migrations_recorded_once_each(db):
    rows = mysql(db, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert [r[1] for r in rows] == [os.path.basename(f) for f in MIGRATIONS]
    assert [int(r[0]) for r in rows] == [int(os.path.basename(f)[:4]) for f in MIGRATIONS]


def test_migration_files_are_idempotent_on_their_own(db):
    before = scalar(db, "SELECT COUNT(*) FROM sender_lease")
    for f in MIGRATIONS:  # bypass the ledger: each file must be safe to run again
        with open(f) as fh:
            mysql(db, None, stdin=fh.read())
    assert scalar(db, "SELECT COUNT(*) FROM sender_lease") == before == "2"  # coordinator, housekeeping


def test_changed_migration_is_refused(db):
    mysql(db, "UPDATE schema_migrations SET checksum = REPEAT('0', 64) WHERE version = 2")
    try:
        r = db_sh("migrate", db, check=False)
        assert r.returncode != 0 and "different content" in r.stderr
    finally:
        sha = subprocess.run(["sha256sum", MIGRATIONS[1]], capture_output=True, text=True).stdout[:64]
        mysql(db, f"UPDATE schema_migrations SET checksum = '{sha}' WHERE version = 2")
    db_sh("migrate", db)


def test_bad_database_name_is_refused():
    r = db_sh("load-iris", "x`; DROP DATABASE mysql; --", check=False)
    assert r.returncode != 0 and "database name" in r.stderr


def test_foreign_keys_hold_for_demo_data(db):
    fks = mysql(db, "SELECT table_name, column_name, referenced_table_name, referenced_column_name "
                    "FROM information_schema.key_column_usage WHERE table_schema = DATABASE() "
                    "AND referenced_table_name IS NOT NULL")
    assert len(fks) > 50
    orphans = []
    for table, col, ref_table, ref_col in fks:
        n = scalar(db, f"SELECT COUNT(*) FROM `{table}` c LEFT JOIN `{ref_table}` p "
                       f"ON c.`{col}` = p.`{ref_col}` WHERE c.`{col}` IS NOT NULL AND p.`{ref_col}` IS NULL")
        if n != "0":
            orphans.append(f"{table}.{col} -> {ref_table}.{ref_col}: {n} orphans")
    assert not orphans, orphans


def test_demo_data_covers_what_the_sender_needs(db):
    modes = {r[0] for r in mysql(db, "SELECT name FROM mode")}
    assert modes == {"email", "sms", "call", "im", "slack", "hipchat", "drop"}
    prio = dict(mysql(db, "SELECT p.name, m.name FROM priority p JOIN mode m ON m.id = p.mode_id"))
    assert prio == {"urgent": "call", "high": "sms", "medium": "email", "low": "email"}
    # Every active user is reachable in every mode but drop.
    gaps = mysql(db, "SELECT t.name, m.name FROM target t JOIN target_type tt ON tt.id = t.type_id "
                     "CROSS JOIN mode m LEFT JOIN target_contact c ON c.target_id = t.id AND "
                     "c.mode_id = m.id WHERE tt.name = 'user' AND t.active = 1 AND m.name <> 'drop' "
                     "AND c.destination IS NULL")
    assert not gaps
    apps = {r[0] for r in mysql(db, "SELECT name FROM application")}
    assert {"Autoalerts", "iris"} <= apps
    # Every active plan has notifications for each of its steps.
    missing_steps = mysql(db, "SELECT p.name, p.step_count, COUNT(DISTINCT n.step) FROM plan_active a "
                              "JOIN plan p ON p.id = a.plan_id JOIN plan_notification n ON n.plan_id = p.id "
                              "GROUP BY p.id HAVING COUNT(DISTINCT n.step) <> p.step_count")
    assert not missing_steps
    assert int(scalar(db, "SELECT COUNT(*) FROM plan_active a JOIN plan p ON p.id = a.plan_id "
                          "WHERE p.threshold_count < 5 AND p.aggregation_window <= 60")) >= 1
    assert int(scalar(db, "SELECT COUNT(*) FROM plan_notification WHERE `repeat` > 0 AND wait > 0")) >= 1


def test_demo_templates_render_with_jinja2(db):
    """The demo templates are real Jinja2: they parse and render in a sandbox with the demo
    incidents' contexts, as the C engine will have to."""
    pytest.importorskip("jinja2")
    from jinja2.sandbox import SandboxedEnvironment
    env = SandboxedEnvironment(autoescape=False)
    contexts = {r[0]: json.loads(r[1]) for r in mysql(db, "SELECT a.name, i.context FROM incident i "
                                                          "JOIN application a ON a.id = i.application_id")}
    contexts["iris"] = {"quota_breach": {"application": "Autoalerts", "limit": 600, "duration": 60}}
    rows = mysql(db, "SELECT t.name, a.name, m.name, c.subject, c.body FROM template_active ta "
                     "JOIN template t ON t.id = ta.template_id JOIN template_content c ON c.template_id = t.id "
                     "JOIN application a ON a.id = c.application_id JOIN mode m ON m.id = c.mode_id")
    assert len(rows) >= 10
    for name, app, mode, subject, body in rows:
        ctx = dict(contexts[app])
        ctx["iris"] = {"message_id": 42, "incident_id": 7, "plan": "p", "incident_created": "2026-02-10 03:12:00"}
        for text in (subject, body):
            out = env.from_string(text).render(**ctx)
            assert "{{" not in out, (name, app, mode)
    for (tt,) in mysql(db, "SELECT tracking_template FROM plan WHERE tracking_template IS NOT NULL"):
        assert "Autoalerts" in json.loads(tt)


def test_lease_conditional_update_is_exclusive(db):
    # token before owner: MariaDB evaluates SET assignments left to right.
    acquire = ("UPDATE sender_lease SET token = IF(owner <=> '{me}', token, token + 1), owner = '{me}', "
               "expires_at = UTC_TIMESTAMP(3) + INTERVAL {ttl} SECOND WHERE name = 'coordinator' AND "
               "(owner IS NULL OR owner = '{me}' OR expires_at < UTC_TIMESTAMP(3)); SELECT ROW_COUNT()")
    assert scalar(db, acquire.format(me="a", ttl=30)) == "1"
    assert scalar(db, acquire.format(me="b", ttl=30)) == "0"   # held by a
    assert scalar(db, acquire.format(me="a", ttl=-1)) == "1"   # a renews into the past = expired
    assert scalar(db, acquire.format(me="b", ttl=30)) == "1"   # b takes the expired lease over
    assert scalar(db, "SELECT token FROM sender_lease WHERE name = 'coordinator'") == "2"
    mysql(db, "UPDATE sender_lease SET owner = NULL, token = 0, expires_at = '1970-01-01' "
              "WHERE name = 'coordinator'")


def test_claim_insert_is_idempotent_and_cascades(db):
    ins = ("INSERT IGNORE INTO sender_claim (claim_key, kind, message_id, lane, owner, lease_expires_at) "
           "VALUES ('m:1', 'message', 1, 'sms', '{o}', UTC_TIMESTAMP(3) + INTERVAL 60 SECOND); SELECT ROW_COUNT()")
    assert scalar(db, ins.format(o="w1")) == "1"
    assert scalar(db, ins.format(o="w2")) == "0"
    assert scalar(db, "SELECT owner FROM sender_claim WHERE claim_key = 'm:1'") == "w1"
    # A claim on a message that does not exist is refused by the foreign key.
    r = stack.mariadb(db, "INSERT INTO sender_claim (claim_key, kind, message_id, lane) "
                          "VALUES ('m:999999', 'message', 999999, 'sms')")
    assert r.returncode != 0 and "foreign key" in r.stderr.lower()
    # The enqueue marker is keyed by message, so a second marker for one message is impossible.
    mysql(db, "INSERT INTO sender_enqueue (message_id, application_id, priority_id, target_id, "
              "next_attempt_at) VALUES (1, 1, 2, 1, UTC_TIMESTAMP(3))")
    r = stack.mariadb(db, "INSERT INTO sender_enqueue (message_id, application_id, priority_id, target_id) "
                          "VALUES (1, 1, 2, 1)")
    assert r.returncode != 0 and "duplicate" in r.stderr.lower()
    mysql(db, "DELETE FROM sender_claim WHERE claim_key = 'm:1'; DELETE FROM sender_enqueue WHERE message_id = 1")


def test_quota_counter_upsert_and_window_sum(db):
    bump = ("INSERT INTO sender_quota_counter (scope, subject_id, mode_id, bucket, hits) VALUES "
            "('application', 1, 0, '{b}', 1) ON DUPLICATE KEY UPDATE hits = hits + 1")
    for b in ("2026-03-01 10:00:00", "2026-03-01 10:00:00", "2026-03-01 10:01:00", "2026-03-01 09:00:00"):
        mysql(db, bump.format(b=b))
    window = scalar(db, "SELECT COALESCE(SUM(hits), 0) FROM sender_quota_counter WHERE scope = "
                        "'application' AND subject_id = 1 AND mode_id = 0 AND bucket > '2026-03-01 09:58:00'")
    assert window == "3"
    mysql(db, "DELETE FROM sender_quota_counter")
