"""Subscriptions and events (docs/design.md, Events): shared by every version,
delivered at least once, with the article's fields plus id, type, createdAt."""

import re
import time

import pytest

from conftest import get_tickets, wait_until

TICKET = "5f1d7a9e2c3b4a5d6e7f8a04"
ISO_8601 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")


def title_of(ticket_id):
    return next(t["title"] for t in get_tickets() if t["_id"] == ticket_id)


def comment(post, version, message):
    status, _, body = post("/tickets/v%s/tickets/addComment" % version,
                           {"ticketId": TICKET, "user": "e2e", "message": message})
    assert status == 200, body


def subscribe(post, version, url, endpoint="subscribeToComments"):
    status, headers, body = post("/tickets/v%s/tickets/%s" % (version, endpoint),
                                 {"url": url})
    assert status == 200, body
    assert headers.get("Content-Type", "").startswith("application/json")


@pytest.mark.parametrize("sub_version,other", [("1.0.0", "1.0.1"), ("1.0.1", "1.0.0")])
def test_subscription_through_one_version_is_honoured_by_the_other(
        post, subscriber, unique, sub_version, other):
    subscribe(post, sub_version, subscriber.url)

    message = unique("event via %s" % other)
    comment(post, other, message)
    events = wait_until(lambda: subscriber.events(message), 20,
                        what="the event of the comment")
    event = events[0]
    assert event["ticketId"] == TICKET
    assert event["title"] == title_of(TICKET)
    assert event["user"] == "e2e"
    assert event["message"] == message
    assert event["type"] == "reply.created"
    assert isinstance(event["id"], str) and event["id"]
    assert isinstance(event["createdAt"], str) and ISO_8601.match(event["createdAt"]), event

    # Unsubscribed through the other version: no event for later comments.
    subscribe(post, other, subscriber.url, "unsubscribeToComments")
    later = unique("after unsubscribe")
    comment(post, sub_version, later)
    time.sleep(3)
    assert subscriber.events(later) == []


def test_one_event_per_reply_even_when_subscribed_twice(post, subscriber, unique):
    subscribe(post, "1.0.0", subscriber.url)
    subscribe(post, "1.0.1", subscriber.url)
    message = unique("subscribed twice")
    comment(post, "1.0.0", message)
    wait_until(lambda: subscriber.events(message), 20, what="the event")
    time.sleep(2)
    ids = {e["id"] for e in subscriber.events(message)}
    assert len(ids) == 1, subscriber.events(message)


def test_every_reply_gets_its_own_event_id(post, subscriber, unique):
    subscribe(post, "1.0.0", subscriber.url)
    messages = [unique("distinct %d" % i) for i in range(3)]
    for m in messages:
        comment(post, "1.0.1", m)
    wait_until(lambda: all(subscriber.events(m) for m in messages), 20,
               what="three events")
    ids = {subscriber.events(m)[0]["id"] for m in messages}
    assert len(ids) == 3


def test_event_reaches_a_subscriber_that_was_failing(post, subscriber, unique):
    subscriber.respond(500)
    subscribe(post, "1.0.0", subscriber.url)
    message = unique("retried")
    comment(post, "1.0.0", message)
    wait_until(lambda: subscriber.events(message), 20, what="a first delivery attempt")
    first_id = subscriber.events(message)[0]["id"]

    subscriber.respond(200)
    accepted = wait_until(lambda: subscriber.events(message, accepted_only=True), 90,
                          what="the event delivered again after the subscriber recovered")
    assert accepted[0]["id"] == first_id


def test_slow_subscriber_does_not_slow_the_reply(post, subscriber, unique):
    subscriber.respond(200, delay=5.0)
    subscribe(post, "1.0.0", subscriber.url)
    started = time.monotonic()
    comment(post, "1.0.0", unique("slow subscriber"))
    assert time.monotonic() - started < 2.0, "the reply waited for the subscriber"


def test_subscribe_and_unsubscribe_are_idempotent(post, subscriber):
    for _ in range(2):
        subscribe(post, "1.0.1", subscriber.url)
    for _ in range(2):
        subscribe(post, "1.0.0", subscriber.url, "unsubscribeToComments")
