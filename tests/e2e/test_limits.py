"""nginx's limit on writes and operator paths per client address (issue
11, item 4): over it, a JSON 429 with Retry-After, before any responder
sees the request. tests/run raises the limit for the suite; this test
reloads nginx with a low one (VD_LIMIT_RATE, VD_LIMIT_BURST) and puts the
suite's back."""

import os
import subprocess
import time

from conftest import STACK, assert_json_error, request, unique, worker_pids

TICKET = "5f1d7a9e2c3b4a5d6e7f8a05"


def nginx_workers():
    """The pids of the nginx master's children."""
    master = worker_pids("nginx")[0]
    res = subprocess.run(["pgrep", "-P", str(master)], capture_output=True,
                         text=True, timeout=30, check=False)
    return set(res.stdout.split())


def reload_nginx(**env):
    """Reloads nginx with env; back once only the new workers are left
    (the old ones still take connections, with the old limits, until
    they go)."""
    old = nginx_workers()
    assert old
    e = dict(os.environ, **env)
    res = subprocess.run([STACK, "start", "nginx"], capture_output=True,
                         text=True, timeout=60, env=e, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "reloaded" in res.stdout, res.stdout
    assert not old & nginx_workers(), "old workers still there"


def add(message):
    return request("POST", "/tickets/v1.0.0/tickets/addComment",
                   {"ticketId": TICKET, "user": "e2e", "message": message})


def test_over_the_limit_is_a_json_429_with_retry_after(get):
    try:
        reload_nginx(VD_LIMIT_RATE="2r/m", VD_LIMIT_BURST="3")
        # Only the new workers are left: the burst is taken, then 429.
        accepted = 0
        while True:
            status, headers, body = add(unique("under the limit"))
            if status != 200:
                break
            accepted += 1
            assert accepted <= 3, "more writes accepted than the burst"
        assert_json_error(status, headers, body, 429)
        assert body["error"] == "too many requests"
        assert headers.get("Retry-After") == "30"       # 2 a minute
        assert headers.get("X-Request-Id")
        # Refused before the responder: the reply is not stored.
        message = unique("over the limit")
        status, headers, body = add(message)
        assert_json_error(status, headers, body, 429)
        # Operator paths count too, GETs included; the edge's as well.
        # (Asked before anything slow: a request is let through again 30 s
        # after the last one taken.)
        for path in ("/tickets/v1.0.0/tickets/subscriptions",
                     "/tickets/v1.0.0/tickets/deadletters",
                     "/api/tickets/tickets/subscriptions",
                     "/tickets/v1.0.1/metrics", "/replyfeed/v1.0.0/metrics"):
            status, headers, body = get(path)
            assert_json_error(status, headers, body, 429)
            assert headers.get("Retry-After") == "30"
        status, _, tickets = get("/tickets/v1.0.0/tickets")
        assert status == 200, "reads are not limited"
        assert all(r.get("message") != message for t in tickets
                   for r in t.get("replies") or [])
        for path in ("/tickets/v1.0.0/health", "/replyfeed/v1.0.0/latestReplies",
                     "/api/tickets/tickets"):
            assert get(path)[0] == 200, path
    finally:
        reload_nginx()
    deadline = time.monotonic() + 20
    while add(unique("limit back up"))[0] == 429:
        assert time.monotonic() < deadline, "the suite's limit did not come back"
        time.sleep(0.2)
