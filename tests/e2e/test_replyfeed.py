"""The reply feed: latest 10 replies, oldest first, fed by the events."""

import json
import uuid
from datetime import datetime, timezone

from conftest import encode_body, wait_until

TICKET = "5f1d7a9e2c3b4a5d6e7f8a05"
LATEST = "/replyfeed/v1.0.0/latestReplies"


def latest(get):
    status, headers, body = get(LATEST)
    assert status == 200, body
    assert headers.get("Content-Type", "").startswith("application/json")
    assert isinstance(body, list)
    return body


def messages(get):
    return [r.get("message") for r in latest(get)]


def test_latest_replies_is_a_list_of_at_most_10(get):
    body = latest(get)
    assert len(body) <= 10
    for reply in body:
        for field in ("ticketId", "user", "message"):
            assert isinstance(reply.get(field), str), reply


def test_a_comment_reaches_the_feed(get, post, unique):
    message = unique("to the feed")
    status, _, body = post("/tickets/v1.0.1/tickets/addComment",
                           {"ticketId": TICKET, "user": "e2e", "message": message})
    assert status == 200, body
    wait_until(lambda: message in messages(get), 20, what="the reply in the feed")
    reply = next(r for r in latest(get) if r.get("message") == message)
    assert reply["ticketId"] == TICKET
    assert reply["user"] == "e2e"


def test_feed_keeps_the_latest_10_oldest_first(get, post, unique):
    ours = [unique("feed %02d" % i) for i in range(12)]
    for m in ours:
        status, _, body = post("/tickets/v1.0.0/tickets/addComment",
                               {"ticketId": TICKET, "user": "e2e", "message": m})
        assert status == 200, body
    wait_until(lambda: messages(get) == ours[-10:], 30,
               what="the feed to show our last 10 replies in order")


def send_event(post, event_headers, event):
    raw = encode_body(event)
    return post("/replyfeed/v1.0.0/replyEvent", raw, event_headers(raw))


def new_event(message):
    return {"id": uuid.uuid4().hex, "type": "reply.created", "ticketId": TICKET,
            "title": "Password reset email never arrives", "user": "e2e",
            "message": message,
            "createdAt": datetime.now(timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")}


def test_a_repeated_event_is_shown_once(get, post, unique, event_headers):
    event = new_event(unique("duplicate event"))
    for _ in range(3):
        status, _, body = send_event(post, event_headers, event)
        assert status == 200, body
    assert messages(get).count(event["message"]) == 1


def test_event_fields_come_back_unchanged(get, post, unique, event_headers):
    event = new_event(unique('feed text "é" \\ ✓'))
    status, _, body = send_event(post, event_headers, event)
    assert status == 200, body
    reply = next(r for r in latest(get) if r.get("message") == event["message"])
    for field in ("ticketId", "title", "user", "message"):
        assert reply[field] == event[field], json.dumps(reply)
