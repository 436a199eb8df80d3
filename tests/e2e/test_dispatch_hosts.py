"""The registry knows hosts (issue 15, item 2), on one machine: one version
registered by two hosts (two URLs of the same version), one of them down.
A call tries the other host of the newest version before it falls back to
an older version; each host has its own circuit breaker; registering is
idempotent per host; `dispatch list` shows the hosts; unregistering one
host leaves the other's entry.

The hosts are played by HTTP servers of the test's own on 127.0.0.1 (each
port a host) and by a port where nothing listens (a host that is down),
registered under a name no other test uses; the stack's own services show
that the responders register their host (their public URL).
"""

import json
import os
import socket
import uuid

import pytest

from conftest import BINDIR, run
from test_dispatch_resilience import FakeService, summary

DISPATCH = str(BINDIR / "dispatch")
ENV = {k: v for k, v in os.environ.items() if k != "VD_REGISTRY_CACHE"}


def dispatch(*args, timeout=60):
    return run([DISPATCH, *args], timeout, env=ENV)


def attempts(stderr):
    return [l for l in stderr.splitlines() if l.startswith("calling ")]


def dead_host():
    """A base URL on 127.0.0.1 where nothing listens (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "http://127.0.0.1:%d" % port


@pytest.fixture
def hosts():
    """Two live hosts (a, b) of the test's own, and a service name; every
    entry of that name is removed afterwards."""
    a, b = FakeService(), FakeService()
    name = "Hosts Probe %s" % uuid.uuid4().hex[:8]
    versions = set()

    def register(version, url):
        res = dispatch("register", "--get", url, name, version)
        assert res.returncode == 0, res.stderr
        versions.add(version)
    try:
        yield a, b, name, register
    finally:
        for v in versions:
            dispatch("unregister", name, v)
        a.close()
        b.close()


def listed(name):
    res = dispatch("list", name)
    assert res.returncode == 0, res.stderr
    return [l for l in res.stdout.splitlines()[1:] if l.startswith(name)]


def test_two_hosts_of_one_version_are_two_entries(hosts):
    a, b, name, register = hosts
    register("1.0.1", a.route("/q", 200, ["a"]))
    register("1.0.1", b.route("/q", 200, ["b"]))
    # Registering again (the heartbeat) changes nothing: one per host.
    register("1.0.1", a.route("/q", 200, ["a"]))
    rows = listed(name)
    assert len(rows) == 2, rows
    assert any(a.base in r and " live " in r for r in rows), rows
    assert any(b.base in r and " live " in r for r in rows), rows
    # The HOST column names each host.
    assert {r.split()[len(name.split()) + 1] for r in rows} == {a.base, b.base}


def test_calls_spread_over_the_hosts_of_a_version(hosts):
    a, b, name, register = hosts
    register("1.0.1", a.route("/q", 200, ["a"]))
    register("1.0.1", b.route("/q", 200, ["b"]))
    res = dispatch("call", "--count", "40", "--json", name, "1.0.1")
    s = summary(res)
    assert s["outcomes"] == {"ok 1.0.1": 40}, s
    # One client turns from host to host: 20 calls each.
    assert s["hosts"] == {a.base: 20, b.base: 20}, s
    # Each process starts at a host of its own, then turns: both serve.
    res2 = [dispatch("call", name, "1.0.1") for _ in range(12)]
    answered = {json.loads(r.stdout)[0] for r in res2 if r.returncode == 0}
    assert len(a.hits_on("/q")) > 0 and len(b.hits_on("/q")) > 0, (
        a.hits, b.hits)
    assert answered == {"a", "b"}, answered


def test_a_down_host_costs_an_attempt_not_a_fallback(hosts):
    """1.0.1 at a dead host and at a live one, 1.0.0 at a third: a call
    that starts at the dead host goes to the live host of 1.0.1, never to
    1.0.0."""
    a, b, name, register = hosts
    dead = dead_host()
    register("1.0.1", dead + "/q")
    register("1.0.1", a.route("/q", 200, ["new"]))
    register("1.0.0", b.route("/old", 200, ["old"]))
    seen_dead_first = False
    for _ in range(16):
        res = dispatch("call", name, "1.0.1")
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == ["new"], res.stdout
        lines = attempts(res.stderr)
        if len(lines) == 2:
            seen_dead_first = True
            assert lines[0].startswith("calling %s 1.0.1 at %s ... failed"
                                       % (name, dead)), res.stderr
            assert lines[1] == "calling %s 1.0.1 at %s ... ok" % (
                name, a.base), res.stderr
        else:
            assert lines == ["calling %s 1.0.1 at %s ... ok" % (
                name, a.base)], res.stderr
    assert seen_dead_first, "no call started at the dead host in 16"
    assert b.hits_on("/old") == []


def test_breakers_are_per_host(hosts):
    """The dead host's circuit opens after 5 failures and it is skipped;
    the live host of the same version keeps answering every call."""
    a, b, name, register = hosts
    dead = dead_host()
    register("1.0.1", dead + "/q")
    register("1.0.1", a.route("/q", 200, ["new"]))
    register("1.0.0", b.route("/old", 200, ["old"]))
    res = dispatch("call", "--count", "60", "--breaker",
                   "open=60000,max-open=60000", "--json", name, "1.0.1")
    s = summary(res)
    assert res.returncode == 0, res.stderr
    assert s["outcomes"] == {"ok 1.0.1": 60}, s
    assert len(a.hits_on("/q")) == 60
    assert b.hits_on("/old") == []
    v = s["versions"]["1.0.1"]
    assert v["failed"] == 5, s          # then its circuit is open ...
    assert v["skipped"] >= 1, s         # ... and the dead host skipped
    assert s["breaker"]["1.0.1"]["open"] == 1, s
    assert "circuit of %s 1.0.1 at %s open" % (name, dead) in res.stderr


def test_every_host_down_falls_back_to_the_older_version(hosts):
    a, b, name, register = hosts
    dead1, dead2 = dead_host(), dead_host()
    register("1.0.1", dead1 + "/q")
    register("1.0.1", dead2 + "/q")
    register("1.0.0", b.route("/old", 200, ["old"]))
    res = dispatch("call", name, "1.0.1")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == ["old"]
    lines = attempts(res.stderr)
    assert len(lines) == 3, res.stderr
    assert {lines[0].split(" at ")[1].split()[0],
            lines[1].split(" at ")[1].split()[0]} == {dead1, dead2}, lines
    assert lines[2] == "calling %s 1.0.0 ... ok" % name, lines


def test_unregister_one_host_keeps_the_other(hosts):
    a, b, name, register = hosts
    register("1.0.1", a.route("/q", 200, ["a"]))
    register("1.0.1", b.route("/q", 200, ["b"]))
    res = dispatch("unregister", "--host", a.base + "/anything", name,
                   "1.0.1")
    assert res.returncode == 0, res.stderr
    rows = listed(name)
    assert len(rows) == 1 and b.base in rows[0], rows
    res = dispatch("unregister", "--host", "not a url", name, "1.0.1")
    assert res.returncode == 64, res.stderr
    assert len(listed(name)) == 1


def test_the_services_register_their_public_url_as_host():
    res = dispatch("list", "Ticket Query")
    assert res.returncode == 0, res.stderr
    public = os.environ["VD_PUBLIC_URL"].rstrip("/")
    live = [l for l in res.stdout.splitlines() if " live " in l]
    assert live, res.stdout
    for line in live:
        assert " %s " % public in line, line
