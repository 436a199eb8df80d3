"""Metrics (Prometheus text format 0.0.4) at <prefix>/metrics, totals of a
service version over all of its worker processes; and the request id that
follows a request through nginx, the responders and their calls."""

import re
import threading
import urllib.request
import uuid

import pytest

from conftest import (ACCESS_LOG, BASE, STATE, get_tickets, request,
                      services_conf, unique, wait_until)

TICKET = "5f1d7a9e2c3b4a5d6e7f8a03"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def scrape(prefix):
    """GET prefix/metrics: (content type, {series: value}, {name: type},
    set of names with HELP)."""
    status, headers, text = request("GET", prefix + "/metrics")
    assert status == 200, text
    assert isinstance(text, str), text
    values, types, helps = {}, {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name not in types, "two TYPE lines for " + name
            types[name] = kind
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            series = m.group(1) + (m.group(2) or "")
            assert series not in values, "series twice: " + series
            values[series] = float(m.group(3))
    return headers.get("Content-Type", ""), values, types, helps


def workers_of(name, version):
    return next(w for n, v, w, _ in services_conf() if (n, v) == (name, version))


def test_metrics_text_format(get):
    ctype, values, types, helps = scrape("/tickets/v1.0.0")
    assert ctype.startswith("text/plain"), ctype
    assert "version=0.0.4" in ctype, ctype
    for name in ("vdispatch_requests_total",
                 "vdispatch_request_duration_seconds",
                 "vdispatch_workers", "process_resident_memory_bytes",
                 "process_cpu_seconds_total", "process_start_time_seconds"):
        assert name in types, name
        assert name in helps, name
    assert types["vdispatch_requests_total"] == "counter"
    assert types["vdispatch_request_duration_seconds"] == "histogram"
    assert values['vdispatch_service_info{service="tickets",version="1.0.0"}'] == 1
    assert values["vdispatch_workers"] == workers_of("tickets", "1.0.0")
    assert values["process_resident_memory_bytes"] > 0
    # Every sample belongs to a family that has a TYPE.
    for series in values:
        name = series.split("{")[0]
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or base in types, series


def requests_of(values, endpoint, method="GET"):
    """The requests counted for ENDPOINT, over every status."""
    prefix = 'vdispatch_requests_total{endpoint="%s",method="%s",' % (
        endpoint, method)
    return sum(v for k, v in values.items() if k.startswith(prefix))


def test_counters_are_the_version_totals(get):
    """N requests, answered by whichever worker accepted them, show up in
    full in every scrape, whichever worker answers the scrape."""
    n, threads = 60, 6
    _, before, _, _ = scrape("/tickets/v1.0.0")
    start = requests_of(before, "/health")
    errors = []

    def hammer():
        for _ in range(n // threads):
            try:
                with urllib.request.urlopen(BASE + "/tickets/v1.0.0/health",
                                            timeout=10) as resp:
                    resp.read()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
    pool = [threading.Thread(target=hammer) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    assert not errors, errors[:3]
    for _ in range(8):
        _, values, _, _ = scrape("/tickets/v1.0.0")
        got = requests_of(values, "/health")
        assert got >= start + n, "a scrape saw %d of %d: per process?" % (
            got - start, n)
        # The histogram counted every request the counter did.
        hist = values['vdispatch_request_duration_seconds_count{endpoint="/health",method="GET"}']
        assert hist == got, (hist, got)
        inf = values['vdispatch_request_duration_seconds_bucket{endpoint="/health",method="GET",le="+Inf"}']
        assert inf == hist
        assert values['vdispatch_request_duration_seconds_sum{endpoint="/health",method="GET"}'] > 0


def test_statuses_are_counted_apart(get):
    _, before, _, _ = scrape("/tickets/v1.0.0")
    key = 'vdispatch_requests_total{endpoint="/tickets/*",method="GET",status="400"}'
    for _ in range(3):
        status, _, _ = get("/tickets/v1.0.0/tickets/not-an-id")
        assert status == 400
    _, after, _, _ = scrape("/tickets/v1.0.0")
    if key not in after:  # the route's pattern before "/tickets/*" rows
        key = key.replace("/tickets/*", "/tickets/")
    assert after[key] - before.get(key, 0) >= 3, sorted(after)


def test_reply_feed_metrics_and_its_calls(get, stack):
    """The reply feed counts its own requests and the calls its
    subscription makes through libvdispatch (Ticket Subscribe)."""
    # A restart subscribes again at once: a call to count.
    res = stack("stop", "replyfeed")
    assert res.returncode == 0, res.stderr
    res = stack("start", "replyfeed")
    assert res.returncode == 0, res.stderr

    def subscribed():
        _, values, _, _ = scrape("/replyfeed/v1.0.0")
        ok = [k for k, v in values.items()
              if k.startswith('vdispatch_dispatch_attempts_total{service="Ticket Subscribe"')
              and 'result="ok"' in k and v >= 1]
        return values if ok else None
    values = wait_until(subscribed, 30, interval=0.5,
                        what="a counted Ticket Subscribe call")
    states = [k for k in values if k.startswith(
        'vdispatch_breaker_state{service="Ticket Subscribe"')]
    assert states, "no breaker state for the versions called"
    assert all(values[k] in (0, 1, 2) for k in states)
    # A breaker per version and host: the host the call reached is a label.
    host = 'host="%s"' % BASE
    assert all(host in k for k in states), states
    assert values["vdispatch_workers"] == workers_of("replyfeed", "1.0.0")
    # nginx serves /latestReplies from a file; /health reaches a worker.
    status, _, _ = get("/replyfeed/v1.0.0/health")
    assert status == 200
    _, values, _, _ = scrape("/replyfeed/v1.0.0")
    assert requests_of(values, "/health") >= 1


def long_rid():
    """128 visible characters, punctuation too (responders used to cut an
    id at 39 characters, and nginx took 64 at most)."""
    rid = "e2e-" + uuid.uuid4().hex + ":a/b+c=;Root=1-5f1d"
    return rid + "x" * (128 - len(rid))


@pytest.mark.parametrize("rid", [lambda: "e2e-" + uuid.uuid4().hex, long_rid],
                         ids=["short", "128 characters"])
def test_request_id_is_echoed_and_logged(post, rid):
    rid = rid()
    message = unique("request id")
    status, headers, body = post("/tickets/v1.0.0/tickets/addComment",
                                 {"ticketId": TICKET, "user": "e2e",
                                  "message": message},
                                 headers={"X-Request-Id": rid})
    assert status == 200, body
    assert headers.get("X-Request-Id") == rid
    log = STATE / "logs" / "tickets-1.0.0.log"
    wait_until(lambda: ("rid=%s " % rid) in log.read_text(errors="replace"),
               10, what="the request id in the service log")
    wait_until(lambda: ("rid=%s" % rid) in ACCESS_LOG.read_text(errors="replace"),
               10, what="the request id in nginx's access log")


def test_request_id_made_by_nginx_when_missing_or_unusable(get):
    status, headers, _ = get("/tickets/v1.0.0/health")
    assert status == 200
    assert re.fullmatch(r"[0-9a-f]{32}", headers.get("X-Request-Id", "")), \
        headers.get("X-Request-Id")
    for bad in ("bad id; with spaces", long_rid() + "x", "tab\there"):
        status, headers, _ = get("/tickets/v1.0.0/health",
                                 headers={"X-Request-Id": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", headers.get("X-Request-Id", ""))
    # nginx's own errors carry one too.
    status, headers, _ = get("/nosuch/v1.0.0/x",
                             headers={"X-Request-Id": "e2e-404"})
    assert status == 404
    assert headers.get("X-Request-Id") == "e2e-404"


def test_request_id_follows_a_failed_query(get):
    """A 5xx is an event: the responder logs it with the request id."""
    log = STATE / "logs" / "tickets-1.0.1.log"
    for _ in range(40):
        rid = "e2e-" + uuid.uuid4().hex
        status, headers, _ = get("/tickets/v1.0.1/tickets",
                                 headers={"X-Request-Id": rid})
        assert headers.get("X-Request-Id") == rid
        if status == 500:
            break
    else:
        raise AssertionError("1.0.1 answered 40 queries without failing")
    wait_until(lambda: ("rid=%s GET /tickets/v1.0.1/tickets status=500" % rid)
               in log.read_text(errors="replace"), 10,
               what="the failed query in the log")


def test_subscription_calls_carry_a_request_id():
    """The reply feed's Ticket Subscribe calls send X-Request-Id: nginx's
    access log shows it on the tickets service's subscribeToComments."""
    pattern = re.compile(r'"POST /tickets/v[0-9.]+/tickets/subscribeToComments '
                         r'.* rid=sub-[0-9a-f]+$', re.M)
    wait_until(lambda: pattern.search(ACCESS_LOG.read_text(errors="replace")),
               70, interval=1, what="a subscribe call with its request id")
    # Still answering queries in between.
    assert get_tickets()
