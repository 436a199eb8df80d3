"""POST /tickets/vX.Y.Z/tickets/addComment: the happy paths."""

import threading
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
