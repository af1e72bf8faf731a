"""The sender against the review's findings (issue #14), through the real bootstrap, MariaDB,
moto and the test plugin tests/plugins/misbehave.c next to the dummy plugin: a plugin's
retry-after is bounded whatever it says; a rate-limited vendor counts against
sender.max_attempts; a retry is not logged as a takeover."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_sender import BUILD, env, event, invoke, msg, sent, sql  # noqa: E402,F401

PLUGINS = os.path.join(BUILD, "tests", "plugins", "sender")


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
    return invoke(dict(env, config=cfg), *events)


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
