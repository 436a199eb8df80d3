"""Fail closed (issue 11, item 3): the reply feed refuses to run without a
secret unless told it is insecure, and bad input an attacker can send is
refused with a JSON 400 without taking a responder down."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time

from conftest import (BINDIR, SECRET_FILE, STACK, STATE, assert_json_error,
                      request, unique, wait_until)

TICKET = "5f1d7a9e2c3b4a5d6e7f8a05"
FEED = "/replyfeed/v1.0.0"


def sign(body, msg_id, ts=None):
    """Standard Webhooks headers for BODY under MSG_ID, with the stack's
    secret."""
    key = base64.b64decode(SECRET_FILE.read_text().strip()[len("whsec_"):])
    stamp = str(ts if ts is not None else int(time.time()))
    mac = hmac.new(key, b"%s.%s.%s" % (msg_id.encode(), stamp.encode(), body),
                   hashlib.sha256).digest()
    return {"Content-Type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": stamp,
            "webhook-signature": "v1," + base64.b64encode(mac).decode()}


def feed_alive():
    """The feed's workers answer (a request that reaches a dead one is a
    502)."""
    return all(request("GET", FEED + "/health")[0] == 200 for _ in range(6))


# --- no secret, no start --------------------------------------------------------

def start_feed_without_secret(*args):
    env = {k: v for k, v in os.environ.items() if k != "EVENTS_SECRET"}
    return subprocess.run([str(BINDIR / "replyfeed.fcgi"), *args],
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=30, env=env, check=False)


def test_feed_refuses_to_start_without_a_secret():
    res = start_feed_without_secret("--api-version", "1.0.0")
    assert res.returncode == 64, res.stderr
    assert "EVENTS_SECRET" in res.stderr
    assert "--insecure-no-signature" in res.stderr


def test_feed_without_a_secret_says_it_is_insecure_at_start():
    # Past the secret check, it stops at the missing FastCGI socket: what
    # matters is that it got there, and warned on the way.
    res = start_feed_without_secret("--api-version", "1.0.0",
                                    "--insecure-no-signature")
    assert res.returncode == 1, res.stderr
    assert "FastCGI" in res.stderr
    assert "insecure" in res.stderr and "signature" in res.stderr
    assert " warn " in res.stderr


# --- the reply feed's event ids -------------------------------------------------

def test_an_unusable_webhook_id_is_a_400_not_a_crash(get):
    """No id in the body, a webhook-id of 101 characters: the feed used to
    compare the header with a NULL id and its worker died."""
    message = unique("long webhook-id")
    body = json.dumps({"ticketId": TICKET, "title": "t", "user": "e2e",
                       "message": message}).encode()
    for _ in range(4):      # more than the feed has workers
        status, headers, reply = request("POST", FEED + "/replyEvent", body,
                                         sign(body, "w" * 101))
        assert_json_error(status, headers, reply, 400)
        assert "webhook-id" in reply["detail"]
    assert feed_alive()
    status, _, latest = get(FEED + "/latestReplies")
    assert all(r["message"] != message for r in latest)


# --- NUL in strings ----------------------------------------------------------------

def test_a_nul_in_a_comment_is_a_400_and_stores_nothing(post, unchanged):
    """cJSON cuts a string at \\u0000: the ticket id passed validation and
    the message was stored cut."""
    message = unique("nul")
    bodies = [
        '{"ticketId":"%s\\u0000x","user":"e2e","message":"%s"}' % (TICKET, message),
        '{"ticketId":"%s","user":"e2e","message":"%s\\u0000cut"}' % (TICKET, message),
        '{"ticketId":"%s","user":"e2e\\u0000","message":"%s"}' % (TICKET, message),
    ]
    with unchanged():
        for body in bodies:
            status, headers, reply = post("/tickets/v1.0.0/tickets/addComment",
                                          body)
            assert_json_error(status, headers, reply, 400)
            assert "NUL" in reply["detail"]


def test_a_nul_in_an_event_is_a_400(get):
    message = unique("nul event")
    body = ('{"id":"evt_nul_%s","ticketId":"%s","title":"t","user":"e2e",'
            '"message":"%s\\u0000cut"}' % (os.urandom(6).hex(), TICKET,
                                           message)).encode()
    status, headers, reply = request("POST", FEED + "/replyEvent", body,
                                     sign(body, json.loads(body)["id"]))
    assert_json_error(status, headers, reply, 400)
    status, _, latest = get(FEED + "/latestReplies")
    assert all(not r["message"].startswith(message) for r in latest)


def test_an_escaped_backslash_before_u0000_is_no_nul(post, tickets,
                                                     find_reply):
    message = unique("backslash") + " \\u0000"
    status, _, reply = post("/tickets/v1.0.0/tickets/addComment",
                            {"ticketId": TICKET, "user": "e2e",
                             "message": message})
    assert status == 200, reply
    assert find_reply(tickets(), TICKET, message)


# --- log injection -------------------------------------------------------------------

def test_a_newline_in_a_user_name_cannot_forge_a_log_line(post):
    """The tickets service logs who added a reply: a user name with a
    newline used to start a line of its own, one that reads as the
    service's."""
    marker = unique("forged").replace(" ", "-")
    forged = "2026-01-01T00:00:00.000Z tickets@1.0.0[1] info " + marker
    logs = [STATE / "logs" / ("tickets-%s.log" % v) for v in ("1.0.0", "1.0.1")]
    status, _, reply = post("/tickets/v1.0.0/tickets/addComment",
                            {"ticketId": TICKET, "user": "ana\n" + forged +
                             "\r\x1b[2J",
                             "message": unique("log injection")})
    assert status == 200, reply

    def logged():
        return [line for f in logs if f.exists()
                for line in f.read_text(errors="replace").splitlines()
                if marker in line]
    lines = wait_until(logged, 10, what="the reply's log line")
    assert len(lines) == 1, lines
    assert not lines[0].startswith("2026-01-01"), lines
    assert "by ana\\x0a2026-01-01" in lines[0], lines
    assert "\\x0d\\x1b[2J" in lines[0] and "\x1b" not in lines[0], lines


# --- replays inside the signature's window --------------------------------------------

def post_event(message, created=None):
    event = {"id": "evt_%s" % os.urandom(12).hex(), "ticketId": TICKET,
             "title": "t", "user": "e2e", "message": message}
    if created:
        event["createdAt"] = created
    body = json.dumps(event).encode()
    return body, sign(body, event["id"])


def test_a_captured_event_replayed_after_100_newer_is_still_a_duplicate():
    """The feed keeps its newest 100 replies (--keep) and used to forget
    the ids of the others at its next prune: a signed request captured
    on the way could be sent again, within its 5 minutes, and was taken
    again."""
    captured = post_event(unique("captured"), "2026-01-01T00:00:00.000Z")
    status, _, reply = request("POST", FEED + "/replyEvent", *captured)
    assert status == 200 and reply["duplicate"] is False, reply
    for i in range(101):
        status, _, reply = request("POST", FEED + "/replyEvent",
                                   *post_event(unique("newer %d" % i)))
        assert status == 200, reply
    # A worker prunes after its first event, then every minute: restarted,
    # each prunes at once.
    for cmd in ("stop", "start"):
        res = subprocess.run([STACK, cmd, "replyfeed"], capture_output=True,
                             text=True, timeout=120, check=False)
        assert res.returncode == 0, res.stdout + res.stderr
    for i in range(6):
        status, _, reply = request("POST", FEED + "/replyEvent",
                                   *post_event(unique("prune %d" % i)))
        assert status == 200, reply
    time.sleep(1)       # prunes run after the answer
    status, _, reply = request("POST", FEED + "/replyEvent", *captured)
    assert status == 200, reply
    assert reply["duplicate"] is True, reply

