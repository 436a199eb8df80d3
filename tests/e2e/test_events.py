"""Events that are never lost, never forged, and can be seen and replayed:
Standard Webhooks signatures (and their rotation), the reply feed refusing
what does not verify, retries, 410, dead letters and their replay, the
allow-list, per-ticket sequence numbers. The stack runs with the test
settings of spawn/stack check (retries over 30 s, loopback allowed)."""

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import (SECRET_FILE, STACK, event_headers, request, unique,
                      wait_until)

TICKET = "5f1d7a9e2c3b4a5d6e7f8a05"


def must(res):
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def signatures_verify(secret, delivery):
    """Whether one of the v1 signatures of a delivery verifies with
    secret (a whsec_ string), as a receiver would check it."""
    h = {k.lower(): v for k, v in delivery["headers"].items()}
    key = base64.b64decode(secret[len("whsec_"):])
    signed = b"%s.%s.%s" % (h["webhook-id"].encode(),
                            h["webhook-timestamp"].encode(), delivery["raw"])
    want = "v1," + base64.b64encode(
        hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(want, s)
               for s in h["webhook-signature"].split())


def new_secret():
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def subscribe(post, url):
    status, _, body = post("/tickets/v1.0.0/tickets/subscribeToComments",
                           {"url": url})
    assert status == 200, body
    return body


def subscription_id(get, url):
    status, _, subs = get("/tickets/v1.0.0/tickets/subscriptions")
    assert status == 200
    return next(s["id"] for s in subs if s["url"] == url)


def comment(post, message, version="1.0.0", ticket=TICKET):
    status, _, body = post("/tickets/v%s/tickets/addComment" % version,
                           {"ticketId": ticket, "user": "e2e",
                            "message": message})
    assert status == 200, body
    return body


def restart(part, **env):
    """spawn/stack stop and start PART with these environment changes (a
    value of None removes the variable)."""
    e = dict(os.environ)
    for k, v in env.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    for cmd in ("stop", "start"):
        res = subprocess.run([STACK, cmd, part], capture_output=True,
                             text=True, timeout=120, env=e, check=False)
        assert res.returncode == 0, res.stdout + res.stderr


# --- signatures ---------------------------------------------------------------

def test_events_are_signed_with_the_stack_secret(post, subscriber):
    subscribe(post, subscriber.url)
    message = unique("signed")
    reply = comment(post, message)
    wait_until(lambda: subscriber.events(message), 10, what="the event")
    d = next(d for d in subscriber.received()
             if isinstance(d["body"], dict) and d["body"].get("message") == message)
    h = {k.lower(): v for k, v in d["headers"].items()}
    assert h["webhook-id"] == d["body"]["id"] == reply["eventId"]
    assert abs(int(h["webhook-timestamp"]) - time.time()) < 60
    assert signatures_verify(SECRET_FILE.read_text().strip(), d)
    assert not signatures_verify(new_secret(), d)


def test_rotation_with_two_secrets(get, post, subscriber):
    """Tickets sign with the old and the new secret; a receiver that knows
    only the new one (the reply feed, restarted with it) takes the events,
    as does one that knows only the old one."""
    old = SECRET_FILE.read_text().strip()
    new = new_secret()
    subscribe(post, subscriber.url)
    restart("tickets", EVENTS_SECRET=new + "," + old)
    restart("replyfeed", EVENTS_SECRET=new)
    try:
        message = unique("rotation")
        comment(post, message)
        wait_until(lambda: subscriber.events(message), 15, what="the event")
        d = next(d for d in subscriber.received()
                 if isinstance(d["body"], dict)
                 and d["body"].get("message") == message)
        sigs = {k.lower(): v for k, v in d["headers"].items()}[
            "webhook-signature"].split()
        assert len(sigs) == 2
        assert signatures_verify(new, d) and signatures_verify(old, d)

        def in_feed():
            status, _, body = get("/replyfeed/v1.0.0/latestReplies")
            return status == 200 and any(r["message"] == message for r in body)
        wait_until(in_feed, 20, what="the feed on the new secret took it")
    finally:
        restart("tickets", EVENTS_SECRET=None)
        restart("replyfeed", EVENTS_SECRET=None)


def signed_event(message, ts=None, secret=None):
    body = json.dumps({"id": "evt_" + os.urandom(12).hex(), "ticketId": TICKET,
                       "title": "t", "user": "e2e",
                       "message": message}).encode()
    headers = event_headers(body)
    if ts is not None or secret is not None:
        key = base64.b64decode((secret or SECRET_FILE.read_text().strip())[6:])
        stamp = str(ts if ts is not None else int(time.time()))
        signed = b"%s.%s.%s" % (headers["webhook-id"].encode(),
                                stamp.encode(), body)
        headers["webhook-timestamp"] = stamp
        headers["webhook-signature"] = "v1," + base64.b64encode(
            hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return body, headers


@pytest.mark.parametrize("case,error", [
    ("unsigned", "missing signature"),
    ("other secret", "invalid signature"),
    ("ten minutes old", "stale timestamp"),
    ("tampered", "invalid signature"),
])
def test_feed_refuses_what_does_not_verify(get, case, error):
    message = unique("forged " + case)
    if case == "unsigned":
        body, headers = signed_event(message)
        for k in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            headers.pop(k)
    elif case == "other secret":
        body, headers = signed_event(message, secret=new_secret())
    elif case == "ten minutes old":
        body, headers = signed_event(message, ts=int(time.time()) - 600)
    else:
        body, headers = signed_event(message)
        body = body.replace(b'"e2e"', b'"mallory"')
    status, _, reply = request("POST", "/replyfeed/v1.0.0/replyEvent", body,
                               headers)
    assert status == 401, reply
    assert reply["error"] == error
    assert reply["detail"]
    status, _, latest = get("/replyfeed/v1.0.0/latestReplies")
    assert all(r["message"] != message for r in latest)


def test_feed_takes_a_signed_event_once(get):
    message = unique("signed by hand")
    body, headers = signed_event(message)
    for _ in range(2):
        status, _, reply = request("POST", "/replyfeed/v1.0.0/replyEvent",
                                   body, headers)
        assert status == 200, reply
    status, _, latest = get("/replyfeed/v1.0.0/latestReplies")
    assert [r["message"] for r in latest].count(message) == 1


# --- delivery -----------------------------------------------------------------

def test_a_500_then_200_is_retried_and_recorded(get, post, subscriber):
    subscribe(post, subscriber.url)
    subscriber.respond(500)
    message = unique("500 then 200")
    reply = comment(post, message)
    wait_until(lambda: subscriber.events(message), 10, what="the first try")
    subscriber.respond(200)
    wait_until(lambda: subscriber.events(message, accepted_only=True), 20,
               what="the retry")
    tries = [d for d in subscriber.received() if isinstance(d["body"], dict)
             and d["body"].get("message") == message]
    assert [d["status"] for d in tries][:1] == [500]
    assert tries[-1]["status"] == 200
    ids = {{k.lower(): v for k, v in d["headers"].items()}["webhook-id"]
           for d in tries}
    assert ids == {reply["eventId"]}

    def recorded():
        status, _, ev = get("/tickets/v1.0.0/tickets/events/" + reply["eventId"])
        mine = [a for a in ev.get("failedAttempts", [])
                if a["url"] == subscriber.url]
        sub = subscription_id(get, subscriber.url)
        went = [d for d in ev.get("deliveries", [])
                if d["subscription"] == sub]
        return status == 200 and len(mine) >= 2 and mine[0]["status"] == 500 \
            and mine[-1]["ok"] and ev["settled"] and went and \
            went[0]["outcome"] == "delivered" and went[0]["attempts"] >= 2
    wait_until(recorded, 15, what="the attempts in the event's record")


def test_a_410_disables_the_subscription(get, post, subscriber):
    subscribe(post, subscriber.url)
    sub = subscription_id(get, subscriber.url)
    subscriber.respond(410)
    first = unique("before 410")
    comment(post, first)
    wait_until(lambda: subscriber.events(first), 10, what="the 410")

    def disabled():
        status, _, s = get("/tickets/v1.0.0/tickets/subscriptions/" + sub)
        return status == 200 and s["state"] == "disabled"
    wait_until(disabled, 10, what="the subscription disabled")
    status, _, s = get("/tickets/v1.0.0/tickets/subscriptions/" + sub)
    assert "410" in s["disabledReason"]
    subscriber.respond(200)
    second = unique("after 410")
    comment(post, second)
    time.sleep(3)
    assert subscriber.events(second) == []
    # Subscribing again enables it.
    subscribe(post, subscriber.url)
    third = unique("enabled again")
    comment(post, third)
    wait_until(lambda: subscriber.events(third, accepted_only=True), 15,
               what="events after subscribing again")


def test_a_dead_letter_is_kept_and_replayed(get, post, subscriber):
    subscribe(post, subscriber.url)
    sub = subscription_id(get, subscriber.url)
    subscriber.respond(503)
    message = unique("dead letter")
    reply = comment(post, message)
    event = reply["eventId"]

    def dead():
        status, _, letters = get("/tickets/v1.0.0/tickets/deadletters"
                                 "?subscription=" + sub)
        return status == 200 and any(d["eventId"] == event for d in letters)
    # The test schedule (0,1,2,4,8,15) ends within about 30 s.
    wait_until(dead, 60, interval=1, what="the dead letter")
    subscriber.respond(200)
    assert subscriber.events(message, accepted_only=True) == []
    status, _, body = post("/tickets/v1.0.1/tickets/events/%s/replay" % event,
                           {})
    assert status == 202, body
    assert body["subscriptions"] == [sub]
    wait_until(lambda: subscriber.events(message, accepted_only=True), 15,
               what="the replayed event")
    wait_until(lambda: not dead(), 10, what="the dead letter forgotten")
    # Nothing left to replay; replaying to a named subscription works.
    status, _, body = post("/tickets/v1.0.0/tickets/events/%s/replay" % event,
                           {})
    assert status == 409, body
    status, _, body = post("/tickets/v1.0.0/tickets/events/%s/replay" % event,
                           {"subscription": sub})
    assert status == 202, body
    wait_until(lambda: len(subscriber.events(message, accepted_only=True)) == 2,
               15, what="the second replay")


def test_a_dead_letter_of_a_disabled_subscription_is_not_replayed_to_nobody(
        get, post, subscriber):
    """A replay of a dead letter whose subscription is disabled (410) was
    answered 202, "queued": 1, and sent nowhere (no process queues events
    for a disabled subscription); it is refused with 409 and the letter
    kept, until the URL is subscribed again."""
    subscribe(post, subscriber.url)
    sub = subscription_id(get, subscriber.url)
    subscriber.respond(410)
    message = unique("gone, then back")
    event = comment(post, message)["eventId"]

    def dead_and_disabled():
        _, _, letters = get("/tickets/v1.0.0/tickets/deadletters?subscription=" + sub)
        _, _, s = get("/tickets/v1.0.0/tickets/subscriptions/" + sub)
        return any(d["eventId"] == event for d in letters) and s["state"] == "disabled"
    wait_until(dead_and_disabled, 15, what="the dead letter, the subscription disabled")
    subscriber.respond(200)
    status, _, body = post("/tickets/v1.0.1/tickets/events/%s/replay" % event, {})
    assert status == 409, body
    assert body["error"] == "subscription disabled" and event in body["detail"]
    time.sleep(2)
    assert subscriber.events(message, accepted_only=True) == []
    assert dead_and_disabled()
    # Subscribed again: the same replay goes through, once.
    subscribe(post, subscriber.url)
    status, _, body = post("/tickets/v1.0.0/tickets/events/%s/replay" % event, {})
    assert status == 202, body
    assert body["subscriptions"] == [sub]
    wait_until(lambda: subscriber.events(message, accepted_only=True), 15,
               what="the replayed event")


def test_replay_since_a_time(get, post, subscriber):
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    messages = [unique("since %d" % i) for i in range(3)]
    for m in messages:
        comment(post, m)
    subscribe(post, subscriber.url)
    sub = subscription_id(get, subscriber.url)
    # Subscribed after the replies: nothing came; a replay sends them.
    time.sleep(1)
    assert all(subscriber.events(m) == [] for m in messages)
    status, _, body = post("/tickets/v1.0.0/tickets/subscriptions/%s/replay"
                           % sub, {"since": start})
    assert status == 202, body
    assert body["queued"] >= 3
    wait_until(lambda: all(subscriber.events(m, accepted_only=True)
                           for m in messages), 15, what="the replayed events")


def test_subscriptions_show_their_state(get, post, subscriber):
    subscribe(post, subscriber.url)
    sub = subscription_id(get, subscriber.url)
    message = unique("state")
    comment(post, message)
    wait_until(lambda: subscriber.events(message), 10, what="the event")

    def shown():
        status, _, s = get("/tickets/v1.0.1/tickets/subscriptions/" + sub)
        return status == 200 and s["state"] == "active" and \
            "lastSuccess" in s and s["consecutiveFailures"] == 0
    wait_until(shown, 10, what="the last success")
    status, _, s = get("/tickets/v1.0.0/tickets/subscriptions/" + "0" * 24)
    assert status == 404


def test_a_stopped_subscriber_gets_every_event_once_back(get, post, stack):
    messages = [unique("feed down %d" % i) for i in range(5)]
    must(stack("stop", "replyfeed"))
    try:
        for i, m in enumerate(messages):
            comment(post, m, version="1.0.%d" % (i % 2))
        time.sleep(3)
    finally:
        must(stack("start", "replyfeed"))

    def all_there():
        status, _, latest = get("/replyfeed/v1.0.0/latestReplies")
        got = [r["message"] for r in latest] if status == 200 else []
        return all(got.count(m) == 1 for m in messages)
    wait_until(all_there, 45, what="every event, once, in the feed")


def test_events_of_a_ticket_are_numbered(post, subscriber):
    subscribe(post, subscriber.url)
    ticket = "5f1d7a9e2c3b4a5d6e7f8a06"
    first, second = unique("seq 1"), unique("seq 2")
    comment(post, first, ticket=ticket)
    comment(post, second, ticket=ticket, version="1.0.1")
    wait_until(lambda: subscriber.events(first) and subscriber.events(second),
               10, what="both events")
    a = subscriber.events(first)[0]["sequence"]
    b = subscriber.events(second)[0]["sequence"]
    assert isinstance(a, int) and b > a


# --- the allow-list ---------------------------------------------------------------

def test_a_url_off_the_allow_list_is_refused_and_never_contacted(post):
    # 127.0.0.2 is loopback too, but not on the test allow-list (127.0.0.1).
    listener = socket.socket()
    listener.bind(("127.0.0.2", 0))
    listener.listen(5)
    listener.settimeout(2)
    port = listener.getsockname()[1]
    try:
        for url in ("http://127.0.0.2:%d/hook" % port,
                    "http://no-such-host.invalid/hook",
                    "ftp://127.0.0.1/hook", "file:///etc/passwd"):
            status, _, body = post(
                "/tickets/v1.0.0/tickets/subscribeToComments", {"url": url})
            assert status == 400, (url, body)
            assert body["error"] == "invalid url"
        comment(post, unique("after refused subscriptions"))
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()


def test_racing_processes_never_repeat_a_sequence_number(post, subscriber):
    """Four processes (two versions, two workers each), each drawing the
    ticket's next number from what it last saw, claim numbers for the same
    ticket at once: every event carries a number of its own, none
    skipped."""
    subscribe(post, subscriber.url)
    ticket = "5f1d7a9e2c3b4a5d6e7f8a08"
    tag = unique("race")
    n_threads, per_thread = 8, 8
    failures = []

    def poster(k):
        for i in range(per_thread):
            try:
                comment(post, "%s %d-%d" % (tag, k, i), ("1.0.0", "1.0.1")[k % 2],
                        ticket=ticket)
            except AssertionError as e:
                failures.append(str(e))

    threads = [threading.Thread(target=poster, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    total = n_threads * per_thread

    def ours():
        got = {}
        for e in subscriber.events():
            if str(e.get("message", "")).startswith(tag + " "):
                got[e["message"]] = e["sequence"]
        return got if len(got) == total else None
    got = wait_until(ours, 30, what="every event")
    numbers = sorted(got.values())
    assert len(set(numbers)) == total, numbers
    assert numbers == list(range(numbers[0], numbers[0] + total)), numbers
