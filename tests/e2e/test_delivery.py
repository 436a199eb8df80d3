"""The article's scenario, and events that survive what their ends do: a
subscriber that was down gets them when it is back; responders killed
with SIGKILL right after accepting replies lose neither a reply nor an
event. Each test puts back what it stopped."""

import json
import os
import signal
import time

from conftest import STATE, find_reply, get_tickets, wait_until, worker_pids

TICKET = "5f1d7a9e2c3b4a5d6e7f8a04"


def must(res):
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def latest_messages(get):
    status, _, body = get("/replyfeed/v1.0.0/latestReplies")
    return [r.get("message") for r in body] if status == 200 else []


def test_the_articles_scenario(dispatch, get, unique):
    """Two comments through Ticket Add Comment 1.0.1 reach the feed; Ticket
    Query at 1.0.1 always answers, falling back to 1.0.0 when 1.0.1 fails,
    and the fallback is logged."""
    messages = [unique("scenario 1"), unique("scenario 2")]
    for m in messages:
        res = dispatch("call", "Ticket Add Comment", "1.0.1", json.dumps(
            {"ticketId": TICKET, "user": "TestUser", "message": m}))
        assert res.returncode == 0, res.stderr
        assert "calling Ticket Add Comment 1.0.1 ... ok" in res.stderr

    def both_in_feed():
        res = dispatch("call", "Ticket Latest Replies", "1.0.0")
        got = [r["message"] for r in json.loads(res.stdout)] \
            if res.returncode == 0 else []
        return all(m in got for m in messages)
    wait_until(both_in_feed, 15, what="both replies in the feed")

    fallbacks = 0
    for _ in range(30):
        res = dispatch("call", "Ticket Query", "1.0.1")
        assert res.returncode == 0, res.stderr
        assert len(json.loads(res.stdout)) >= 8
        lines = res.stderr.splitlines()
        assert lines[0].startswith("calling Ticket Query 1.0.1 ... ")
        if "failed: HTTP 500" in lines[0]:
            assert lines[1] == "calling Ticket Query 1.0.0 ... ok"
            fallbacks += 1
    # 1.0.1 fails half its queries: no failure in 30 is a 1e-9 chance.
    assert fallbacks > 0


def test_a_stopped_feed_gets_its_events_when_back(get, post, stack, unique):
    message = unique("while the feed is down")
    must(stack("stop", "replyfeed"))
    try:
        status, _, body = post("/tickets/v1.0.0/tickets/addComment",
                               {"ticketId": TICKET, "user": "e2e",
                                "message": message})
        assert status == 200, body
        time.sleep(1)
    finally:
        must(stack("start", "replyfeed"))
    wait_until(lambda: message in latest_messages(get), 45,
               what="the event after the feed came back")
    assert latest_messages(get).count(message) == 1


def tickets_pids():
    return worker_pids("tickets")


def refused_replies(post, subscriber, unique, label):
    """Subscribes subscriber, makes it answer 503, and adds 10 replies
    through both versions; returns their messages."""
    status, _, body = post("/tickets/v1.0.0/tickets/subscribeToComments",
                           {"url": subscriber.url})
    assert status == 200, body
    subscriber.respond(503)
    messages = [unique("%s %d" % (label, i)) for i in range(10)]
    for i, m in enumerate(messages):
        version = "1.0.0" if i % 2 else "1.0.1"
        status, _, body = post("/tickets/v%s/tickets/addComment" % version,
                               {"ticketId": TICKET, "user": "e2e",
                                "message": m})
        assert status == 200, body
    return messages


def test_kill_9_loses_no_reply_and_no_event(get, post, stack, subscriber,
                                            unique):
    """Replies accepted while the subscriber refuses events; then every
    tickets responder dies by SIGKILL. The restarted ones deliver every
    event, and every reply is stored once."""
    messages = refused_replies(post, subscriber, unique, "before kill -9")
    pids = tickets_pids()
    assert len(pids) >= 4
    try:
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
    finally:
        subscriber.respond(200)
        must(stack("start", "tickets"))

    def all_delivered():
        return all(subscriber.events(m, accepted_only=True) for m in messages)
    wait_until(all_delivered, 60, interval=0.5,
               what="every event after SIGKILL")
    tickets = get_tickets(timeout=30)
    for m in messages:
        assert len(find_reply(tickets, TICKET, m)) == 1, m
    # At least once, and the id names each event for receivers to dedupe.
    ids = {e["message"]: e["id"] for e in subscriber.events(accepted_only=True)
           if e.get("message") in messages}
    assert len(set(ids.values())) == len(messages)


def adoption_lines():
    lines = []
    for f in (STATE / "logs").glob("tickets-*.log"):
        lines += [l for l in f.read_text(errors="replace").splitlines()
                  if "adopted backlog" in l]
    return lines


def test_kill_9_of_a_failing_subscribers_backlog(get, post, stack, subscriber,
                                                 unique):
    """Events for a subscriber that keeps failing leave the pending
    collection for the backlog of the process that parked them; when every
    tickets responder dies by SIGKILL, a restarted one adopts that backlog
    and delivers it all once the subscriber is back."""
    messages = refused_replies(post, subscriber, unique, "parked")

    def failing():
        status, _, subs = get("/tickets/v1.0.0/tickets/subscriptions")
        mine = [s for s in subs if s["url"] == subscriber.url]
        return status == 200 and mine and mine[0]["state"] == "failing"
    wait_until(failing, 30, interval=0.5, what="the subscription failing")
    time.sleep(2)   # the parked events are written (every 0.5 s)
    before = len(adoption_lines())
    pids = tickets_pids()
    try:
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
    finally:
        must(stack("start", "tickets"))
    wait_until(lambda: len(adoption_lines()) > before, 30, interval=0.5,
               what="a backlog adopted")
    subscriber.respond(200)

    def all_delivered():
        return all(subscriber.events(m, accepted_only=True) for m in messages)
    wait_until(all_delivered, 60, interval=0.5,
               what="every parked event after SIGKILL")
