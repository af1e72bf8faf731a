"""The sender against the review's findings (issue #14), through the real bootstrap, MariaDB,
moto and the test plugin tests/plugins/misbehave.c next to the dummy plugin: a plugin's
retry-after is bounded whatever it says; a rate-limited vendor counts against
sender.max_attempts; a retry is not logged as a takeover."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import irisstack as stack  # noqa: E402
from test_sender import BOOTSTRAP, env, event, invoke, msg, sent, sql  # noqa: E402,F401
from fake_runtime import FakeRuntime  # noqa: E402

PLUGINS = os.path.join(stack.BUILD, "tests", "plugins", "sender")


def config(env, **vendors):
    """env's configuration with plugins from the test directory; vendors: mode → options of
    the misbehave plugin (modes not named keep the dummy plugin)."""
    cfg = json.loads(json.dumps(env["config"]))
    cfg["plugins"]["dir"] = PLUGINS
    for mode, opts in vendors.items():
        cfg["vendors"][mode] = [{"plugin": "misbehave", "name": f"misbehave-{mode}",
                                 "config": {k: str(v) for k, v in opts.items()}}]
    return cfg


def run(env, cfg, *events):
    run_env = dict(env, config=cfg)
    out = invoke(run_env, *events)
    env["stdout"] = run_env["stdout"]  # the EMF metric lines
    return out


def page(env, ids, target=1, mode="sms", destination="+15550100101"):
    """Messages to ada with their own mode and destination (no priority chain, no
    reprioritisation: ada has a rule in the demo data)."""
    sql(env["db"], "".join(
        f"INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,"
        f" plan_notification_id, incident_id, active, body, mode_id, destination)"
        f" SELECT {i}, UTC_TIMESTAMP(), 1, {target}, 2, 2, 2, 500, 1, '', id, '{destination}'"
        f" FROM mode WHERE name = '{mode}';" for i in ids))


def test_extreme_retry_after_is_bounded(env):
    """A maximal retry-after overflowed (UBSan abort); decades-away values left neither the page
    nor its fallback out; others wrapped into the past. Every one becomes a wait within
    (0, sender.backoff_max_seconds]."""
    backoff_max = 900
    for k, value in enumerate([2 ** 63 - 1, 10 ** 15, 2 ** 45, 4_000_000_000_000, -5, 0]):
        mid = 9500 + k
        page(env, [mid])
        res, log = run(env, config(env, sms={"retry_after_ms": value}), event(env, "sms", [msg(mid)]))
        assert len(res[0]["batchItemFailures"]) == 1, (value, log)
        [[state, wait]] = sql(env["db"], "SELECT state, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(3),"
                                         " next_attempt_at) FROM sender_claim"
                                         f" WHERE claim_key = 'm:{mid}'")
        assert state == "failed" and 0 <= int(wait) <= backoff_max, (value, wait, log)


def test_rate_limited_attempts_count_against_max_attempts(env):
    """On a 429 the vendor was tried again and again beyond sender.max_attempts (2 here); now
    the second rate-limited attempt is the last, and Iris's email fallback takes the page. The
    retry is logged as a retry, not as a takeover."""
    page(env, [9510])
    cfg = config(env, sms={"retry_after_ms": 1000})
    res, log = run(env, cfg, event(env, "sms", [msg(9510)]))
    assert len(res[0]["batchItemFailures"]) == 1
    assert sql(env["db"], "SELECT state, attempts FROM sender_claim WHERE claim_key = 'm:9510'") == [
        ["failed", "1"]]
    sql(env["db"], "UPDATE sender_claim SET next_attempt_at = UTC_TIMESTAMP(3) WHERE claim_key = 'm:9510'")
    res, log = run(env, cfg, event(env, "sms", [msg(9510)]))
    assert res == [{"batchItemFailures": []}], log
    [rec] = [r for r in sent(env) if r["message_id"] == "9510"]
    assert rec["mode"] == "email"
    assert sql(env["db"], "SELECT state, attempts FROM sender_claim WHERE claim_key = 'm:9510'") == [
        ["sent", "3"]]  # two by sms, the fallback by email
    assert "taken over" not in log and "taken again for its retry" in log


def dead_letters(env):
    got = []
    while True:
        batch = env["sqs"].receive_message(QueueUrl=env["queues"]["dead_letter"], MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1, MessageAttributeNames=["All"]).get("Messages", [])
        if not batch:
            return got
        got += [m["MessageAttributes"]["reason"]["StringValue"] for m in batch]


def test_batches_the_coordinator_cannot_have_made_are_refused(env):
    """[9520, 9520, 9520] sent one page titled "3 messages"; a batch mixing two targets paged
    only the first and recorded the other's message as sent to the first one's phone. Both are
    refused: nothing sent, the claim failed for good with the reason, the record dead-lettered
    with it, and a redelivery is acknowledged without sending."""
    sql(env["db"], "".join(
        f"INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,"
        f" plan_notification_id, incident_id, active, body) VALUES ({i}, UTC_TIMESTAMP(), 1, {t}, 2,"
        f" 2, 2, 500, 1, '');" for i, t in ((9520, 1), (9521, 1), (9522, 2))))
    dup = {"v": 1, "kind": "batch", "batch_id": "a" * 32, "message_ids": [9520, 9520, 9520]}
    mixed = {"v": 1, "kind": "batch", "batch_id": "b" * 32, "message_ids": [9521, 9522]}
    res, log = run(env, env["config"], event(env, "sms", [dup, mixed]), event(env, "sms", [dup, mixed]))
    assert res == [{"batchItemFailures": []}] * 2, log
    assert not [r for r in sent(env) if r["message_id"] in ("9520", "9521", "9522")]
    reasons = dead_letters(env)
    assert f"batch {'a' * 32} refused: batch lists message 9520 more than once" in reasons
    assert any(r.startswith(f"batch {'b' * 32} refused: batch mixes messages of different targets")
               for r in reasons), reasons
    assert sql(env["db"], "SELECT claim_key, state, final FROM sender_claim WHERE kind = 'batch'"
                          " AND claim_key IN ('b:" + "a" * 32 + "', 'b:" + "b" * 32 + "') ORDER BY 1") == [
        ["b:" + "a" * 32, "failed", "1"], ["b:" + "b" * 32, "failed", "1"]]
    assert sql(env["db"], "SELECT COUNT(*) FROM message WHERE id IN (9520, 9521, 9522) AND sent IS NULL"
                          " AND active = 1") == [["3"]]


def test_a_reused_notification_id_with_other_content_is_refused(env):
    """A reused notification_id with a changed target was paged and a changed body ignored (the
    payload hash was stored, never compared). Now the second is refused: nothing sent, the
    reason dead-lettered and counted on the first notification; the same content again is a
    plain redelivery."""
    nid = "reuse-" + os.urandom(4).hex()
    first = {"v": 1, "kind": "notification", "notification_id": nid, "application": "Autoalerts",
             "target": "ada", "role": "user", "mode": "email", "subject": "s", "body": "one"}
    other = dict(first, target="linus", body="two")
    res, log = run(env, env["config"], event(env, "email", [first]), event(env, "email", [other]),
                   event(env, "email", [first]))
    assert res == [{"batchItemFailures": []}] * 3, log
    pages = [r for r in sent(env) if r["message_id"] == nid]
    assert [(p["destinations"], p["body"]) for p in pages] == [(["ada@example.com"], "one")]
    reasons = dead_letters(env)
    assert any(r.startswith(f"notification_id {nid} was already used for a different notification")
               for r in reasons), reasons
    [[conflicts, last]] = sql(env["db"], "SELECT conflicts, last_conflict FROM sender_notification"
                                         f" WHERE id = '{nid}'")
    assert conflicts == "1" and "refused, nothing sent" in last


def test_records_are_matched_to_queues_by_full_arn(env):
    """Queues were matched by name only, a record from an unconfigured queue lost its backoff,
    and one without messageId was acknowledged silently. Now: the same queue name in another
    account or region is no configured queue (the record is left on its queue, loudly); a
    record without messageId makes the whole batch fail (an empty itemIdentifier), so it is
    retried rather than lost."""
    page(env, [9530, 9531, 9532])
    ev = event(env, "sms", [msg(9530), msg(9531), msg(9532)])
    ours = ev["Records"][0]["eventSourceARN"]
    ev["Records"][1]["eventSourceARN"] = ours.replace("123456789012", "999999999999")
    ev["Records"][2]["eventSourceARN"] = ours.replace("us-east-1", "eu-west-1")
    res, log = run(env, env["config"], ev)
    assert res[0]["batchItemFailures"] == [{"itemIdentifier": r["messageId"]} for r in ev["Records"][1:]]
    assert "which is no configured queue" in log
    assert {r["message_id"] for r in sent(env)} & {"9530", "9531", "9532"} == {"9530"}
    anonymous = event(env, "sms", [msg(9531)])
    del anonymous["Records"][0]["messageId"]
    res, log = run(env, env["config"], anonymous)
    assert res[0]["batchItemFailures"] == [{"itemIdentifier": ""}]
    assert "has no messageId" in log


def invoke_until(env, cfg, *timed_events):
    """Like invoke(), for (event, ms) pairs: each event's deadline ms after it is queued;
    returns the answers and the log."""
    with FakeRuntime() as rt:
        ids = [rt.add_event(e, timeout_ms=ms) for e, ms in timed_events]
        proc = rt.run_bootstrap(BOOTSTRAP, env=stack.function_env(cfg))
        assert proc.returncode == 0, proc.err
        return [rt.results[i]["json"] for i in ids], proc.err


def test_a_hung_plugin_is_stopped_within_the_deadline(env):
    """A batch ran 4.6 s against a 1 s deadline and a hung plugin was never stopped. Now the
    hung call is stopped before the deadline, recorded as a retryable failure, the records not
    started are batch item failures with no claim left behind, and the process goes on."""
    page(env, [9540, 9541, 9542])
    page(env, [9543], mode="email", destination="ada@example.com")
    cfg = config(env, sms={"hang": 1})
    cfg["sender"]["deadline_margin_ms"] = 1000
    cfg["sender"]["vendor_concurrency"] = 1  # one call at a time: the others are not started
    ev = event(env, "sms", [msg(9540), msg(9541), msg(9542)])
    t0 = time.monotonic()
    (res, after), log = invoke_until(env, cfg, (ev, 4000), (event(env, "email", [msg(9543)]), 60000))
    assert time.monotonic() - t0 < 4 + 2  # the first answer came before its deadline
    assert sorted(f["itemIdentifier"] for f in res["batchItemFailures"]) == sorted(
        r["messageId"] for r in ev["Records"])
    assert after == {"batchItemFailures": []}
    assert "9543" in {r["message_id"] for r in sent(env)}
    [[state, final, error]] = sql(env["db"], "SELECT state, final, last_error FROM sender_claim"
                                             " WHERE claim_key = 'm:9540'")
    assert state == "failed" and final == "0" and "did not answer within" in error
    # nothing left in 'claimed' or 'sending' for a lease to run out on
    assert sql(env["db"], "SELECT claim_key, state FROM sender_claim WHERE claim_key IN"
                          " ('m:9541', 'm:9542') AND state IN ('claimed', 'sending')") == []
    assert "not started: the invocation's deadline" in log


def test_hung_calls_made_together_are_all_stopped_within_the_deadline(env):
    """The batch's calls run at once (sender.vendor_concurrency helpers): three hung calls
    are each stopped before the deadline and recorded as retryable failures, together."""
    page(env, [9547, 9548, 9549])
    cfg = config(env, sms={"hang": 1})
    cfg["sender"]["deadline_margin_ms"] = 1000
    cfg["sender"]["vendor_concurrency"] = 4
    ev = event(env, "sms", [msg(9547), msg(9548), msg(9549)])
    t0 = time.monotonic()
    (res,), log = invoke_until(env, cfg, (ev, 4000))
    assert time.monotonic() - t0 < 4 + 2
    assert sorted(f["itemIdentifier"] for f in res["batchItemFailures"]) == sorted(
        r["messageId"] for r in ev["Records"])
    rows = sql(env["db"], "SELECT claim_key, state, final, last_error FROM sender_claim"
                          " WHERE claim_key IN ('m:9547', 'm:9548', 'm:9549') ORDER BY 1")
    assert [r[:3] for r in rows] == [[k, "failed", "0"] for k in ("m:9547", "m:9548", "m:9549")]
    assert all("did not answer within" in r[3] for r in rows), rows
    assert log.count("did not answer within") >= 3


def test_a_crashing_plugin_does_not_take_the_batch_with_it(env):
    """A plugin that aborts in send() used to end the process with the whole batch. Now its
    record is a retryable failure naming the crash, and the batch's other records go out."""
    page(env, [9545])
    page(env, [9546], mode="email", destination="ada@example.com")
    cfg = config(env, sms={"abort": 1})
    ev = event(env, "sms", [msg(9545), msg(9546)])
    res, log = run(env, cfg, ev)
    assert res == [{"batchItemFailures": [{"itemIdentifier": ev["Records"][0]["messageId"]}]}], log
    assert "9546" in {r["message_id"] for r in sent(env)}
    [[state, error]] = sql(env["db"], "SELECT state, last_error FROM sender_claim WHERE claim_key = 'm:9545'")
    assert state == "failed" and "the plugin crashed during send() (signal 6)" in error
    # the second helper (forked after the crash) did not write the sender's metrics again
    assert metric_total(env["stdout"], "retried", Mode="sms") == 1


def metric_total(text, name, **dims):
    """The sum of an EMF count over every line printed with these dimensions."""
    total = 0
    for line in text.splitlines():
        doc = json.loads(line) if line.startswith("{") else {}
        if name in doc and all(doc.get(k) == v for k, v in dims.items()):
            total += doc[name]
    return total


def test_a_batch_is_claimed_together_and_repeats_in_it_are_duplicates(env):
    """The batch's message claims are taken in one statement; a record repeating another of
    the same batch is acknowledged as a duplicate once the first is delivered (one page)."""
    page(env, [9560, 9561])
    res, log = run(env, env["config"], event(env, "sms", [msg(9560), msg(9561), msg(9560)]))
    assert res == [{"batchItemFailures": []}], log
    assert sorted(r["message_id"] for r in sent(env) if r["message_id"] in ("9560", "9561")) == [
        "9560", "9561"]
    assert "(m:9560) of the same batch: duplicate delivery acknowledged" in log
    assert sql(env["db"], "SELECT claim_key, state, attempts, takeovers FROM sender_claim"
                          " WHERE claim_key IN ('m:9560', 'm:9561') ORDER BY 1") == [
        ["m:9560", "sent", "1", "0"], ["m:9561", "sent", "1", "0"]]


def test_one_refused_outcome_does_not_fail_the_batch(env):
    """The batch's sent outcomes are recorded in one transaction; when the database refuses
    one of them, the others are recorded on their own and only that record is retried."""
    page(env, [9570, 9571])
    sql(env["db"], """DELIMITER //
        CREATE TRIGGER refuse_9570 BEFORE UPDATE ON message FOR EACH ROW
          IF NEW.id = 9570 AND NEW.sent IS NOT NULL THEN
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected: 9570 cannot be recorded';
          END IF //
        DELIMITER ;""")
    try:
        ev = event(env, "sms", [msg(9570), msg(9571)])
        res, log = run(env, env["config"], ev)
    finally:
        sql(env["db"], "DROP TRIGGER refuse_9570")
    assert res == [{"batchItemFailures": [{"itemIdentifier": ev["Records"][0]["messageId"]}]}], log
    assert "message 9570: recording its outcome failed" in log and "injected: 9570" in log
    assert sql(env["db"], "SELECT id, sent IS NOT NULL FROM message WHERE id IN (9570, 9571)"
                          " ORDER BY id") == [["9570", "0"], ["9571", "1"]]
    assert sql(env["db"], "SELECT claim_key, state FROM sender_claim WHERE claim_key IN"
                          " ('m:9570', 'm:9571') ORDER BY 1") == [["m:9570", "sending"], ["m:9571", "sent"]]


def test_out_of_band_notifications_get_iris_limits(env):
    """The notification path skipped Iris's calling restriction, body limit and quota; Iris
    applied them to out-of-band notifications too (one row of the sender's per-kind table)."""
    note = lambda **f: {"v": 1, "kind": "notification", "notification_id": "oob-" + os.urandom(4).hex(),
                        "application": "Autoalerts", "role": "user", "subject": "s", "body": "b", **f}
    call = note(target="wei", mode="call")                      # wei's phone is +86
    big = note(target="ada", mode="email", body="x" * 40010)
    sql(env["db"], "UPDATE application_quota SET hard_quota_threshold = 1, soft_quota_threshold = 100,"
                   " hard_quota_duration = 3600, soft_quota_duration = 3600 WHERE application_id = 3")
    q1, q2 = (note(application="batchjobs", target="linus", mode="email") for _ in range(2))
    res, log = run(env, env["config"], event(env, "call", [call]), event(env, "email", [big, q1, q2]))
    assert res == [{"batchItemFailures": []}] * 2, log
    got = {r["message_id"]: r for r in sent(env)}
    assert got[call["notification_id"]]["mode"] == "sms"
    assert got[call["notification_id"]]["body"].startswith("Iris cannot place automated calls")
    assert big["notification_id"] not in got
    assert q1["notification_id"] in got and q2["notification_id"] not in got
    claims = dict(sql(env["db"], "SELECT notification_id, last_error FROM sender_claim WHERE state ="
                                 f" 'suppressed' AND notification_id IN ('{big['notification_id']}',"
                                 f" '{q2['notification_id']}')"))
    assert claims[big["notification_id"]].startswith("Dropping due to excessive body length (40010 >")
    assert claims[q2["notification_id"]] == "Dropping due to hard quota violation."


def test_every_record_kind_makes_its_calls_with_the_batch(env, tmp_path):
    """Issue #12: one delivery pipeline for every record kind. An aggregated batch, a message,
    a plan's tracking copy and a notification to a team of three, in one SQS batch: their six
    vendor calls are made at once (the test plugin answers only when all six are in flight
    together; one by one, each would give up after 10 s and be retried), then each is
    recorded as its kind records it, and a redelivery of the batch sends nothing again."""
    meet = tmp_path / "meet"
    meet.mkdir()
    page(env, [9580, 9581, 9582])
    sql(env["db"], """
      INSERT INTO plan (id, name, created, user_id, step_count, threshold_window, threshold_count,
                        aggregation_window, aggregation_reset, tracking_key, tracking_type,
                        tracking_template) VALUES
        (72, 'track-meet', UTC_TIMESTAMP(), 1, 1, 900, 10, 300, 300, '+15550100179', 'sms',
         '{"Autoalerts": {"body": "new {{ check }} on {{ host }}"}}');
      INSERT INTO incident (id, plan_id, created, context, application_id, current_step, active)
        VALUES (563, 72, UTC_TIMESTAMP(), '{"host": "db-9", "check": "disk"}', 1, 1, 1);
      INSERT INTO sender_tracking (incident_id, plan_id, mode, destination, state)
        VALUES (563, 72, 'sms', '+15550100179', 'enqueued');""")
    batch_id = "c0ffee" + "0" * 26
    nid = "meet-0001"
    records = [
        {"v": 1, "kind": "batch", "batch_id": batch_id, "message_ids": [9580, 9581]},
        msg(9582),
        {"v": 1, "kind": "tracking", "incident_id": 563},
        {"v": 1, "kind": "notification", "notification_id": nid, "application": "Autoalerts",
         "target": "storage-oncall", "role": "team", "priority": "high", "subject": "Disk",
         "body": "db-9 is almost full"},
    ]
    cfg = config(env, sms={"meet_dir": str(meet), "meet_n": 6})
    cfg["sender"]["vendor_concurrency"] = 6
    t0 = time.monotonic()
    res, log = run(env, cfg, event(env, "sms", records), event(env, "sms", records))
    assert res == [{"batchItemFailures": []}] * 2, log
    assert time.monotonic() - t0 < 10, log  # (no call waited out the plugin's 10 s)
    assert "never met" not in log
    assert len(list(meet.iterdir())) == 6  # six calls, each made once
    assert sql(env["db"], "SELECT claim_key, state, attempts FROM sender_claim WHERE claim_key IN"
                          f" ('b:{batch_id}', 'm:9582', 't:563') ORDER BY 1") == [
        [f"b:{batch_id}", "sent", "1"], ["m:9582", "sent", "1"], ["t:563", "sent", "1"]]
    assert sql(env["db"], "SELECT id, batch, sent IS NOT NULL FROM message"
                          " WHERE id IN (9580, 9581, 9582) ORDER BY id") == [
        ["9580", batch_id, "1"], ["9581", batch_id, "1"], ["9582", "NULL", "1"]]
    assert sql(env["db"], "SELECT state, outcome FROM sender_tracking WHERE incident_id = 563") == [
        ["done", "sent"]]
    assert sql(env["db"], "SELECT state, recipients_total, recipients_sent FROM sender_notification"
                          f" WHERE id = '{nid}'") == [["done", "3", "3"]]
    assert sql(env["db"], "SELECT COUNT(*) FROM sender_claim WHERE notification_id = %r"
                          " AND state = 'sent' AND attempts = 1" % nid) == [["3"]]


def test_a_team_notification_whose_calls_hang_is_retried_within_the_deadline(env):
    """A notification's recipients make their calls with the batch's: three hung calls are
    stopped before the deadline, each recipient's claim is a retryable failure, and the
    record is retried (nothing recorded as sent, the notification still sending)."""
    nid = "hang-0001"
    n = {"v": 1, "kind": "notification", "notification_id": nid, "application": "Autoalerts",
         "target": "storage-oncall", "role": "team", "priority": "high", "subject": "Disk",
         "body": "db-9 is almost full"}
    cfg = config(env, sms={"hang": 1})
    cfg["sender"]["deadline_margin_ms"] = 1000
    cfg["sender"]["vendor_concurrency"] = 4
    ev = event(env, "sms", [n])
    t0 = time.monotonic()
    (res,), log = invoke_until(env, cfg, (ev, 4000))
    assert time.monotonic() - t0 < 4 + 2, log
    assert res == {"batchItemFailures": [{"itemIdentifier": ev["Records"][0]["messageId"]}]}, log
    rows = sql(env["db"], "SELECT state, final, attempts, last_error FROM sender_claim"
                          f" WHERE notification_id = '{nid}'")
    assert len(rows) == 3 and all(r[:3] == ["failed", "0", "1"] for r in rows), rows
    assert all("did not answer within" in r[3] for r in rows), rows
    assert sql(env["db"], "SELECT state, recipients_sent FROM sender_notification"
                          f" WHERE id = '{nid}'") == [["sending", "0"]]


def test_long_or_odd_ids_from_sqs_and_the_runtime_are_bounded(env):
    """A messageId longer than the claims' columns, or not ASCII, was cut by INSERT IGNORE
    on the way into the claim: the claim's owner no longer matched the record's, the record
    found its claim 'held elsewhere' and was acknowledged unsent, without a word. Ids are
    now bounded before use (kept when short and printable, else a prefix and a hash), and the
    answer still names each record by the messageId SQS gave."""
    page(env, [9590, 9591, 9592, 9593])
    page(env, [9594], mode="im", destination="ada")  # the im vendor fails retryably: retried
    arn = stack.queue_arn(f"iris-sms-{env['suffix']}")
    ids = ["x" * 150, "y" * 99 + "é" + "z" * 10, "w" * 100 + "1", "w" * 100 + "2"]
    records = [stack.sqs_record(msg(9590 + i), arn, message_id=mid) for i, mid in enumerate(ids)]
    failing = stack.sqs_record(msg(9594), arn, message_id="v" * 90 + "ü")
    with FakeRuntime() as rt:
        rid = rt.add_event({"Records": records + [failing]}, request_id="r" * 100)
        proc = rt.run_bootstrap(BOOTSTRAP, env=stack.function_env(env["config"]))
        assert proc.returncode == 0, proc.err
        answer = rt.results[rid]["json"]
    assert answer == {"batchItemFailures": [{"itemIdentifier": "v" * 90 + "ü"}]}, proc.err
    assert sorted(r["message_id"] for r in sent(env)
                  if r["message_id"] in ("9590", "9591", "9592", "9593")) == ["9590", "9591",
                                                                              "9592", "9593"]
    rows = sql(env["db"], "SELECT claim_key, state, owner, sqs_message_id FROM sender_claim"
                          " WHERE claim_key IN ('m:9590', 'm:9591', 'm:9592', 'm:9593')"
                          " ORDER BY claim_key")
    assert [r[1] for r in rows] == ["sent"] * 4
    assert len({r[2] for r in rows}) == 4 and len({r[3] for r in rows}) == 4
    for _, _, owner, mid in rows:
        assert len(owner) <= 121 and len(mid) <= 60
        assert all(0x20 < ord(ch) < 0x7f for ch in owner + mid), (owner, mid)
