"""libvdispatch when its dependencies fail (issue 4): deadlines against a
hung version, circuit breakers, the retry budget, the registry copy that
outlives the registry database, and version ranges, through the dispatch
CLI against the real stack.

Each test restores what it changed (SIGCONT, database started again, its
registry entries removed) whatever happens. Versions that must fail in a
precise way are played by a small HTTP server of the test's own, registered
under a name no other test uses ("Resilience Probe ..."); the stack's own
tickets 1.0.1 is used where its real behaviour is the point (a SIGSTOPped
responder behind nginx, its random failures).
"""

import contextlib
import http.server
import json
import os
import re
import signal
import statistics
import subprocess
import threading
import time
import uuid

import pytest

from conftest import BINDIR, run, wait_until, worker_pids

DISPATCH = str(BINDIR / "dispatch")


# --- helpers ------------------------------------------------------------------

# No registry copy but the one a test names: a file the environment names
# would answer for a registry that a test stopped on purpose.
ENV = {k: v for k, v in os.environ.items() if k != "VD_REGISTRY_CACHE"}


def dispatch(*args, timeout=60):
    """Run the dispatch CLI; return (CompletedProcess, elapsed seconds)."""
    t0 = time.monotonic()
    res = run([DISPATCH, *args], timeout, env=ENV)
    return res, time.monotonic() - t0


def summary(res):
    """The --json summary of a `dispatch call --count` run."""
    try:
        return json.loads(res.stdout)
    except ValueError:
        pytest.fail("no JSON summary (exit %d):\n%s\n%s"
                    % (res.returncode, res.stdout, res.stderr))


def attempt_lines(stderr):
    return [l for l in stderr.splitlines() if l.startswith("calling ")]


def responder_pids(name, version):
    pids = worker_pids("%s@%s" % (name, version))
    assert pids, "no workers of %s@%s" % (name, version)
    return pids


@contextlib.contextmanager
def sigstopped(name, version):
    """The responder's workers stopped (SIGSTOP) for the block: nginx and
    the kernel still accept its connections, nobody answers."""
    pids = responder_pids(name, version)
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        yield pids
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def normal_call_seconds():
    """The median time of a plain successful dispatch call (process start
    included), to compare the slow paths with."""
    times = []
    for _ in range(3):
        res, took = dispatch("call", "Ticket Query", "=1.0.0")
        assert res.returncode == 0, res.stderr
        times.append(took)
    return statistics.median(times)


class FakeService:
    """An HTTP server on 127.0.0.1 whose paths answer as told:
    routes[path] = (status, body, delay seconds, Content-Type or None for
    none, raw bytes sent instead of body as JSON or None). It records each
    hit as (monotonic time, path), and each request as (method, path,
    headers, body) in requests."""

    def __init__(self):
        self.routes = {}
        self.hits = []
        self.requests = []
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY,
            # each kept-alive request would wait for a delayed ACK.
            disable_nagle_algorithm = True

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                sent = self.rfile.read(length) if length else b""
                with owner.lock:
                    owner.hits.append((time.monotonic(), self.path))
                    owner.requests.append((self.command, self.path,
                                           dict(self.headers), sent))
                    status, body, delay, ctype, raw = owner.routes.get(
                        self.path, (404, {"error": "not found", "detail": ""}, 0,
                                    "application/json", None))
                if delay:
                    time.sleep(delay)
                if raw is None:
                    raw = json.dumps(body).encode()
                self.send_response(status)
                if ctype is not None:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def route(self, path, status=200, body=None, delay=0.0,
              ctype="application/json", raw=None):
        with self.lock:
            self.routes[path] = (status, [] if body is None else body, delay,
                                 ctype, raw)
        return self.base + path

    def hits_on(self, path):
        with self.lock:
            return [t for t, p in self.hits if p == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def fake():
    srv = FakeService()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def probe():
    """probe(version, url) registers a version of a service of this test's
    own (a fresh name, returned); every version is removed afterwards."""
    name = "Resilience Probe %s" % uuid.uuid4().hex[:8]
    versions = []

    def _register(version, url):
        res, _ = dispatch("register", "--get", url, name, version)
        assert res.returncode == 0, res.stderr
        versions.append(version)
        return name
    try:
        yield _register
    finally:
        for v in versions:
            dispatch("unregister", name, v)


def must(res):
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def database_is_embedded(stack):
    first = stack("status").stdout.split("\n", 1)[0]
    return "external" not in first


def registry_answers():
    return dispatch("list")[0].returncode == 0


def restart_database(stack):
    """Start the database again and wait until the registry and the
    tickets service answer through it."""
    must(stack("start", "db"))
    wait_until(registry_answers, 60, interval=0.5, what="the registry back")
    wait_until(lambda: dispatch("call", "Ticket Query", "=1.0.0")[0].returncode == 0,
               60, interval=0.5, what="Ticket Query through the registry")


# --- (a) deadlines against a hung version --------------------------------------

def test_hung_version_costs_one_attempt_timeout():
    normal = normal_call_seconds()
    with sigstopped("tickets", "1.0.1"):
        res, took = dispatch("call", "--timeout", "400", "--deadline", "5000",
                             "Ticket Query", "1.0.1")
    assert res.returncode == 0, res.stderr
    assert isinstance(json.loads(res.stdout), list)
    lines = attempt_lines(res.stderr)
    assert "1.0.1" in lines[0] and "timed out" in lines[0], res.stderr
    assert "1.0.0" in lines[-1] and lines[-1].endswith("ok"), res.stderr
    # One attempt timeout, then a normal call: no more.
    assert took >= 0.4, took
    assert took <= 0.4 + normal + 0.5, (took, normal, res.stderr)


def test_deadline_bounds_the_whole_call():
    normal = normal_call_seconds()
    with sigstopped("tickets", "1.0.1"):
        res, took = dispatch("call", "--timeout", "5000", "--deadline", "600",
                             "Ticket Query", "=1.0.1")
    assert res.returncode == 2, res.stderr
    assert "Deadline of 600 ms passed" in res.stderr, res.stderr
    assert took <= 0.6 + normal + 0.5, (took, normal)


def test_breaker_stops_paying_for_a_hung_version():
    """After 5 timeouts in a row the circuit of 1.0.1 opens: the other 25
    calls go straight to 1.0.0 without waiting for 1.0.1."""
    normal = normal_call_seconds()
    with sigstopped("tickets", "1.0.1"):
        res, took = dispatch("call", "--count", "30", "--timeout", "200",
                             "--json", "Ticket Query", "1.0.1")
    s = summary(res)
    assert res.returncode == 0, res.stderr
    assert s["ok"] == 30 and s["outcomes"] == {"ok 1.0.0": 30}, s
    assert s["versions"]["1.0.1"]["failed"] == 5, s
    assert s["versions"]["1.0.1"]["skipped"] == 25, s
    assert s["breaker"]["1.0.1"]["open"] == 1, s
    assert "circuit of Ticket Query 1.0.1 open" in res.stderr, res.stderr
    # 5 timeouts and 30 calls to 1.0.0: not 30 timeouts.
    assert took < 5 * 0.2 + 30 * normal + 2, (took, normal)


# --- (b) circuit breakers --------------------------------------------------------

def test_breaker_skips_a_failing_version_then_probes_it(fake, probe):
    fail = fake.route("/fail", 500, {"error": "injected", "detail": "always"})
    ok = fake.route("/ok", 200, [{"ok": True}], delay=0.005)
    name = probe("1.0.1", fail)
    probe("1.0.0", ok)
    res, _ = dispatch("call", "--count", "200", "--breaker",
                      "open=300,max-open=300", "--json", name, "1.0.0")
    s = summary(res)
    assert res.returncode == 0, res.stderr
    assert s["outcomes"] == {"ok 1.0.0": 200}, s
    hits = fake.hits_on("/fail")
    v = s["versions"]["1.0.1"]
    assert len(hits) == v["failed"] and v["ok"] == 0, (hits, s)
    # Opened after 5 consecutive failures; then skipped ...
    assert v["skipped"] >= 100, s
    assert len(hits) <= 5 + s["breaker"]["1.0.1"]["half-open"], s
    # ... and probed again once its 300 ms were up, one trial each time.
    assert len(hits) >= 6, (len(hits), s)
    probes = hits[5:]
    gaps = [b - a for a, b in zip(hits[4:], probes)]
    assert all(g >= 0.25 for g in gaps), gaps
    assert len(fake.hits_on("/ok")) == 200


def test_breaker_on_the_real_1_0_1(access_log):
    """1.0.1 fails half of its queries. Without a breaker every call at
    1.0.1 would reach it; with one, runs of calls skip it while its circuit
    is open, and it is probed again afterwards."""
    # Open for 100 ms, and 3000 calls: at 0.3 ms a call (answers kept)
    # they span several openings and the trials after them; at 3 ms one
    # opening still skips some 30 calls.
    res, _ = dispatch("call", "--count", "3000", "--breaker",
                      "open=100,max-open=100", "--budget", "off", "--json",
                      "Ticket Query", "1.0.1", timeout=120)
    s = summary(res)
    assert res.returncode == 0, res.stderr
    assert s["ok"] == 3000, s
    seq = []
    for line in access_log():
        m = re.search(r'"GET /tickets/v(1\.0\.[01])/tickets HTTP', line)
        if m:
            seq.append(m.group(1))
    to_101 = seq.count("1.0.1")
    v = s["versions"]["1.0.1"]
    assert v["skipped"] > 0 and s["breaker"]["1.0.1"]["open"] >= 1, s
    assert to_101 < 0.7 * 3000, (to_101, s)
    # A run of calls that never touched 1.0.1 (its circuit open), and
    # 1.0.1 reached again after it (the trial).
    runs = [m.end() for m in re.finditer(r"(?:0){10,}", "".join(
        "1" if x == "1.0.1" else "0" for x in seq))]
    assert runs, "no run of 10 calls without 1.0.1: " + "".join(seq)
    assert "1.0.1" in seq[runs[0]:], "1.0.1 never probed again"


# --- (c) the registry database down ------------------------------------------------

def test_registry_down_calls_resolve_from_the_cached_copy(fake, probe, stack,
                                                          tmp_path):
    if not database_is_embedded(stack):
        pytest.skip("the database is external (MONGODB_URI)")
    ok = fake.route("/ok", 200, {"answer": 42})
    name = probe("1.0.0", ok)
    cache = str(tmp_path / "registry-cache.json")
    res, _ = dispatch("--cache-file", cache, "call", name, "1.0.0")
    assert res.returncode == 0, res.stderr
    saved = json.loads(open(cache, encoding="utf-8").read())
    assert name in {e["name"] for e in saved["entries"]}
    must(stack("stop", "db"))
    try:
        # Without a copy, nothing can be called ...
        res, _ = dispatch("call", name, "1.0.0")
        assert res.returncode == 2, res.stderr
        assert "Registry unavailable" in res.stderr, res.stderr
        # ... with the file, the call goes on, with a warning.
        before = len(fake.hits_on("/ok"))
        res, _ = dispatch("--cache-file", cache, "call", name, "1.0.0")
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == {"answer": 42}
        assert "calling from the copy saved in" in res.stderr, res.stderr
        assert len(fake.hits_on("/ok")) == before + 1
        # The stack's own services resolve too (they answer 503 without
        # their database, but the call reaches them).
        res, _ = dispatch("--cache-file", cache, "call", "--deadline",
                          "10000", "Ticket Query", "1.0.1")
        assert attempt_lines(res.stderr), res.stderr
        assert "Registry unavailable" not in res.stderr.splitlines()[-1], \
            res.stderr
    finally:
        restart_database(stack)


def test_registry_outage_during_a_run(fake, probe, stack):
    """A client keeps calling from its copy in memory when the registry
    stops answering in the middle of its work, and says so once."""
    if not database_is_embedded(stack):
        pytest.skip("the database is external (MONGODB_URI)")
    ok = fake.route("/ok", 200, [], delay=0.01)
    name = probe("1.0.0", ok)
    proc = subprocess.Popen(
        [DISPATCH, "call", "--count", "600", "--registry-refresh", "200",
         "--json", name, "1.0.0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        wait_until(lambda: len(fake.hits_on("/ok")) >= 50, 20,
                   what="the run under way")
        must(stack("stop", "db"))
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        restart_database(stack)
    s = json.loads(out)
    assert s["ok"] == 600, (s, err)
    warnings = [l for l in err.splitlines() if "calling from the copy of" in l]
    assert len(warnings) == 1, err
    assert "Registry unavailable" in warnings[0], err


# --- (d) ranges -------------------------------------------------------------------

def test_caret_when_only_a_newer_major_exists(fake, probe):
    url = fake.route("/v2", 200, {"version": "2.0.0"})
    name = probe("2.0.0", url)
    res, _ = dispatch("call", name, "^1.0.0")
    assert res.returncode == 2, res.stderr
    assert "No service available" in res.stderr, res.stderr
    assert "registered: 2.0.0" in res.stderr, res.stderr
    assert fake.hits_on("/v2") == []
    # The entry is there: ^2.0.0 reaches it.
    res, _ = dispatch("call", name, "^2.0.0")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"version": "2.0.0"}


RANGES = [
    ("=1.0.0", "1.0.0"),
    ("1.0.1", "1.0.1"),
    ("^1.0.0", "1.0.1"),
    ("~1.0.0", "1.0.1"),
    (">=1.0.1 <2", "1.0.1"),
    ("<1.0.1", "1.0.0"),
    ("^1.1.0-rc.1", "1.1.0-rc.1"),
    (">=1.1.0-rc.0 <2", "1.1.0-rc.1"),
    ("=1.0.0 || ^2", "2.0.0"),
    ("*", "2.0.0"),
]


def test_version_ranges_through_the_cli(fake, probe):
    """Every form of range picks the version semver says, pre-releases
    only when named; each version answers with its own number."""
    name = None
    for v in ("1.0.0", "1.0.1", "1.1.0-rc.1", "2.0.0"):
        name = probe(v, fake.route("/v/" + v, 200, {"version": v}))
    for spec, want in RANGES:
        res, _ = dispatch("call", name, spec)
        assert res.returncode == 0, (spec, res.stderr)
        assert json.loads(res.stdout) == {"version": want}, (spec, res.stdout)
        assert len(attempt_lines(res.stderr)) == 1, (spec, res.stderr)
    res, _ = dispatch("call", name, "not a range")
    assert res.returncode == 64, res.stderr


# --- several endpoints ------------------------------------------------------------

def test_post_and_get_endpoints_merged(fake):
    """A version with a POST and a GET endpoint: each call sends the body
    to the first (with its Idempotency-Key) and a bodiless GET to the
    second, on one reused connection, and merges the two replies. Three
    calls in one process, so that a GET follows a POST and a POST a GET
    on the same handle."""
    post = fake.route("/post", 200, {"posted": True, "list": [1]})
    get = fake.route("/get", 200, {"got": True, "list": [2]})
    name = "Resilience Probe %s" % uuid.uuid4().hex[:8]
    must(dispatch("register", "--post", post, "--get", get, name, "1.0.0")[0])
    try:
        res, _ = dispatch("call", "--count", "3", "--json", name, "1.0.0",
                          '{"n": 1}')
        s = summary(res)
        assert res.returncode == 0 and s["ok"] == 3, (s, res.stderr)
        res, _ = dispatch("call", name, "1.0.0", '{"n": 2}')
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == {"posted": True, "list": [1, 2],
                                          "got": True}
    finally:
        dispatch("unregister", name, "1.0.0")
    with fake.lock:
        reqs = list(fake.requests)
    assert [(m, p) for m, p, _, _ in reqs] == [("POST", "/post"),
                                              ("GET", "/get")] * 4, reqs
    keys = set()
    for method, _, headers, body in reqs:
        if method == "POST":
            assert json.loads(body) in ({"n": 1}, {"n": 2}), body
            assert headers.get("Content-Type") == "application/json", headers
            keys.add(headers.get("Idempotency-Key"))
        else:
            assert body == b"", body
            assert "Idempotency-Key" not in headers, headers
            assert "Content-Type" not in headers, headers
    # One key per call, never reused.
    assert len(keys) == 4 and None not in keys, keys


# --- unreadable replies -------------------------------------------------------------

def test_reply_not_declared_json_falls_back(fake, probe):
    """A 2xx whose Content-Type is not JSON (a proxy's HTML page, a path
    routed to the wrong place) is a failure like a 5xx: the call moves on
    to the next version, and the breaker counts it."""
    html = fake.route("/html", 200, ctype="text/html; charset=utf-8",
                      raw=b"<html><body>Welcome to nginx!</body></html>")
    ok = fake.route("/ok", 200, {"version": "1.0.0"})
    name = probe("1.0.1", html)
    probe("1.0.0", ok)
    res, _ = dispatch("call", name, "1.0.0")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"version": "1.0.0"}
    lines = attempt_lines(res.stderr)
    assert "1.0.1" in lines[0], res.stderr
    assert "unreadable reply (HTTP 200, text/html; charset=utf-8, not JSON)" \
        in lines[0], res.stderr
    assert lines[-1].endswith("1.0.0 ... ok"), res.stderr
    assert len(fake.hits_on("/html")) == 1 and len(fake.hits_on("/ok")) == 1


def test_broken_json_trusted_by_default_parsed_on_request(fake, probe):
    """A body that says it is JSON is passed on as it is by default (the
    caller parses it anyway); with --parse-replies (VD_REPLY_PARSED) one
    that does not parse is a failure and the call falls back."""
    broken = b'{"version": "1.0.1", "cut'
    bad = fake.route("/broken", 200, raw=broken)
    ok = fake.route("/ok", 200, {"version": "1.0.0"})
    name = probe("1.0.1", bad)
    probe("1.0.0", ok)
    res, _ = dispatch("call", name, "1.0.0")
    assert res.returncode == 0, res.stderr
    assert res.stdout.encode().rstrip(b"\n") == broken, res.stdout
    assert len(fake.hits_on("/ok")) == 0
    res, _ = dispatch("call", "--parse-replies", name, "1.0.0")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"version": "1.0.0"}
    lines = attempt_lines(res.stderr)
    assert "1.0.1" in lines[0], res.stderr
    assert "unreadable reply (HTTP 200, not JSON)" in lines[0], res.stderr
    assert len(fake.hits_on("/ok")) == 1


def test_reply_without_content_type_is_parsed(fake, probe):
    """No Content-Type: the body is parsed, whatever the setting. JSON
    passes; anything else falls back."""
    plain = fake.route("/plain", 200, ctype=None, raw=b"OK")
    good = fake.route("/untyped", 200, ctype=None, raw=b'{"version": "1.0.1"}')
    ok = fake.route("/ok", 200, {"version": "1.0.0"})
    name = probe("1.0.1", plain)
    probe("1.0.0", ok)
    res, _ = dispatch("call", name, "1.0.0")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"version": "1.0.0"}
    assert "unreadable reply (HTTP 200, not JSON)" in res.stderr, res.stderr
    probe("1.0.2", good)
    res, _ = dispatch("call", name, "=1.0.2")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"version": "1.0.1"}


# --- (e) the retry budget -----------------------------------------------------------

def test_budget_exhausted_fails_fast(fake, probe):
    """With 1.0.1 failing every call and a budget of 2 fallbacks, 2 calls
    fall back to 1.0.0 and the other 48 fail at once: 1.0.0 is not
    hammered with the load that 1.0.1 sheds."""
    fail = fake.route("/fail", 500, {"error": "injected", "detail": "always"})
    ok = fake.route("/ok", 200, [])
    name = probe("1.0.1", fail)
    probe("1.0.0", ok)
    res, _ = dispatch("call", "--count", "50", "--breaker", "off", "--budget",
                      "percent=0,per-second=0.2,window=10", "--json",
                      name, "1.0.0")
    s = summary(res)
    assert res.returncode == 2, res.stderr
    assert s["ok"] == 2 and s["failed"] == 48, s
    assert s["outcomes"].get("retry budget spent") == 48, s
    assert "retry budget exhausted" in s["first_error"], s
    assert s["versions"]["1.0.0"]["budget_refused"] == 48, s
    assert len(fake.hits_on("/ok")) == 2
    assert len(fake.hits_on("/fail")) == 50
    # Failing fast: no waiting on anything but the failed attempt.
    assert s["latency_ms"]["p50"] < 100, s


# --- the CLI's limits -----------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["--count", "0"],
    ["--count", "1000001"],
    ["--concurrency", "257"],
    ["--breaker", "rate=101"],
    ["--breaker", "open=500,max-open=100"],
    ["--breaker", "bogus=1"],
    ["--budget", "percent=1001"],
    ["--budget", "window=61"],
])
def test_cli_refuses_bad_settings(args):
    res, _ = dispatch("call", *args, "Ticket Query", "1.0.0")
    assert res.returncode == 64, (args, res.stderr)
    assert res.stdout == "", res.stdout
