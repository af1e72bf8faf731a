"""Role lookups through Oncall (core/clients/oncall.c via core/iris/recipients.c), end to end: the real
start-up (iris_app_init builds the client from the `oncall` configuration section) in the
iris-recipients tool, MariaDB with Iris's schema and demo data for the active-user filter, and
tests/fakes/oncall_fake.py checking Oncall's HMAC application auth on every request.

Covered: every role Oncall answers and the ones that stay on Iris's tables, inactive and
unknown users pruned, 422 and empty answers as "nobody" (IRIS_ENOTFOUND), 500 / timeout /
refused connection / malformed JSON / wrong JSON type / wrong key as specific errors, the key
(inline or a Secrets Manager reference) never in any output, the per-process cache within its
TTL and never for failures, and the behaviour without an Oncall client."""
import json
import os
import subprocess
import uuid

import pytest

import irisstack as stack
from oncall_fake import OncallFake

TOOL = os.path.join(stack.BUILD, "tests", "tools", "iris-recipients")
KEY = "oncall-app-key-" + uuid.uuid4().hex  # unique, so a leak is unmistakable

# The demo data's users: ada, grace, linus, wei are active, olddev is not; "ghost" is no Iris
# user at all and "Ada" differs from "ada" only in case.
TEAMS = {
    "storage-oncall": {
        "rosters": {"primary": ["ada", "olddev", "ghost"], "secondary": ["linus", "ada", "Ada"]},
        "oncall": {"primary": ["linus"], "secondary": ["wei", "ghost"], "manager": ["grace"],
                   "director": ["ada"], "shadow": ["olddev"]},
    },
    "storage oncall": {"rosters": {"r": ["wei"]}, "oncall": {"primary": ["ada"]}},
    "quiet": {"rosters": {"empty": []}, "oncall": {}},
}


@pytest.fixture(scope="module")
def db():
    with stack.iris_db("iris_oncall") as name:
        yield name


@pytest.fixture
def fake():
    with OncallFake(app="iris", key=KEY, teams=json.loads(json.dumps(TEAMS))) as f:
        yield f


def config(db, oncall=None, **extra):
    cfg = stack.config(db, **extra)
    if oncall is not None:
        cfg["oncall"] = oncall
    return cfg


def oncall_cfg(fake, **extra):
    return {"api": fake.url, "app": "iris", "key": KEY, **extra}


def run(cfg, lookups, args=(), timeout=60):
    """Run lookups [(role, target) or ("sleep", ms)] in one process; (results, stdout, stderr)."""
    text = "".join(f"{a}\t{b}\n" for a, b in lookups)
    env = {**os.environ, **stack.function_env(cfg)}
    env.pop("IRIS_CONFIG", None)
    r = subprocess.run([TOOL, *args], input=text, capture_output=True, text=True, env=env,
                       timeout=timeout)
    return stack.json_lines(r.stdout), r, r.stdout + r.stderr


def one(cfg, role, target):
    results, r, out = run(cfg, [(role, target)])
    assert r.returncode == 0, out
    [res] = results
    return res, out


def test_roles_from_oncall_pruned_to_active_users(db, fake):
    cfg = config(db, oncall_cfg(fake))
    lookups = [("oncall", "storage-oncall"), ("oncall-primary", "storage-oncall"),
               ("oncall-secondary", "storage-oncall"), ("manager", "storage-oncall"),
               ("director", "storage-oncall"), ("team", "storage-oncall"),
               ("oncall-shadow", "storage-oncall"), ("team", "quiet")]
    results, r, out = run(cfg, lookups)
    assert r.returncode == 0, out
    got = {(x["role"], x["target"]): (x["rc"], x["names"]) for x in results}
    assert got == {
        ("oncall", "storage-oncall"): ("IRIS_OK", ["linus"]),
        ("oncall-primary", "storage-oncall"): ("IRIS_OK", ["linus"]),
        ("oncall-secondary", "storage-oncall"): ("IRIS_OK", ["wei"]),  # ghost is no Iris user
        ("manager", "storage-oncall"): ("IRIS_OK", ["grace"]),
        ("director", "storage-oncall"): ("IRIS_OK", ["ada"]),
        # every roster's users, once each; olddev is inactive, ghost unknown, Ada not ada
        ("team", "storage-oncall"): ("IRIS_OK", ["ada", "linus"]),
        ("oncall-shadow", "storage-oncall"): ("IRIS_OK", []),  # nobody of them active
        ("team", "quiet"): ("IRIS_OK", []),
    }
    paths = [q["path"] for q in fake.requests()]
    assert paths == ["/api/v0/teams/storage-oncall/oncall/primary",
                     "/api/v0/teams/storage-oncall/oncall/secondary",
                     "/api/v0/teams/storage-oncall/oncall/manager",
                     "/api/v0/teams/storage-oncall/oncall/director",
                     "/api/v0/teams/storage-oncall/rosters",
                     "/api/v0/teams/storage-oncall/oncall/shadow",
                     "/api/v0/teams/quiet/rosters"]  # oncall-primary came from the cache
    assert fake.violations() == []
    assert all(q["auth_ok"] and q["headers"]["authorization"].startswith("hmac iris:")
               for q in fake.requests())


def test_user_and_mailing_list_stay_on_the_tables(db, fake):
    cfg = config(db, oncall_cfg(fake))
    results, r, out = run(cfg, [("user", "ada"), ("user", "olddev"),
                                ("mailing-list", "storage-announce")])
    assert r.returncode == 0, out
    assert [(x["rc"], x["names"]) for x in results] == [
        ("IRIS_OK", ["ada"]), ("IRIS_OK", []), ("IRIS_OK", ["ada", "grace", "linus"])]
    assert fake.requests() == []


def test_team_name_is_encoded_and_signed_as_oncall_sees_it(db, fake):
    res, out = one(config(db, oncall_cfg(fake)), "oncall", "storage oncall")
    assert (res["rc"], res["names"]) == ("IRIS_OK", ["ada"]), out
    [q] = fake.requests()
    assert q["path"] == "/api/v0/teams/storage%20oncall/oncall/primary"
    assert q["auth_ok"] and fake.violations() == []


def test_unknown_team_is_nobody(db, fake):
    cfg = config(db, oncall_cfg(fake))
    results, r, out = run(cfg, [("team", "no-such-team"), ("oncall", "no-such-team")])
    assert r.returncode == 0, out
    team, primary = results
    assert team["rc"] == "IRIS_ENOTFOUND"
    assert f"GET {fake.url}/api/v0/teams/no-such-team/rosters: HTTP 422" in team["error"]
    assert 'team \\"no-such-team\\" not found' in team["error"]
    # Oncall answers [] for the shift of a team it does not know: nobody as well.
    assert primary["rc"] == "IRIS_ENOTFOUND"
    assert "/api/v0/teams/no-such-team/oncall/primary: nobody (empty answer)" in primary["error"]


@pytest.mark.parametrize("behaviour,rc,text", [
    ({"status": 500, "body": "Internal Server Error: db down"}, "IRIS_EHTTP",
     "HTTP 500: Internal Server Error: db down"),
    ({"status": 422}, "IRIS_ENOTFOUND", "HTTP 422, no such team"),
    ({"malformed": True}, "IRIS_EPARSE", "the answer is not JSON (line 1 column 5"),
    ({"wrong_type": True}, "IRIS_EPARSE", "expected a JSON array of events, got: {\"user\""),
    ({"status": 200, "body": [{"username": "ada"}]}, "IRIS_EPARSE",
     "event 0 has no string \"user\""),
])
def test_failures_are_specific(db, fake, behaviour, rc, text):
    fake.behave([behaviour], route="oncall")
    res, out = one(config(db, oncall_cfg(fake)), "oncall", "storage-oncall")
    assert res["rc"] == rc, res
    assert text in res["error"], res["error"]
    assert f"GET {fake.url}/api/v0/teams/storage-oncall/oncall/primary" in res["error"]
    assert KEY not in out


def test_rosters_of_the_wrong_type(db, fake):
    fake.behave([{"wrong_type": True}], route="rosters")
    res, _ = one(config(db, oncall_cfg(fake)), "team", "storage-oncall")
    assert res["rc"] == "IRIS_EPARSE"
    assert "expected a JSON object of rosters, got: []" in res["error"]


def test_timeout(db, fake):
    fake.behave([{"stall_ms": 2000}], route="oncall")
    res, out = one(config(db, oncall_cfg(fake, timeout_ms=300)), "oncall", "storage-oncall")
    assert res["rc"] == "IRIS_ETIMEOUT", res
    assert "oncall/primary: no answer within 300 ms" in res["error"]


def test_refused_connection(db):
    port = stack.free_port()  # nothing listens there now
    res, _ = one(config(db, {"api": f"http://127.0.0.1:{port}", "app": "iris", "key": KEY}),
                 "manager", "storage-oncall")
    assert res["rc"] == "IRIS_ECONN", res
    assert f"GET http://127.0.0.1:{port}/api/v0/teams/storage-oncall/oncall/manager" in res["error"]


def test_wrong_key_is_refused_by_oncall(db, fake):
    res, out = one(config(db, oncall_cfg(fake, key="not-the-key-" + uuid.uuid4().hex)),
                   "oncall", "storage-oncall")
    assert res["rc"] == "IRIS_EAUTH", res
    assert "HTTP 401" in res["error"] and "Wrong digest" in res["error"]
    [v] = fake.violations()
    assert "wrong digest" in v["problem"]


def test_key_never_printed(db, fake):
    """Debug logging on, successes and every kind of failure: neither the key nor a digest
    that went over the wire appears in stdout or stderr."""
    fake.behave([{"status": 500, "body": f"echo {KEY}"}, {"malformed": True}], route="oncall")
    cfg = config(db, oncall_cfg(fake, timeout_ms=2000), log={"level": "debug"})
    results, r, out = run(cfg, [("oncall", "storage-oncall"), ("oncall", "storage-oncall"),
                                ("oncall", "storage-oncall"), ("team", "storage-oncall"),
                                ("team", "no-such-team")])
    assert r.returncode == 0, out
    assert [x["rc"] for x in results] == ["IRIS_EHTTP", "IRIS_EPARSE", "IRIS_OK", "IRIS_OK",
                                          "IRIS_ENOTFOUND"]
    assert "echo [REDACTED]" in results[0]["error"]  # an answer echoing the key is redacted
    assert '"module":"oncall"' in r.stderr  # debug lines were written
    assert KEY not in out
    digests = [q["headers"]["authorization"].split(":", 1)[1] for q in fake.requests()]
    assert len(digests) == 5
    for d in digests:
        assert d not in out


def test_key_from_secrets_manager(db, fake):
    sm = stack.aws_client("secretsmanager")
    name = f"iris-oncall-key-{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString=KEY)
    try:
        cfg = config(db, oncall_cfg(fake, key=f"secretsmanager:{name}"), log={"level": "debug"})
        res, out = one(cfg, "oncall", "storage-oncall")
        assert (res["rc"], res["names"]) == ("IRIS_OK", ["linus"]), out
        assert fake.violations() == []
        assert KEY not in out
    finally:
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_cache_within_ttl_and_not_for_failures(db, fake):
    cfg = config(db, oncall_cfg(fake, cache_seconds=1))
    fake.behave([{"status": 500, "body": "try later"}], route="rosters")
    results, r, out = run(cfg, [("team", "storage-oncall"),   # 500: not cached
                                ("team", "storage-oncall"),   # asks again: answer cached
                                ("team", "storage-oncall"),   # from the cache
                                ("sleep", 1100),
                                ("team", "storage-oncall")])  # expired: asks again
    assert r.returncode == 0, out
    assert [x["rc"] for x in results] == ["IRIS_EHTTP", "IRIS_OK", "IRIS_OK", "IRIS_OK"]
    assert all(x["names"] == ["ada", "linus"] for x in results[1:])
    assert len(fake.requests("rosters")) == 3


def test_nobody_is_not_cached(db, fake):
    cfg = config(db, oncall_cfg(fake))
    fake.remove_team("storage-oncall")
    _, r, out = run(cfg, [("team", "storage-oncall"), ("sleep", 10), ("team", "storage-oncall")])
    assert len(fake.requests("rosters")) == 2, out


def test_cache_is_per_process_and_default_ttl(db, fake):
    cfg = config(db, oncall_cfg(fake))  # cache_seconds defaults to 60
    run(cfg, [("oncall", "storage-oncall"), ("oncall", "storage-oncall")])
    run(cfg, [("oncall", "storage-oncall")])
    assert len(fake.requests()) == 2


def test_without_oncall_the_tables_answer(db, fake):
    results, r, out = run(config(db), [("team", "storage-oncall"), ("manager", "storage-oncall"),
                                       ("oncall", "storage-oncall"),
                                       ("oncall-secondary", "storage-oncall")])
    assert r.returncode == 0, out
    team, manager, primary, secondary = results
    assert (team["rc"], team["names"]) == ("IRIS_OK", ["ada", "linus", "wei"])
    assert (manager["rc"], manager["names"]) == ("IRIS_OK", ["grace"])
    for x in (primary, secondary):
        assert x["rc"] == "IRIS_EUNSUPPORTED"
        assert "needs the Oncall API, which is not configured (config oncall.api)" in x["error"]
    # A configured client that the caller does not pass behaves the same way.
    results, r, out = run(config(db, oncall_cfg(fake)), [("oncall", "storage-oncall")],
                          args=["--tables"])
    assert results[0]["rc"] == "IRIS_EUNSUPPORTED", out
    assert fake.requests() == []


@pytest.mark.parametrize("section,text", [
    ({"api": "oncall.example.com"}, "config: key 'oncall.api' must be an http(s) URL"),
    ({"api": "http://127.0.0.1:1", "app": "iris"},
     "config: keys 'oncall.app' and 'oncall.key' go together (only 'oncall.app' is set)"),
    ({"api": "http://127.0.0.1:1", "timeout_ms": 0}, "oncall.timeout_ms"),
    ({"api": "http://127.0.0.1:1", "cache_seconds": -1}, "oncall.cache_seconds"),
])
def test_bad_configuration_fails_start_up(db, section, text):
    _, r, out = run(config(db, section), [])
    assert r.returncode == 2
    assert "IRIS_ECONFIG" in r.stderr and text in r.stderr, r.stderr
