"""The coordinator bootstrap (lambda/coordinator) through the fake Runtime API against
MariaDB (Iris's schema and demo plans), SQS (moto) and an HTTP fake of the Oncall API: new
incidents get their first step's messages, every message is enqueued once on the lane of its
mode, repeats and step escalation follow the plan on a compressed clock (the times the
coordinator remembers are moved back), exhausted incidents are deactivated only once all was
sent, claimed incidents stop, on-call roles come from Oncall and a failing lookup pages the
plan's creator (or is retried when there is none), dynamic plans take their targets from the
incident, aggregation kicks in and resets, housekeeping prunes on its schedule, incidents
escalated before the coordinator's bookkeeping existed are adopted, two coordinators started
at once produce what one would, and a database restart in the middle of a burst loses and
duplicates nothing. The local loop (`iris-coordinator --loop`) runs as a real process: on a
compressed clock it walks a plan with a 10-minute wait in seconds, a signal stops it after
its tick with the lease released, a second loop waits for the lease and takes it over, and
the compressed clock is refused outside the loop."""
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid

import pytest

import irisstack as stack
from fake_runtime import FakeRuntime
from irisstack import sql
from oncall_fake import OncallFake

COORD = stack.bootstrap("coordinator")


@pytest.fixture
def env():
    sqs = stack.aws_client("sqs")
    sfx = uuid.uuid4().hex[:6]
    queues = stack.create_queues(sqs, lambda lane: f"c-{lane}-{sfx}")
    with stack.iris_db("iris_coord") as db:
        cfg = stack.config(db, queues, coordinator={"tick_seconds": 1, "margin_ms": 200})
        yield {"db": db, "sqs": sqs, "queues": queues, "cfg": cfg}


@pytest.fixture
def oncall(env):
    """The Oncall API with the storage team: grace on call and its manager; ada, linus and wei
    on its roster. Wired into the coordinator's configuration."""
    with OncallFake(app="iris", key="oncall-test-key") as fake:
        fake.set_team("storage-oncall", rosters={"primary": ["ada", "linus", "wei"]},
                      oncall={"primary": ["grace"], "secondary": ["linus"], "manager": ["grace"]})
        env["cfg"]["oncall"] = {"api": fake.url, "app": "iris", "key": "oncall-test-key"}
        yield fake
        assert fake.violations() == []


def run(env, timeout_ms=1500, n=1, logs=None):
    run = stack.run_lambda(COORD, [{"source": "aws.scheduler"}] * n,
                           env=stack.function_env(env["cfg"]), timeout_ms=timeout_ms)
    assert run.init_error is None and run.proc.returncode == 0, run.proc.err
    if logs is not None:
        logs.extend(run.logs)
    return [r["json"] for r in run.results]


def queued(env, lane=None):
    """The envelopes waiting on one lane (all lanes when None), received and deleted."""
    lanes = list(env["queues"]) if lane is None else [lane]
    return [e for name in lanes for e in stack.drain(env["sqs"], env["queues"][name])]


def messages(env, incident):
    return sql(env["db"], "SELECT m.plan_notification_id, t.name, p.name FROM message m"
                          " JOIN target t ON t.id = m.target_id JOIN priority p ON p.id = m.priority_id"
                          f" WHERE m.incident_id = {incident} ORDER BY m.plan_notification_id, t.name")


def open_incident(env, id_=700):
    sql(env["db"], "INSERT INTO incident (id, plan_id, created, context, application_id, current_step,"
                   f" active) VALUES ({id_}, 2, UTC_TIMESTAMP(), '{{\"host\": \"db-9\"}}', 1, 0, 1)")


def age(env, incident, seconds):
    """The compressed clock: everything the coordinator remembers about the incident happened
    `seconds` earlier."""
    sql(env["db"], f"UPDATE message SET created = created - INTERVAL {seconds} SECOND,"
                   f" sent = sent - INTERVAL {seconds} SECOND WHERE incident_id = {incident};"
                   f"UPDATE sender_escalation SET last_round_at = last_round_at - INTERVAL {seconds} SECOND,"
                   f" due_at = due_at - INTERVAL {seconds} SECOND WHERE incident_id = {incident};")


def test_new_incident_first_step_and_enqueue_once(env):
    open_incident(env)
    [summary] = run(env)
    assert summary["new_incidents"] == 1 and summary["messages_created"] == 4
    # step 1: on-call (needs the Oncall API → the plan's creator, ada, at low, with a note)
    # and the whole team (optional, low)
    assert messages(env, 700) == [["2", "ada", "low"], ["3", "ada", "low"], ["3", "linus", "low"],
                                  ["3", "wei", "low"]]
    assert sql(env["db"], "SELECT current_step FROM incident WHERE id = 700") == [["1"]]
    note = sql(env["db"], "SELECT LEFT(body, 60) FROM message WHERE incident_id = 700 AND plan_notification_id = 2")
    assert note[0][0].startswith("You are receiving this as you created this plan")
    assert sql(env["db"], "SELECT COUNT(*) FROM message_changelog c JOIN message m ON m.id = c.message_id"
                          " WHERE m.incident_id = 700 AND c.change_type = 'target-change'") == [["1"]]
    envs = queued(env)  # each on the lane of its mode; the plan's tracking copy by email
    assert sorted(e["message_id"] for e in envs if e["kind"] == "message") == sorted(
        int(r[0]) for r in sql(env["db"], "SELECT id FROM message WHERE incident_id = 700"))
    assert [e for e in envs if e["kind"] == "tracking"] == [{"v": 1, "kind": "tracking", "incident_id": 700}]
    # a second run enqueues nothing again (markers are 'enqueued', not yet due)
    [summary] = run(env)
    assert summary["messages_enqueued"] == 0 and queued(env, "email") == []


def test_repeats_escalation_and_deactivation(env):
    open_incident(env)
    run(env)
    age(env, 700, 301)  # pn 2 waits 300 s between its 3 rounds
    [s] = run(env)
    assert s["repeats"] == 1 and s["escalations"] == 0
    age(env, 700, 700)  # pn 3 (once, wait 600) is exhausted → step 2; pn 2 repeats again
    [s] = run(env)
    assert s["escalations"] == 1
    assert sql(env["db"], "SELECT current_step FROM incident WHERE id = 700") == [["2"]]
    step2 = [m for m in messages(env, 700) if m[0] in ("4", "5")]
    assert ["4", "grace", "urgent"] in step2  # the team's manager
    assert {m[1] for m in step2 if m[0] == "5"} == {"ada", "grace", "linus"}  # the list
    # Not deactivated while final-step messages are unsent.
    age(env, 700, 1000)
    run(env)
    assert sql(env["db"], "SELECT active FROM incident WHERE id = 700") == [["1"]]
    # Send everything, finish the repeats, let the waits pass: deactivated.
    for _ in range(3):
        sql(env["db"], "UPDATE message SET sent = UTC_TIMESTAMP(), active = 0 WHERE incident_id = 700")
        age(env, 700, 1000)
        run(env)
    assert sql(env["db"], "SELECT active FROM incident WHERE id = 700") == [["0"]]


def test_claimed_incident_stops(env):
    open_incident(env)
    run(env)
    sql(env["db"], "UPDATE incident SET active = 0, owner_id = 1 WHERE id = 700;"
                   "UPDATE message SET active = 0 WHERE incident_id = 700;")
    age(env, 700, 2000)
    [s] = run(env)
    assert s["repeats"] == 0 and s["escalations"] == 0 and s["messages_created"] == 0
    assert sql(env["db"], "SELECT COUNT(*) FROM sender_enqueue WHERE state <> 'done'") == [["0"]]


def test_two_coordinators_at_once_do_the_work_once(env):
    for i in range(5):
        open_incident(env, 710 + i)
    results = []
    threads = [threading.Thread(target=lambda: results.extend(run(env, timeout_ms=3000)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    skipped = [r for r in results if "skipped" in r]
    worked = [r for r in results if "skipped" not in r]
    assert len(worked) >= 1
    assert sql(env["db"], "SELECT COUNT(*) FROM message WHERE incident_id BETWEEN 710 AND 714") == [["20"]]
    assert sum(r["new_incidents"] for r in worked) == 5
    envs = queued(env)
    assert len([e for e in envs if e["kind"] == "message"]) == 20
    assert sorted(e["incident_id"] for e in envs if e["kind"] == "tracking") == list(range(710, 715))
    print(f"{len(worked)} coordinator(s) worked, {len(skipped)} found the lease held")


def test_step_timeline_follows_the_plan(env):
    """Repeats come exactly `wait` apart, not earlier; the step escalates once the first of its
    notifications ran out and waited; repeats of step 1 go on after that, as in Iris."""
    open_incident(env)  # t = 0: pn 2 round 1 (wait 300, 3 rounds), pn 3 round 1 (wait 600, once)
    run(env)
    age(env, 700, 290)  # t = 290
    [s] = run(env)
    assert s["repeats"] == 0 and s["messages_created"] == 0
    age(env, 700, 11)  # t = 301: pn 2 round 2
    [s] = run(env)
    assert s["repeats"] == 1 and s["escalations"] == 0
    age(env, 700, 250)  # t = 551: nothing is due
    [s] = run(env)
    assert s["repeats"] == 0 and s["escalations"] == 0
    assert sql(env["db"], "SELECT plan_notification_id, rounds, state FROM sender_escalation"
                          " WHERE incident_id = 700 ORDER BY 1") == [["2", "2", "repeating"],
                                                                      ["3", "1", "exhausted"]]
    age(env, 700, 50)  # t = 601: pn 3 waited out → step 2; pn 2 round 3 (due at 601)
    [s] = run(env)
    assert s["escalations"] == 1 and s["repeats"] == 1 and s["messages_created"] == 5
    assert sql(env["db"], "SELECT current_step FROM incident WHERE id = 700") == [["2"]]
    assert [m[:2] for m in messages(env, 700)].count(["2", "ada"]) == 3


def test_claimed_incident_stops_everywhere(env):
    """A claim in the middle of step 2: no repeat, no deactivation work, no enqueue."""
    open_incident(env)
    run(env)
    age(env, 700, 700)
    run(env)
    sql(env["db"], "UPDATE incident SET active = 0, owner_id = 2 WHERE id = 700;"
                   "UPDATE message SET active = 0 WHERE incident_id = 700;")
    before = sql(env["db"], "SELECT COUNT(*) FROM message WHERE incident_id = 700")
    age(env, 700, 5000)
    [s] = run(env)
    assert sql(env["db"], "SELECT COUNT(*) FROM message WHERE incident_id = 700") == before
    assert s["messages_enqueued"] == 0
    assert sql(env["db"], "SELECT COUNT(*) FROM sender_escalation WHERE incident_id = 700"
                          " AND state <> 'finished'") == [["0"]]


def test_on_call_roles_come_from_the_oncall_api(env, oncall):
    open_incident(env)
    [s] = run(env)
    assert s["role_lookup_failures"] == 0
    # pn 2: oncall-primary of storage-oncall → grace (high); pn 3: the team's roster (low)
    assert messages(env, 700) == [["2", "grace", "high"], ["3", "ada", "low"],
                                  ["3", "linus", "low"], ["3", "wei", "low"]]
    paths = sorted(r["path"] for r in oncall.requests())
    assert paths == ["/api/v0/teams/storage-oncall/oncall/primary",
                     "/api/v0/teams/storage-oncall/rosters"]
    assert all(r["auth_ok"] for r in oncall.requests())
    age(env, 700, 700)
    run(env)  # step 2: the manager from Oncall, the mailing list from Iris's tables
    step2 = [m for m in messages(env, 700) if m[0] in ("4", "5")]
    assert ["4", "grace", "urgent"] in step2
    assert {m[1] for m in step2 if m[0] == "5"} == {"ada", "grace", "linus"}


def test_oncall_failure_pages_the_creator_with_the_reason(env, oncall):
    oncall.behave([{"status": 500, "body": "oncall is down"}], route="oncall")
    open_incident(env)
    [s] = run(env)
    assert s["role_lookup_failures"] == 1
    assert messages(env, 700)[0] == ["2", "ada", "low"]  # the plan's creator, at low
    body = sql(env["db"], "SELECT body FROM message WHERE incident_id = 700 AND plan_notification_id = 2")
    assert "can't resolve oncall-primary of storage-oncall at this time: " in body[0][0]
    assert "500" in body[0][0]
    [change] = sql(env["db"], "SELECT c.old, c.new, c.description FROM message_changelog c"
                              " JOIN message m ON m.id = c.message_id WHERE m.incident_id = 700"
                              " AND c.change_type = 'target-change'")
    assert change[0] == "oncall-primary|storage-oncall" and change[1] == "ada"
    assert "500" in change[2]
    # an unknown team (Oncall's 422) names nobody: the creator again, with Iris's default text
    oncall.remove_team("storage-oncall")
    age(env, 700, 301)
    run(env)
    assert messages(env, 700).count(["2", "ada", "low"]) == 2


def test_lookup_failure_with_nobody_to_fall_back_to_is_retried(env, oncall):
    sql(env["db"], "UPDATE target SET active = 0 WHERE id = 1")  # the creator, ada, has left
    oncall.behave([{"status": 503}], route="oncall")
    open_incident(env)
    [s] = run(env)
    assert s["role_lookup_failures"] == 1
    assert [m for m in messages(env, 700) if m[0] == "2"] == []
    [row] = sql(env["db"], "SELECT rounds, state, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), due_at),"
                           " last_error FROM sender_escalation WHERE plan_notification_id = 2")
    assert row[0] == "0" and row[1] == "repeating" and 50 <= int(row[2]) <= 61 and "503" in row[3]
    age(env, 700, 61)  # Oncall answers again: the round happens and counts
    run(env)
    assert [m for m in messages(env, 700) if m[0] == "2"] == [["2", "grace", "high"]]
    assert sql(env["db"], "SELECT rounds FROM sender_escalation WHERE plan_notification_id = 2") == [["1"]]


def test_dynamic_plan_takes_its_targets_from_the_incident(env, oncall):
    sql(env["db"], "INSERT INTO incident (id, plan_id, created, context, application_id,"
                   " current_step, active) VALUES (720, 5, UTC_TIMESTAMP(), '{}', 1, 0, 1),"
                   " (721, 5, UTC_TIMESTAMP(), '{}', 1, 0, 1);"
                   "INSERT INTO dynamic_plan_map (incident_id, dynamic_index, role_id, target_id)"
                   " VALUES (720, 0, 4, 10), (720, 1, 1, 3), (721, 0, 1, 4);")
    run(env)
    assert messages(env, 720) == [["9", "grace", "urgent"], ["10", "linus", "medium"]]
    # 721 names nobody for slot 1: its creator is paged, saying so
    assert messages(env, 721) == [["9", "wei", "urgent"], ["10", "ada", "low"]]
    body = sql(env["db"], "SELECT body FROM message WHERE incident_id = 721 AND plan_notification_id = 10")
    assert "names no target for this dynamic slot" in body[0][0]
    assert "can't resolve dynamic target 1 of this incident at this time" in body[0][0]
    assert sql(env["db"], "SELECT c.old, c.new FROM message_changelog c JOIN message m"
                          " ON m.id = c.message_id WHERE m.incident_id = 721"
                          " AND c.change_type = 'target-change'") == [
        ["dynamic target 1 of this incident", "ada"]]


def test_stuck_step_moves_on(env):
    """A step whose only notification is optional and names nobody: Iris never escalated
    such an incident; here the round counts and the plan goes on."""
    sql(env["db"], "INSERT INTO target (id, name, type_id, active) VALUES (30, 'empty-team', 2, 1);"
                   "INSERT INTO plan (id, name, created, user_id, step_count, threshold_window,"
                   " threshold_count, aggregation_window, aggregation_reset) VALUES"
                   " (60, 'stuck', UTC_TIMESTAMP(), 1, 2, 900, 10, 300, 300);"
                   "INSERT INTO plan_active (name, plan_id) VALUES ('stuck', 60);"
                   "INSERT INTO plan_notification (id, plan_id, step, template, target_id, optional,"
                   " role_id, priority_id, `repeat`, wait) VALUES"
                   " (60, 60, 1, 'disk-alert', 30, 1, 3, 3, 0, 120),"
                   " (61, 60, 2, 'disk-alert', 3, 0, 1, 3, 0, 0);"
                   "INSERT INTO plan (id, name, created, user_id, step_count, threshold_window,"
                   " threshold_count, aggregation_window, aggregation_reset) VALUES"
                   " (61, 'empty', UTC_TIMESTAMP(), 1, 1, 900, 10, 300, 300);"
                   "INSERT INTO incident (id, plan_id, created, context, application_id,"
                   " current_step, active) VALUES (730, 60, UTC_TIMESTAMP(), '{}', 1, 0, 1),"
                   " (731, 61, UTC_TIMESTAMP(), '{}', 1, 0, 1);")  # plan 61 has no notifications
    [s] = run(env)
    assert messages(env, 730) == []
    assert sql(env["db"], "SELECT active FROM incident WHERE id = 731") == [["0"]]  # invalid plan
    age(env, 730, 121)
    [s] = run(env)
    assert s["escalations"] == 1 and messages(env, 730) == [["61", "linus", "medium"]]


def test_aggregation_kicks_in_flushes_and_resets(env):
    """job-storm (plan 3): more than 3 messages for one key within 120 s start aggregation;
    held messages go out as one batch after 60 s; 300 quiet seconds end it."""
    def storm(first, n):
        sql(env["db"], "INSERT INTO incident (id, plan_id, created, context, application_id,"
                       " current_step, active) VALUES " +
            ",".join(f"({first + i}, 3, UTC_TIMESTAMP(), '{{\"job\": \"j{i}\"}}', 3, 0, 1)"
                     for i in range(n)))

    def linus_medium():
        return sql(env["db"], "SELECT e.message_id, e.state, IFNULL(e.batch_id, '') FROM sender_enqueue e"
                              " WHERE e.plan_id = 3 AND e.target_id = 3 AND e.priority_id = 3"
                              " ORDER BY e.message_id")

    storm(740, 6)
    [s] = run(env)
    assert s["aggregations_started"] == 2  # (3, batchjobs, medium, linus) and (…, high, grace)
    rows = linus_medium()
    assert [r[1] for r in rows] == ["enqueued"] * 3 + ["held"] * 3
    assert sql(env["db"], "SELECT description FROM message_changelog WHERE change_type = 'sent-change'"
                          " ORDER BY id") [-2:] == [["Aggregated with key (3, batchjobs, high, grace)"],
                                                    ["Aggregated with key (3, batchjobs, medium, linus)"]]
    envs = queued(env)
    assert len([e for e in envs if e["kind"] == "message"]) == 6  # three each, both on slack
    # a claim before the flush: that member is left out
    sql(env["db"], f"UPDATE incident SET active = 0 WHERE id = 744;"
                   f"UPDATE message SET active = 0 WHERE incident_id = 744;")
    sql(env["db"], "UPDATE sender_aggregation SET next_flush_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND")
    [s] = run(env)
    assert s["batches_flushed"] == 2
    batches = [e for e in queued(env) if e["kind"] == "batch"]
    held = [int(r[0]) for r in rows if r[1] == "held"]
    linus_batch = [b for b in batches if set(b["message_ids"]) <= set(held)]
    assert len(linus_batch) == 1 and len(linus_batch[0]["message_ids"]) == 2
    assert all(len(b["batch_id"]) == 32 for b in batches)
    # still aggregating: a new message is held
    storm(760, 1)
    [s] = run(env)
    assert s["messages_held"] == 2 and s["messages_enqueued"] == 0
    # 300 quiet seconds after the last message and a flush: aggregation ends
    sql(env["db"], "UPDATE sender_aggregation SET next_flush_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND,"
                   " last_message_at = last_message_at - INTERVAL 301 SECOND;"
                   "UPDATE sender_enqueue SET created_at = created_at - INTERVAL 400 SECOND;")
    run(env)
    assert sql(env["db"], "SELECT COUNT(*) FROM sender_aggregation WHERE aggregating_since IS NOT NULL") == [["0"]]
    queued(env)
    storm(770, 1)
    [s] = run(env)
    assert s["messages_held"] == 0 and s["messages_enqueued"] == 2  # sent on their own again


def test_housekeeping_prunes_on_its_schedule(env):
    sql(env["db"], "INSERT INTO message_changelog (date, message_id, change_type, old, new, description)"
                   " VALUES (UTC_TIMESTAMP() - INTERVAL 100 DAY, 1, 'mode-change', 'sms', 'email', 'old'),"
                   " (UTC_TIMESTAMP() - INTERVAL 10 DAY, 1, 'mode-change', 'sms', 'email', 'recent');"
                   "INSERT INTO sender_enqueue (message_id, state, application_id, priority_id, target_id,"
                   " done_at) VALUES (2, 'done', 1, 2, 1, UTC_TIMESTAMP(3) - INTERVAL 40 DAY),"
                   " (3, 'done', 1, 2, 1, UTC_TIMESTAMP(3) - INTERVAL 1 DAY);")
    env["cfg"]["housekeeping"] = {"every_seconds": 3600}
    run(env)
    assert sql(env["db"], "SELECT description FROM message_changelog WHERE message_id = 1") == [["recent"]]
    assert sql(env["db"], "SELECT message_id FROM sender_enqueue WHERE message_id IN (2, 3)") == [["3"]]
    # not again within the hour, whichever coordinator runs
    sql(env["db"], "INSERT INTO message_changelog (date, message_id, change_type, old, new, description)"
                   " VALUES (UTC_TIMESTAMP() - INTERVAL 100 DAY, 1, 'mode-change', 'sms', 'email', 'old')")
    run(env)
    assert len(sql(env["db"], "SELECT 1 FROM message_changelog WHERE message_id = 1")) == 2


def test_incidents_escalated_before_are_adopted(env):
    """An incident Iris's old sender escalated (messages, no coordinator bookkeeping) carries
    on: its rounds and waits are read from its messages."""
    sql(env["db"], "INSERT INTO incident (id, plan_id, created, context, application_id,"
                   " current_step, active) VALUES (790, 2, UTC_TIMESTAMP() - INTERVAL 700 SECOND,"
                   " '{}', 1, 1, 1);"
                   "INSERT INTO message (created, sent, application_id, target_id, priority_id, plan_id,"
                   " plan_notification_id, incident_id, active, body) VALUES"
                   " (UTC_TIMESTAMP() - INTERVAL 700 SECOND, UTC_TIMESTAMP() - INTERVAL 699 SECOND,"
                   "  1, 2, 2, 2, 2, 790, 0, ''),"
                   " (UTC_TIMESTAMP() - INTERVAL 700 SECOND, UTC_TIMESTAMP() - INTERVAL 699 SECOND,"
                   "  1, 1, 4, 2, 3, 790, 0, '');")
    [s] = run(env)
    assert s["adopted_incidents"] == 1
    assert s["repeats"] == 1 and s["escalations"] == 1  # pn 2 round 2; pn 3 ran out → step 2
    assert sql(env["db"], "SELECT current_step FROM incident WHERE id = 790") == [["2"]]


def test_database_restart_in_a_burst_loses_and_duplicates_nothing(env):
    from private_mariadb import PrivateMariaDB
    with PrivateMariaDB() as pdb:
        name = "iris_coord_restart"
        pdb.load_iris(name)
        # no aggregation in this burst (every message goes out on its own)
        pdb.sql(name, "UPDATE plan SET threshold_count = 100000 WHERE id = 2")
        pdb.sql(name, "INSERT INTO incident (id, plan_id, created, context, application_id,"
                      " current_step, active) VALUES " +
                ",".join(f"({900 + i}, 2, UTC_TIMESTAMP(), '{{}}', 1, 0, 1)" for i in range(150)))
        cfg = dict(env["cfg"], db={"host": pdb.host, "port": pdb.port, "user": "root",
                                   "database": name, "connect_timeout": 2})
        cfg["coordinator"] = {"tick_seconds": 1, "margin_ms": 200, "slice_ms": 100,
                              "lease_seconds": 10}
        env_vars = stack.function_env(cfg)
        with FakeRuntime() as rt:
            first = rt.add_event({"source": "aws.scheduler"}, timeout_ms=6000)
            proc = rt.start_bootstrap(COORD, env_vars, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and int(pdb.sql(name, "SELECT COUNT(*) FROM message")[0][0]) < 60:
                time.sleep(0.02)
            pdb.kill()  # in the middle of the burst
            time.sleep(2)
            pdb.start()
            rt.wait_results([first], timeout=60)
            # the next minute's invocation, in the same warm sandbox, finishes the burst
            second = rt.add_event({"source": "aws.scheduler"}, timeout_ms=20000)
            rt.wait_results([second], timeout=60)
            rt.finish()
            _, log = proc.communicate(timeout=60)
        assert proc.returncode == 0, log[-3000:]
        assert rt.results[first]["kind"] == "error", rt.results[first]
        assert "Iris.ECONN" in rt.results[first]["body"].decode()
        assert rt.results[second]["kind"] == "response", log[-3000:]
        per_incident = pdb.sql(name, "SELECT COUNT(*) c, COUNT(DISTINCT plan_notification_id, target_id)"
                                     " FROM message WHERE incident_id >= 900 GROUP BY incident_id")
        assert len(per_incident) == 150 and all(r == ["4", "4"] for r in per_incident), log[-3000:]
        assert pdb.sql(name, "SELECT COUNT(*) FROM incident WHERE id >= 900 AND current_step = 1") == [["150"]]
        assert pdb.sql(name, "SELECT COUNT(*), SUM(state = 'enqueued') FROM sender_enqueue") == [["600", "600"]], pdb.sql(name, "SELECT state, lane IS NULL, next_attempt_at > UTC_TIMESTAMP(3), attempts, LEFT(last_error, 80), COUNT(*) FROM sender_enqueue GROUP BY 1, 2, 3, 4, 5")
        assert pdb.sql(name, "SELECT COUNT(*), SUM(state = 'enqueued') FROM sender_tracking") == [["150", "150"]]
        ids = [e["message_id"] for e in queued(env) if e["kind"] == "message"]
        assert set(ids) == {int(r[0]) for r in pdb.sql(name, "SELECT id FROM message WHERE incident_id >= 900")}
        print(f"{len(ids) - len(set(ids))} envelope(s) sent twice (harmless: the sender's claim)")


def test_pipelined_pages_send_every_entry_once(env):
    """The enqueue pass reads the next page while the previous one is in flight, leaving out
    the entries still in flight (their markers are marked only once SQS answered): with pages
    of 25 entries, 60 incidents' 240 messages and 60 tracking copies go out in ten
    overlapping pages, each envelope exactly once."""
    sql(env["db"], "UPDATE plan SET threshold_count = 100000 WHERE id = 2;"
                   "INSERT INTO incident (id, plan_id, created, context, application_id,"
                   " current_step, active) VALUES " +
        ",".join(f"({1200 + i}, 2, UTC_TIMESTAMP(), '{{}}', 1, 0, 1)" for i in range(60)))
    env["cfg"]["coordinator"] = dict(env["cfg"]["coordinator"], enqueue_page=25, enqueue_parallel=3)
    logs = []
    [summary] = run(env, timeout_ms=20000, logs=logs)
    assert summary["new_incidents"] == 60 and summary["messages_created"] == 240, summary
    assert summary["messages_enqueued"] == 300 and summary["enqueue_failures"] == 0, summary
    assert sql(env["db"], "SELECT COUNT(*), SUM(state = 'enqueued'), MAX(attempts)"
                          " FROM sender_enqueue") == [["240", "240", "1"]]
    assert sql(env["db"], "SELECT COUNT(*), SUM(state = 'enqueued'), MAX(attempts)"
                          " FROM sender_tracking") == [["60", "60", "1"]]
    envs = queued(env)
    ids = [e["message_id"] for e in envs if e["kind"] == "message"]
    assert sorted(ids) == sorted(int(r[0]) for r in sql(env["db"], "SELECT id FROM message"
                                                                   " WHERE incident_id >= 1200"))
    tracking = [e["incident_id"] for e in envs if e["kind"] == "tracking"]
    assert sorted(tracking) == list(range(1200, 1260))
    # the pass went page after page (the tick lines count them)
    pages = sum(int(m.group(1)) for line in logs
                for m in [re.search(r"in (\d+) page\(s\)", line.get("msg", ""))] if m)
    assert pages >= 240 // 25, [line.get("msg") for line in logs]  # (copies ride along)


def test_enqueued_but_never_settled_is_enqueued_again(env):
    """An envelope lost between SQS and the sender (or a sender that never finished): after
    redrive_seconds the marker is due again and the message is enqueued once more."""
    env["cfg"]["coordinator"]["redrive_seconds"] = 10
    open_incident(env)
    run(env)
    first = queued(env)
    assert len([e for e in first if e["kind"] == "message"]) == 4
    [s] = run(env)
    assert s["messages_enqueued"] == 0  # not due yet
    sql(env["db"], "UPDATE sender_enqueue SET next_attempt_at = next_attempt_at - INTERVAL 11 SECOND;"
                   "UPDATE sender_tracking SET next_attempt_at = next_attempt_at - INTERVAL 11 SECOND;")
    [s] = run(env)
    assert s["messages_enqueued"] == 5  # the four messages and the tracking copy
    again = queued(env)
    assert sorted(json.dumps(e, sort_keys=True) for e in again) == \
        sorted(json.dumps(e, sort_keys=True) for e in first)
    assert sql(env["db"], "SELECT DISTINCT attempts FROM sender_enqueue") == [["2"]]
    # once the sender settled them, nothing more
    sql(env["db"], "UPDATE message SET sent = UTC_TIMESTAMP(), active = 0 WHERE incident_id = 700;"
                   "UPDATE sender_enqueue SET next_attempt_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND;")
    [s] = run(env)
    assert s["messages_enqueued"] <= 1 and [e for e in queued(env) if e["kind"] == "message"] == []


def fail_next(env, table, event, times):
    """Make the next `times` `event`s (INSERT/UPDATE) on `table` fail as MySQL reports a
    deadlock (1213), through a trigger; the countdown lives in a MEMORY table, which a rollback
    does not undo."""
    sql(env["db"], "CREATE TABLE IF NOT EXISTS fail_left (n INT NOT NULL) ENGINE=MEMORY;"
                   f"DELETE FROM fail_left; INSERT INTO fail_left VALUES ({times});"
                   f"DROP TRIGGER IF EXISTS fail_{table};\n"
                   "DELIMITER //\n"
                   f"CREATE TRIGGER fail_{table} BEFORE {event} ON {table} FOR EACH ROW BEGIN"
                   " IF (SELECT n FROM fail_left) > 0 THEN UPDATE fail_left SET n = n - 1;"
                   " SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213,"
                   " MESSAGE_TEXT = 'Deadlock found when trying to get lock (test)'; END IF; END//\n"
                   "DELIMITER ;\n")


def test_deadlocked_escalation_is_replayed(env):
    """A transaction MySQL rolls back as a deadlock victim is replayed whole: the incident gets
    its step once, with its messages and markers once."""
    open_incident(env)
    fail_next(env, "sender_escalation", "INSERT", 2)
    logs = []
    [s] = run(env, logs=logs)
    assert s["new_incidents"] == 1 and s["failed_incidents"] == 0 and s["failed_ticks"] == 0, s
    assert sql(env["db"], "SELECT n FROM fail_left") == [["0"]]
    assert len(messages(env, 700)) == 4
    assert sql(env["db"], "SELECT COUNT(*) FROM sender_enqueue") == [["4"]]
    assert sum("replaying it" in e.get("msg", "") for e in logs) == 2


def test_failed_tick_does_not_end_the_invocation(env):
    """A tick that fails after the replays (here: the enqueue pass's bookkeeping, deadlocked) is
    logged; the invocation goes on with the next tick, which does what is still due."""
    open_incident(env)
    fail_next(env, "sender_enqueue", "UPDATE", 1)
    logs = []
    [s] = run(env, timeout_ms=2500, logs=logs)
    assert s["failed_ticks"] == 1 and s["ticks"] >= 2, s
    assert any("going on with the next tick" in e.get("msg", "") for e in logs)
    assert sql(env["db"], "SELECT COUNT(*), SUM(state = 'enqueued') FROM sender_enqueue") == [["4", "4"]]
    # The failed tick's envelopes may have reached SQS already; the next tick sends them again
    # (the sender's claim absorbs the copy), and none is missing.
    ids = {e["message_id"] for e in queued(env) if e["kind"] == "message"}
    assert ids == {int(r[0]) for r in sql(env["db"], "SELECT id FROM message WHERE incident_id = 700")}


def test_new_incident_and_adoption_checks_use_indexes(env):
    """A tick's search for new incidents reads only incidents on step 0 (migration 0011), and
    adoption starts from the mark a complete pass left (migration 0012)."""
    open_incident(env)
    run(env)
    top = sql(env["db"], "SELECT MAX(id) FROM incident")[0][0]
    assert sql(env["db"], "SELECT value FROM sender_mark WHERE name = 'adopted_through'") == [[top]]
    # many incidents under way, so the plan is the one a busy Iris would get
    sql(env["db"], "INSERT INTO incident (id, plan_id, created, context, application_id,"
                   " current_step, active) VALUES " +
        ",".join(f"({5000 + i}, 2, UTC_TIMESTAMP(), '{{}}', 1, 1, 1)" for i in range(3000)) +
        "; ANALYZE TABLE incident;")
    plan = sql(env["db"], "EXPLAIN SELECT i.id, i.plan_id, i.application_id, a.name FROM incident i"
                          " JOIN application a ON a.id = i.application_id WHERE i.current_step = 0"
                          " AND i.active = 1 AND i.id > 0 ORDER BY i.id LIMIT 500")
    assert any(r[2] == "i" and "ix_sender_incident_step" in r[5] for r in plan), plan


# ---- the local loop (iris-coordinator --loop) ---------------------------------------------

def start_loop(env, tmp_path, name, *args):
    """iris-coordinator --loop as a process of its own; stderr (its log) to tmp_path/name.log."""
    log = open(tmp_path / f"{name}.log", "w")
    return subprocess.Popen([COORD, "--loop", *args], stdout=subprocess.PIPE, stderr=log, text=True,
                            env={**os.environ, **stack.function_env(env["cfg"])})


def stop_loop(proc, timeout=20):
    """SIGTERM, then the loop's summary (the last line it printed); asserts a clean exit."""
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return json.loads(out.splitlines()[-1])


def lease_owner(env):
    rows = sql(env["db"], "SELECT owner FROM sender_lease WHERE name = 'coordinator'", nulls_as_none=True)
    return rows[0][0] if rows else None


def test_loop_on_a_compressed_clock_walks_a_plan_in_seconds(env, tmp_path):
    """Plan disk-escalation moves to step 2 after step 1's 10-minute wait: at --clock-scale 60
    both steps' messages are on the queues within seconds; SIGTERM ends the loop after its
    tick, with the lease released."""
    proc = start_loop(env, tmp_path, "loop", "--clock-scale", "60")
    try:
        assert stack.wait_for(lambda: lease_owner(env) is not None, timeout=15)
        open_incident(env)
        t0 = time.monotonic()
        enqueued = set()

        def both_steps_enqueued():
            enqueued.update(e["message_id"] for e in queued(env) if e["kind"] == "message")
            steps = {step: {int(r[0]) for r in sql(env["db"], "SELECT id FROM message WHERE"
                                                    f" incident_id = 700 AND plan_notification_id IN {pns}")}
                     for step, pns in ((1, "(2, 3)"), (2, "(4, 5)"))}
            return all(steps.values()) and steps[1] | steps[2] <= enqueued
        assert stack.wait_for(both_steps_enqueued, timeout=40, interval=0.5)
        took = time.monotonic() - t0
    finally:
        summary = stop_loop(proc)
    log = (tmp_path / "loop.log").read_text()
    assert took < 30, f"step 2 (600 s of plan time) took {took:.1f} s at x60"
    assert sql(env["db"], "SELECT current_step, active FROM incident WHERE id = 700") == [["2", "1"]]
    assert summary["clock_scale"] == 60 and summary["escalations"] == 1 and summary["failed_ticks"] == 0
    assert "COMPRESSED CLOCK" in log and "lease released" in log
    assert lease_owner(env) is None  # released, not left to expire
    # The lease lives on real time: released now, not at the compressed clock's time (minutes ahead).
    assert sql(env["db"], "SELECT expires_at <= UTC_TIMESTAMP(3) FROM sender_lease WHERE name = 'coordinator'") == [["1"]]
    print(f"step 2 enqueued {took:.1f} s after the incident opened")


def test_second_loop_waits_for_the_lease_and_takes_over(env, tmp_path):
    """One coordinator at a time holds for loops too: the second waits while the first holds
    the lease, takes it when the first stops, and --ticks ends it on its own."""
    first = start_loop(env, tmp_path, "first")
    second = None
    try:
        assert stack.wait_for(lambda: lease_owner(env) is not None, timeout=15)
        owner = lease_owner(env)
        second = start_loop(env, tmp_path, "second", "--ticks", "2")
        assert stack.wait_for(lambda: "waiting for it" in (tmp_path / "second.log").read_text(), timeout=15)
        open_incident(env)
        assert stack.wait_for(lambda: sql(env["db"], "SELECT current_step FROM incident WHERE id = 700") == [["1"]],
                              timeout=15)
        assert lease_owner(env) == owner
        first_summary = stop_loop(first)
        out, _ = second.communicate(timeout=30)  # takes the lease over, ticks twice, stops
        assert second.returncode == 0, out
        second_summary = json.loads(out.splitlines()[-1])
    finally:
        for p in (first, second):
            if p and p.poll() is None:
                p.kill()
                p.wait()
    assert first_summary["new_incidents"] == 1 and second_summary["ticks"] == 2
    assert second_summary["new_incidents"] == 0 and second_summary["lease_token"] > first_summary["lease_token"]
    assert len(messages(env, 700)) == 4 and lease_owner(env) is None


@pytest.mark.parametrize("args, why", [
    (["--clock-scale", "60"], "for the local loop only"),
    (["--ticks", "3"], "for the local loop only"),
    (["--loop", "--clock-scale", "0"], "whole number from 1 to 10000"),
    (["--loop", "--clock-scale", "x"], "whole number from 1 to 10000"),
    (["--loop", "--bogus"], "unknown argument --bogus"),
])
def test_loop_arguments_are_checked(args, why):
    r = subprocess.run([COORD, *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and why in r.stderr, r.stderr


def test_compressed_clock_refused_inside_lambda():
    r = subprocess.run([COORD, "--loop", "--clock-scale", "60"], capture_output=True, text=True, timeout=30,
                       env={**os.environ, "AWS_LAMBDA_FUNCTION_NAME": "iris-coordinator"})
    assert r.returncode == 2 and "refused inside a Lambda function" in r.stderr, r.stderr


def test_help_documents_the_loop():
    r = subprocess.run([COORD, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for word in ("--loop", "--clock-scale N", "--ticks K", "SIGINT/SIGTERM", "TEST database"):
        assert word in r.stdout
