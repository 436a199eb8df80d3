"""The reply feed's latest replies as nginx serves them from a file its
workers keep current: never stale after an event is acknowledged, the same
answer the database gives, ETag and 304, JSON errors for other methods."""

import json
import os
import subprocess

from conftest import STATE, event_headers, request, unique

FEED = "/replyfeed/v1.0.0"


def post_event(message):
    body = json.dumps({"id": "evt_" + os.urandom(12).hex(),
                       "ticketId": "5f1d7a9e2c3b4a5d6e7f8a01",
                       "title": "t", "user": "e2e",
                       "message": message}).encode()
    status, _, reply = request("POST", FEED + "/replyEvent", body,
                               event_headers(body))
    assert status == 200, reply
    return reply


def from_database():
    """What a worker answers, asked on its socket (the database's view)."""
    out = subprocess.run(
        ["cgi-fcgi", "-bind", "-connect",
         str(STATE / "sockets" / "replyfeed-1.0.0.sock")],
        env={"REQUEST_METHOD": "GET", "PATH_INFO": "/latestReplies",
             "SCRIPT_NAME": FEED},
        capture_output=True, timeout=20, check=True).stdout
    return json.loads(out.split(b"\r\n\r\n", 1)[1])


def test_an_acknowledged_event_is_read_at_once(get):
    for i in range(3):
        message = unique("read at once %d" % i)
        post_event(message)
        status, _, latest = get(FEED + "/latestReplies")
        assert status == 200
        assert latest[-1]["message"] == message
    assert latest == from_database()


def test_etag_and_304(get):
    status, headers, _ = get(FEED + "/latestReplies")
    assert status == 200
    etag = headers["ETag"]
    assert "no-cache" in headers["Cache-Control"]
    status, _, _ = request("GET", FEED + "/latestReplies",
                           headers={"If-None-Match": etag})
    assert status == 304
    post_event(unique("changes the etag"))
    status, headers, _ = request("GET", FEED + "/latestReplies",
                                 headers={"If-None-Match": etag})
    assert status == 200
    assert headers["ETag"] != etag


def test_other_methods_are_json_errors():
    status, headers, body = request("POST", FEED + "/latestReplies", {})
    assert status == 405
    assert headers["Content-Type"].startswith("application/json")
    assert body["error"]
