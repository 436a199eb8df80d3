"""The edge: /api/NAME/... without a version, for browsers and curl. GETs go
to the newest version and fall back to the older ones when it fails; POSTs
go to the newest version only and nginx never sends one twice.

nginx's access log (STATE/logs/vdispatch-access.log) shows every responder
a request was passed to: upstream=A, B ustatus=500, 200 is a request that
1.0.1 failed and 1.0.0 answered.
"""

import os
import re
import signal
import time
import uuid

from conftest import (assert_json_error, find_reply, get_tickets,
                      request, services_conf, unique, wait_until,
                      worker_pids)

TICKET = "5f1d7a9e2c3b4a5d6e7f8a02"
LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<uri>\S+) [^"]*" (?P<status>\d+) .*'
                  r'upstream=(?P<upstream>.*?) ustatus=(?P<ustatus>.*?) '
                  r'urt=.* rid=(?P<rid>\S+)$')


def tickets_versions():
    """The tickets versions deployed, newest first (plain X.Y.Z here)."""
    versions = [v for name, v, _, _ in services_conf() if name == "tickets"]
    return sorted(versions, key=lambda v: tuple(int(x) for x in v.split(".")),
                  reverse=True)


NEWEST, OLDER = tickets_versions()[0], tickets_versions()[-1]


def sock(version):
    return "tickets-%s.sock" % version


def edge_lines(lines, path=None):
    """Parsed access log lines (of requests to PATH): dicts with a list of
    the sockets tried ("tried") and of their statuses ("statuses")."""
    out = []
    for line in lines:
        m = LINE.search(line)
        if not m or path is not None and m.group("uri") != path:
            continue
        d = m.groupdict()
        d["tried"] = [os.path.basename(u.strip())
                      for u in d["upstream"].split(",")]
        d["statuses"] = [s.strip() for s in d["ustatus"].split(",")]
        out.append(d)
    return out


def rid_header():
    """A request id of the test's own, to find its request's log line: a
    client may read the log before nginx wrote the line of the response
    it just received."""
    return {"X-Request-Id": "e2e-edge-" + uuid.uuid4().hex}


def must(res):
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def line_of(access_log, rid):
    """The parsed access log line of the request with id RID."""
    def find():
        for d in edge_lines(access_log(wait=0)):
            if d["rid"] == rid:
                return d
        return None
    return wait_until(find, 5, interval=0.05, what="the line of " + rid)


def newest_answers_at_the_edge(access_log):
    """True once a GET through the edge is answered by the newest version.
    nginx leaves out a version that failed 3 times (its failures add up
    until one succeeds more than 10 s after the last) for 10 s; after a
    success the next GET is passed to the newest version first. The newest
    fails half its queries on purpose, so it gets one chance in 10 s and
    takes it one time in two: waited for up to 120 s (all twelve chances
    missed: 1 in 4096)."""
    h = rid_header()
    request("GET", "/api/tickets/tickets", headers=h)
    d = line_of(access_log, h["X-Request-Id"])
    return d["tried"] == [sock(NEWEST)] and d["statuses"] == ["200"]


def test_edge_get_survives_a_failing_newest_version(get, access_log):
    assert NEWEST != OLDER, "the edge test needs two tickets versions"
    # Start when nginx passes GETs to the newest version first (an earlier
    # test may have made it rest).
    wait_until(lambda: newest_answers_at_the_edge(access_log), 120,
               interval=0.5, what="the newest version answering at the edge")
    start = len(access_log())
    for _ in range(40):
        status, headers, body = get("/api/tickets/tickets")
        assert status == 200, body
        assert isinstance(body, list) and body, body
    lines = wait_until(
        lambda: (lambda l: l if len(l) >= 40 else None)(
            edge_lines(access_log()[start:], "/api/tickets/tickets")),
        5, interval=0.05, what="40 access log lines")
    assert len(lines) == 40
    # 1.0.1 (which fails half of its queries) is tried first; what it
    # fails, 1.0.0 answers in the same request. Once it has failed 3 times
    # in 10 s, nginx leaves it out for 10 s and asks 1.0.0 directly.
    assert lines[0]["tried"][0] == sock(NEWEST), lines[0]
    fell_back = 0
    for d in lines:
        assert d["status"] == "200"
        if len(d["tried"]) == 1:
            assert d["statuses"] == ["200"], d
            continue
        assert d["tried"] == [sock(NEWEST), sock(OLDER)], d
        assert d["statuses"] == ["500", "200"], d
        fell_back += 1
    assert fell_back >= 1, "1.0.1 never failed in 40 requests: %r" % lines


def test_edge_post_goes_to_the_newest_version_once(post, access_log):
    message = unique("edge post")
    h = rid_header()
    status, _, body = post("/api/tickets/tickets/addComment",
                           {"ticketId": TICKET, "user": "e2e",
                            "message": message}, headers=h)
    assert status == 200, body
    assert body.get("message") == message
    d = line_of(access_log, h["X-Request-Id"])
    assert d["tried"] == [sock(NEWEST)], d
    assert len(find_reply(get_tickets(OLDER), TICKET, message)) == 1


def test_edge_with_the_newest_version_stopped(get, post, stack, access_log):
    """GETs are served by the older version; a POST is a 502 and is not
    applied anywhere: nginx would pass a POST whose connection was refused
    to a backup, but the edge gives POSTs no backup."""
    message = unique("edge post while stopped")
    must(stack("stop", "tickets@" + NEWEST))
    try:
        rids = []
        for _ in range(5):
            h = rid_header()
            status, _, body = get("/api/tickets/tickets", headers=h)
            assert status == 200, body
            rids.append(h["X-Request-Id"])
        h = rid_header()
        status, headers, body = post("/api/tickets/tickets/addComment",
                                     {"ticketId": TICKET, "user": "e2e",
                                      "message": message}, headers=h)
        assert_json_error(status, headers, body, 502)
        assert headers.get("X-Request-Id"), "nginx's errors carry the id"
        d = line_of(access_log, h["X-Request-Id"])
        assert d["tried"] == [sock(NEWEST)], d
        for rid in rids:
            d = line_of(access_log, rid)
            assert d["statuses"][-1] == "200", d
            assert d["tried"][-1] == sock(OLDER), d
    finally:
        must(stack("start", "tickets@" + NEWEST))
    assert find_reply(get_tickets(OLDER), TICKET, message) == []
    wait_until(lambda: get("/tickets/v%s/health" % NEWEST)[0] == 200, 20,
               what="tickets %s back" % NEWEST)


def test_edge_get_passes_over_a_hung_version(get, post, access_log):
    """1.0.1 stopped with SIGSTOP accepts connections but never answers: a
    GET costs the edge's 5 s read timeout, then 1.0.0 answers; a POST is a
    504, not retried (nginx had sent it). The POST waits in the socket's
    queue: 1.0.1 applies it when it runs again, once. (A 504 means "outcome
    unknown": retry with the same Idempotency-Key.)"""
    message = unique("edge post while hung")
    pids = worker_pids("tickets@%s" % NEWEST)
    wait_until(lambda: newest_answers_at_the_edge(access_log), 120,
               interval=0.5, what="the newest version answering at the edge")
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        h = rid_header()
        status, _, body = get("/api/tickets/tickets", headers=h, timeout=20)
        elapsed = time.monotonic() - t0
        assert status == 200, body
        assert elapsed < 8, elapsed
        d = line_of(access_log, h["X-Request-Id"])
        assert d["tried"] == [sock(NEWEST), sock(OLDER)], d
        assert d["statuses"] == ["504", "200"], d

        h = rid_header()
        status, headers, body = post(
            "/api/tickets/tickets/addComment",
            {"ticketId": TICKET, "user": "e2e", "message": message},
            headers=h, timeout=20)
        assert_json_error(status, headers, body, 504)
        d = line_of(access_log, h["X-Request-Id"])
        assert d["tried"] == [sock(NEWEST)], d
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    wait_until(lambda: get("/tickets/v%s/health" % NEWEST)[0] == 200, 20,
               what="tickets %s answering again" % NEWEST)
    wait_until(lambda: find_reply(get_tickets(OLDER), TICKET, message), 10,
               what="the queued POST applied")
    time.sleep(1)
    assert len(find_reply(get_tickets(OLDER), TICKET, message)) == 1


def test_edge_unknown_service_is_a_json_404(get):
    status, headers, body = get("/api/nosuchservice/tickets")
    assert_json_error(status, headers, body, 404)


def test_edge_reaches_the_reply_feed(get):
    status, _, body = get("/api/replyfeed/latestReplies")
    assert status == 200, body
    assert isinstance(body, list)
