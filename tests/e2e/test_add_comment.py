"""POST /tickets/vX.Y.Z/tickets/addComment: the happy paths."""

import threading
import time
import uuid

import pytest

from conftest import find_reply, get_tickets, wait_until

TICKET = "5f1d7a9e2c3b4a5d6e7f8a03"


def replies_of(ticket_id):
    for t in get_tickets():
        if t["_id"] == ticket_id:
            return t.get("replies") or []
    raise AssertionError("ticket %s is gone" % ticket_id)


@pytest.mark.parametrize("version", ["1.0.0", "1.0.1"])
def test_comment_is_added_and_shown_with_the_ticket(post, unique, version):
    before = len(replies_of(TICKET))
    message = unique("comment through %s" % version)
    status, headers, body = post("/tickets/v%s/tickets/addComment" % version,
                                 {"ticketId": TICKET, "user": "e2e", "message": message})
    assert status == 200, body
    assert headers.get("Content-Type", "").startswith("application/json")
    replies = replies_of(TICKET)
    assert len(replies) == before + 1
    last = replies[-1]
    assert (last.get("user"), last.get("message")) == ("e2e", message), last


def test_comment_is_seen_through_the_other_version(post, unique):
    message = unique("shared data")
    status, _, body = post("/tickets/v1.0.1/tickets/addComment",
                           {"ticketId": TICKET, "user": "e2e", "message": message})
    assert status == 200, body
    assert len(find_reply(get_tickets("1.0.0"), TICKET, message)) == 1
    assert len(find_reply(get_tickets("1.0.1"), TICKET, message)) == 1


def test_text_is_stored_exactly(post, unique):
    message = unique('Grüße, 你好 ✓ "quoted" \\ back\\slash <b>not html</b>\nnew line')
    user = "Zoë O'Brien"
    status, _, body = post("/tickets/v1.0.0/tickets/addComment",
                           {"ticketId": TICKET, "user": user, "message": message})
    assert status == 200, body
    found = find_reply(get_tickets(), TICKET, message)
    assert len(found) == 1 and found[0]["user"] == user


def test_repeated_idempotency_key_applies_the_comment_once(post, unique):
    message = unique("idempotent")
    key = uuid.uuid4().hex
    comment = {"ticketId": TICKET, "user": "e2e", "message": message}
    first = post("/tickets/v1.0.0/tickets/addComment", comment,
                 {"Idempotency-Key": key})
    # The same key through the other version: shared, like the data.
    second = post("/tickets/v1.0.1/tickets/addComment", comment,
                  {"Idempotency-Key": key})
    assert first[0] == 200, first[2]
    assert second[0] == first[0], second[2]
    assert len(find_reply(get_tickets(), TICKET, message)) == 1


def test_concurrent_comments_on_one_ticket_are_all_kept(post, unique):
    """Replies are inserts: none is lost when several arrive at once."""
    messages = [unique("concurrent %d" % i) for i in range(8)]
    results = []

    def send(message, version):
        results.append(post("/tickets/v%s/tickets/addComment" % version,
                            {"ticketId": TICKET, "user": "e2e", "message": message})[0])

    threads = [threading.Thread(target=send, args=(m, "1.0.0" if i % 2 else "1.0.1"))
               for i, m in enumerate(messages)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == [200] * len(messages)

    def all_there():
        tickets = get_tickets()
        return all(len(find_reply(tickets, TICKET, m)) == 1 for m in messages)
    wait_until(all_there, 10, what="all concurrent replies")


def test_replies_sent_one_after_another_are_shown_in_that_order(get, post, unique):
    """A reply sent after another's 200 comes after it, in the ticket and
    in its createdAt, even when both fall in one millisecond and two
    workers (of either version) took them."""
    messages = [unique("in order %02d" % i) for i in range(20)]
    for i, m in enumerate(messages):
        status, _, body = post("/tickets/v%s/tickets/addComment" % ("1.0.0", "1.0.1")[i % 2],
                               {"ticketId": TICKET, "user": "e2e", "message": m})
        assert status == 200, body
    status, _, one = get("/tickets/v1.0.0/tickets/%s" % TICKET)
    assert status == 200, one
    ours = [r for r in one["replies"] if r["message"] in messages]
    assert [r["message"] for r in ours] == messages
    times = [r["createdAt"] for r in ours]
    assert all(a < b for a, b in zip(times, times[1:])), times


def test_a_read_right_after_the_200_sees_the_reply(get, post, unique):
    """The 200 comes once the reply is stored as its pending event; the
    outbox moves it into the replies a batch later. Every read in between
    (one ticket, the whole list, a page's replyCount, the event's view)
    sees it already, through either version, and once."""
    ticket = "5f1d7a9e2c3b4a5d6e7f8a07"
    page = "/tickets/v1.0.0/tickets?limit=1&after=5f1d7a9e2c3b4a5d6e7f8a06"
    status, _, first = get(page)
    assert status == 200 and first[0]["_id"] == ticket
    count = first[0]["replyCount"]
    for i in range(6):
        version = ("1.0.0", "1.0.1")[i % 2]
        message = unique("read after the 200 (%d)" % i)
        status, _, body = post("/tickets/v%s/tickets/addComment" % version,
                               {"ticketId": ticket, "user": "e2e", "message": message})
        assert status == 200, body
        # At once, through the other version's workers too.
        status, _, one = get("/tickets/v1.0.0/tickets/%s" % ticket)
        assert status == 200, one
        assert [r["id"] for r in one["replies"] if r["message"] == message] == [body["id"]]
        assert len({r["id"] for r in one["replies"]}) == len(one["replies"])
        status, _, whole = get("/tickets/v1.0.0/tickets")
        assert status == 200
        assert len(find_reply(whole, ticket, message)) == 1
        status, _, p = get(page)
        assert status == 200 and p[0]["replyCount"] == count + i + 1
        status, _, view = get("/tickets/v1.0.0/tickets/events/%s" % body["eventId"])
        assert status == 200, view
        assert view["event"]["message"] == message


def test_a_repeat_right_after_the_200_applies_nothing(post, unique):
    """A repeat of a request with an Idempotency-Key, while its reply is
    still pending, answers the first outcome and adds nothing."""
    message = unique("repeat while pending")
    key = {"Idempotency-Key": uuid.uuid4().hex}
    req = {"ticketId": TICKET, "user": "e2e", "message": message}
    status, _, first = post("/tickets/v1.0.0/tickets/addComment", req, key)
    assert status == 200, first
    status, headers, again = post("/tickets/v1.0.1/tickets/addComment", req, key)
    assert status == 200, again
    assert headers.get("Idempotent-Replayed") == "true"
    assert again["id"] == first["id"] and again["eventId"] == first["eventId"]
    time.sleep(0.5)     # the outbox has stored it since
    assert len([r for r in replies_of(TICKET) if r["message"] == message]) == 1
