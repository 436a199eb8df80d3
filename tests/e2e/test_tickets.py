"""GET /tickets/vX.Y.Z/tickets and the paths around it (docs/design.md, Paths)."""

from conftest import HEX24, assert_json_error, get_tickets

def test_tickets_are_the_sample_tickets_with_hex_ids(get, sample_tickets):
    status, headers, body = get("/tickets/v1.0.0/tickets")
    assert status == 200, body
    assert headers.get("Content-Type", "").startswith("application/json")
    assert isinstance(body, list)
    for ticket in body:
        assert isinstance(ticket, dict), ticket
        assert isinstance(ticket.get("_id"), str) and HEX24.match(ticket["_id"]), ticket
    by_id = {t["_id"]: t for t in body}
    assert len(by_id) == len(body), "duplicate _id"
    for sample in sample_tickets:
        got = by_id.get(sample["_id"])
        assert got is not None, "sample ticket %s missing" % sample["_id"]
        for field in ("title", "description", "shortDescription", "status",
                      "assignedTo", "userInitials", "id"):
            assert got.get(field) == sample[field], (field, got)


def test_replies_are_lists_of_user_and_message(sample_tickets):
    body = get_tickets()
    by_id = {t["_id"]: t for t in body}
    for sample in sample_tickets:
        replies = by_id[sample["_id"]].get("replies")
        assert isinstance(replies, list), by_id[sample["_id"]]
        for reply in replies:
            assert isinstance(reply.get("user"), str), reply
            assert isinstance(reply.get("message"), str), reply
        # The sample replies come first, in their order.
        got = [(r["user"], r["message"]) for r in replies[:len(sample["replies"])]]
        assert got == [(r["user"], r["message"]) for r in sample["replies"]]


def test_both_versions_serve_the_same_shared_data():
    assert {t["_id"] for t in get_tickets("1.0.1")} == \
        {t["_id"] for t in get_tickets("1.0.0")}


def test_version_1_0_1_fails_some_queries_as_configured(get, services_conf):
    rates = [args[args.index("--fail-rate") + 1]
             for name, version, _, args in services_conf
             if name == "tickets" and version == "1.0.1" and "--fail-rate" in args]
    rate = float(rates[0]) if rates else 0.0
    statuses = []
    for _ in range(40):
        status, headers, body = get("/tickets/v1.0.1/tickets")
        statuses.append(status)
        if status != 200:
            assert_json_error(status, headers, body, status)
            assert 500 <= status < 600
    if 0.0 < rate < 1.0:
        assert 200 in statuses and any(s >= 500 for s in statuses), statuses
    elif rate == 0.0:
        assert set(statuses) == {200}, statuses


def test_unknown_path_below_a_prefix_is_a_json_404(get):
    status, headers, body = get("/tickets/v1.0.0/no-such-thing")
    assert_json_error(status, headers, body, 404)


def test_unknown_version_is_a_json_404(get):
    status, headers, body = get("/tickets/v9.9.9/tickets")
    assert_json_error(status, headers, body, 404)


def test_unknown_service_is_a_json_404(get):
    for path in ("/nothing-here", "/tickets", "/tickets/v1.0.0",
                 "/nosuchservice/v1.0.0/tickets"):
        status, headers, body = get(path)
        assert_json_error(status, headers, body, 404)
