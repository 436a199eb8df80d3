"""GET /tickets/vX.Y.Z/registry: the service registry over HTTP, read by
the tickets service through libvdispatch (vd_lookup), public like the
ticket list."""

import datetime
import time

from conftest import BASE, request, unique, wait_until

FIELDS = {"name", "version", "host", "url", "endpoints", "lastSeen",
          "lastSeenAgo", "stale"}


def registry(version="1.0.0"):
    status, headers, body = request("GET", "/tickets/v%s/registry" % version,
                                    headers={"Authorization": None})
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    return body


def find(body, name, version):
    return [e for e in body["entries"]
            if e["name"] == name and e["version"] == version]


def test_the_registry_lists_the_running_versions_without_a_token():
    for version in ("1.0.0", "1.0.1"):
        body = registry(version)
        assert body["staleAfter"] == 30
        assert body["entries"], body
        for e in body["entries"]:
            assert set(e) == FIELDS, e
            assert isinstance(e["stale"], bool)
            assert e["lastSeen"] is None or e["lastSeen"].endswith("Z")
        for name, v, path in (("Ticket Query", "1.0.1", "/tickets/v1.0.1/tickets"),
                              ("Ticket Query", "1.0.0", "/tickets/v1.0.0/tickets"),
                              ("Ticket Latest Replies", "1.0.0",
                               "/replyfeed/v1.0.0/latestReplies")):
            mine = [e for e in find(body, name, v) if e["host"] == BASE]
            assert len(mine) == 1, (name, v, body)
            e = mine[0]
            assert e["url"] == path
            assert e["endpoints"][0]["url"] == BASE + path
            # Heartbeats every 10 s: live, seen within the stale limit.
            assert e["stale"] is False and 0 <= e["lastSeenAgo"] <= 30, e


def test_a_version_registered_appears_and_goes(dispatch):
    name = "Registry Probe " + unique()
    res = dispatch("register", "--get", "http://127.0.0.1:9/probe", "--url",
                   "/probe", name, "7.8.9")
    assert res.returncode == 0, res.stderr
    try:
        e = wait_until(lambda: find(registry(), name, "7.8.9"), 10,
                       what="the new entry")[0]
        assert e["host"] == "http://127.0.0.1:9" and e["url"] == "/probe"
        assert e["endpoints"] == [{"type": "http-get", "url": "http://127.0.0.1:9/probe"}]
        assert e["stale"] is False and e["lastSeenAgo"] <= 5, e
        seen = datetime.datetime.fromisoformat(e["lastSeen"].replace("Z", "+00:00"))
        assert abs(seen.timestamp() - time.time()) < 60, e["lastSeen"]
    finally:
        res = dispatch("unregister", name, "7.8.9")
        assert res.returncode == 0, res.stderr
    assert not find(registry(), name, "7.8.9")


def test_the_registry_is_read_only():
    for method in ("POST", "PUT", "DELETE"):
        status, headers, body = request(method, "/tickets/v1.0.0/registry",
                                        body={"name": "x"})
        assert status == 405, (method, body)
        assert body["error"] == "method not allowed", body
        assert "GET" in body["detail"] and "GET" in headers["Allow"]
