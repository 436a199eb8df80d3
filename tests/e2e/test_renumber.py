"""A reply whose claimed sequence number a stored reply holds already.

The host's count of a ticket's numbers is a hint, read back from the
database's "sequences" when it is stale; the claim (the pending event's
unique _id) catches a number pending elsewhere, but not one whose reply
was stored and whose pending event is gone (another host's, mostly). The
outbox finds it when it stores the reply (the unique ticketId and
sequence) and stores it under the ticket's next free number. Here the
count is made stale by hand: the host's count file removed and the
ticket's "sequences" document set back, on the stack's own PostgreSQL.
"""

import re
import subprocess

import pytest

from conftest import STATE, mint_token, request, wait_until

TICKET = "5f1d7a9e2c3b4a5d6e7f8a06"
PGSOCK = STATE / "pg" / "sock"
LOG = STATE / "logs" / "tickets-1.0.0.log"

pytestmark = pytest.mark.skipif(
    not PGSOCK.exists(), reason="the stack's own PostgreSQL is not in use")


def psql(sql):
    res = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-h", str(PGSOCK),
         "-d", "ferretdb", "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
        capture_output=True, text=True, timeout=30, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def table(collection):
    name = psql("SELECT _jsonb->>'table' FROM tickets._ferretdb_database_metadata"
                " WHERE _jsonb->>'_id' = '%s'" % collection)
    assert re.fullmatch(r"[a-z_0-9]+", name), name
    return "tickets.%s" % name


def add(post, message):
    status, _, body = post("/tickets/v1.0.0/tickets/addComment",
                           {"ticketId": TICKET, "user": "e2e", "message": message})
    assert status == 200, body
    return body["eventId"]


def settled_event(event_id):
    """The event as sent, once its pending event is gone."""
    token = mint_token("operator")
    found = {}

    def settled():
        status, _, body = request("GET", "/tickets/v1.0.0/tickets/events/" + event_id,
                                  headers={"Authorization": "Bearer " + token})
        if status == 200 and body.get("settled"):
            found.update(body["event"])
            return True
        return False
    wait_until(settled, timeout=20, what="event %s settled" % event_id)
    return found


def reply_count():
    """The ticket's replyCount: the replies it was loaded with, and the
    highest number drawn for it."""
    status, _, page = request("GET", "/tickets/v1.0.0/tickets?limit=100")
    assert status == 200
    return {t["_id"]: t["replyCount"] for t in page}[TICKET]


def test_a_number_stored_already_is_mended_by_the_outbox(post, unique, stack):
    add(post, unique("before"))    # at least two: number 2 is taken
    first = settled_event(add(post, unique("before")))
    last = first["sequence"]
    assert stack("stop", "tickets").returncode == 0
    for f in (STATE / "cache").glob("tickets-*.claims"):
        f.unlink()
    seqs = table("sequences")
    changed = psql("UPDATE %s SET _jsonb = jsonb_set(_jsonb, '{seq}', '1')"
                   " WHERE _jsonb->'_id' = '\"%s\"' RETURNING 1" % (seqs, TICKET))
    assert changed == "1"
    res = stack("start", "tickets")
    assert res.returncode == 0, res.stdout + res.stderr
    log_start = LOG.stat().st_size

    # The count starts again at 1: number 2 is claimed, and taken.
    message = unique("after")
    mended = settled_event(add(post, message))
    assert mended["sequence"] == last + 1, mended
    assert mended["message"] == message
    # Told to the host's count: the next reply draws the next number.
    following = settled_event(add(post, unique("following")))
    assert following["sequence"] == last + 2, following

    with open(LOG, encoding="utf-8", errors="replace") as f:
        f.seek(log_start)
        said = [line for line in f if "was another reply's" in line]
    assert len(said) == 1, said
    assert "its number 2 " in said[0] and "stored as %d" % (last + 1) in said[0], said

    status, _, ticket = request("GET", "/tickets/v1.0.0/tickets/" + TICKET)
    assert status == 200
    # The replies the ticket was loaded with, and the highest number. (Not
    # taken before the test: two processes raising "sequences" at once
    # may leave it a number low until the next raise.)
    loaded = len([r for r in ticket["replies"] if "id" not in r])
    assert reply_count() == loaded + last + 2
    messages = [r["message"] for r in ticket["replies"]]
    assert messages.count(message) == 1
    stored = psql("SELECT count(*) FROM %s WHERE _jsonb->'ticketId' = '\"%s\"'"
                  % (table("replies"), TICKET))
    # Each stored reply shown once (the ticket's own, loaded with it,
    # have no id).
    assert int(stored) == len([r for r in ticket["replies"] if "id" in r])
