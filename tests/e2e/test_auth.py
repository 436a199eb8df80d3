"""Authentication and roles (issue 11, item 2): bearer tokens (JWT) checked
by every responder through nginx. Writes and operator endpoints need a
role: 401 without a token or with a bad one (WWW-Authenticate: Bearer),
403 with a good token lacking the role, through with it. Reads of tickets,
the latest replies and health stay public; the reply feed's events are
authenticated by their signature, not a token."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time

import pytest

from conftest import (BINDIR, STACK, STATE, assert_json_error, mint_token,
                      request, unique, without_token)

TICKET = "5f1d7a9e2c3b4a5d6e7f8a06"
T0 = "/tickets/v1.0.0/tickets"
T1 = "/tickets/v1.0.1/tickets"
SUB_ID = "6b0000000000000000000000"
EVENT_ID = "evt_6b0000000000000000000000"
NOWHERE = "http://127.0.0.1:9/auth-test"

# (method, path, body, role): every write and operator endpoint.
PROTECTED = [
    ("POST", T0 + "/addComment",
     {"ticketId": TICKET, "user": "auth", "message": "x"}, "tickets.write"),
    ("POST", T1 + "/addComment",
     {"ticketId": TICKET, "user": "auth", "message": "x"}, "tickets.write"),
    ("POST", "/api/tickets/tickets/addComment",
     {"ticketId": TICKET, "user": "auth", "message": "x"}, "tickets.write"),
    ("POST", T0 + "/subscribeToComments", {"url": NOWHERE},
     "subscriptions.manage"),
    ("POST", T0 + "/unsubscribeToComments", {"url": NOWHERE},
     "subscriptions.manage"),
    ("GET", T0 + "/subscriptions", None, "operator"),
    ("GET", T0 + "/subscriptions/" + SUB_ID, None, "operator"),
    ("POST", T0 + "/subscriptions/%s/replay" % SUB_ID,
     {"since": "2026-11-26T10:00:00Z"}, "operator"),
    ("GET", T0 + "/events/" + EVENT_ID, None, "operator"),
    ("POST", T0 + "/events/%s/replay" % EVENT_ID, None, "operator"),
    ("GET", T0 + "/deadletters", None, "operator"),
    ("GET", "/tickets/v1.0.0/metrics", None, "operator"),
    ("GET", "/tickets/v1.0.1/metrics", None, "operator"),
    ("GET", "/replyfeed/v1.0.0/metrics", None, "operator"),
]
IDS = ["%s %s" % (m, p) for m, p, _, _ in PROTECTED]


def bearer(token):
    return {"Authorization": "Bearer " + token}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def secret():
    data = (STATE / "auth.secret").read_bytes()
    return data[:-1] if data.endswith(b"\n") else data


def forge(claims, alg="HS256", key=None):
    """A token signed here with the stack's secret (or KEY), to make the
    ones spawn/stack token never makes."""
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = b""
    if alg == "HS256":
        sig = hmac.new(key or secret(), (head + "." + body).encode(),
                       hashlib.sha256).digest()
    return head + "." + body + "." + b64url(sig)


@pytest.mark.parametrize("method,path,body,role", PROTECTED, ids=IDS)
def test_anonymous_is_401(method, path, body, role, unchanged):
    with unchanged():
        status, headers, reply = request(method, path, body,
                                         {"Authorization": None})
    assert_json_error(status, headers, reply, 401)
    assert headers.get("WWW-Authenticate", "").startswith("Bearer"), headers
    assert "token" in reply["detail"]


@pytest.mark.parametrize("method,path,body,role", PROTECTED, ids=IDS)
def test_a_token_without_the_role_is_403(method, path, body, role, unchanged):
    others = [r for r in ("tickets.write", "subscriptions.manage", "operator",
                          "tickets.read") if r != role]
    with unchanged():
        status, headers, reply = request(method, path, body,
                                         bearer(mint_token(*others, ttl=300)))
    assert_json_error(status, headers, reply, 403)
    assert role in reply["detail"]


@pytest.mark.parametrize("method,path,body,role", PROTECTED, ids=IDS)
def test_the_role_lets_it_through(method, path, body, role):
    status, _, reply = request(method, path, body,
                               bearer(mint_token(role, ttl=300)))
    # Past the token check, the endpoint answers as it does: unknown
    # subscriptions and events are 404, the rest 2xx.
    assert status not in (401, 403), reply
    assert status < 500, reply
    if "/subscriptions/" in path or "/events/" in path:
        assert status == 404, reply
    else:
        assert 200 <= status < 300, reply


def test_the_roles_are_in_the_registry(tmp_path):
    """The registry entries announce the roles their routes need (read
    through a dispatch call, which writes the registry as it read it to
    its copy file)."""
    copy = tmp_path / "registry.json"
    res = subprocess.run([str(BINDIR / "dispatch"), "--cache-file", str(copy),
                          "call", "Ticket Query", "1.0.0"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    entries = json.loads(copy.read_text())["entries"]
    want = {"Ticket Add Comment": ["tickets.write"],
            "Ticket Subscribe": ["subscriptions.manage"],
            "Ticket Unsubscribe": ["subscriptions.manage"],
            "Ticket Query": [],                 # public reads
            "Ticket Latest Replies": []}
    seen = set()
    for e in entries:
        if e["name"] in want:
            assert e.get("authorizedRoles", []) == want[e["name"]], e
            seen.add(e["name"])
    assert seen == set(want)


@pytest.mark.parametrize("path", [
    T0, T1 + "/" + TICKET, T0 + "/" + TICKET, "/api/tickets/tickets",
    "/replyfeed/v1.0.0/latestReplies", "/api/replyfeed/latestReplies",
    "/tickets/v1.0.0/health", "/replyfeed/v1.0.0/health"])
def test_reads_and_health_are_public(path):
    for _ in range(12):     # 1.0.1 fails half of its queries on purpose
        status, _, reply = request("GET", path, None, {"Authorization": None})
        if status != 500:
            break
    assert status == 200, reply


@pytest.mark.parametrize("token,why", [
    ("not-a-token", "malformed"),
    ("a.b.c", "malformed"),
    (None, "expired"),
    (None, "not yet valid"),
    (None, "alg none"),
    (None, "wrong secret"),
    (None, "no exp"),
], ids=["garbage", "bad base64", "expired", "nbf", "alg-none", "secret",
        "no-exp"])
def test_a_bad_token_is_401(token, why, unchanged):
    now = int(time.time())
    roles = ["tickets.write"]
    if token is None:
        token = {
            "expired": lambda: forge({"exp": now - 3600, "roles": roles}),
            "not yet valid": lambda: forge({"exp": now + 7200,
                                            "nbf": now + 3600,
                                            "roles": roles}),
            "alg none": lambda: forge({"exp": now + 600, "roles": roles},
                                      alg="none"),
            "wrong secret": lambda: forge({"exp": now + 600, "roles": roles},
                                          key=b"x" * 32),
            "no exp": lambda: forge({"roles": roles}),
        }[why]()
    with unchanged():
        status, headers, reply = request(
            "POST", T0 + "/addComment",
            {"ticketId": TICKET, "user": "auth", "message": unique("bad")},
            bearer(token))
    assert_json_error(status, headers, reply, 401)
    assert "invalid_token" in headers.get("WWW-Authenticate", ""), headers


def test_a_scheme_other_than_bearer_is_401(unchanged):
    with unchanged():
        status, headers, reply = request(
            "POST", T0 + "/addComment",
            {"ticketId": TICKET, "user": "auth", "message": "x"},
            {"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert_json_error(status, headers, reply, 401)


def test_the_reply_feed_takes_signed_events_without_a_token(event_headers):
    """replyEvent is authenticated by its Standard Webhooks signature."""
    message = unique("signed, no token")
    body = json.dumps({"id": "evt_" + os.urandom(12).hex(),
                       "ticketId": TICKET, "title": "t", "user": "auth",
                       "message": message}).encode()
    headers = event_headers(body)
    headers["Authorization"] = None
    status, _, reply = request("POST", "/replyfeed/v1.0.0/replyEvent", body,
                               headers)
    assert status == 200, reply


# --- dispatch --token ------------------------------------------------------------

def dispatch(*args, env=None):
    return subprocess.run([str(BINDIR / "dispatch"), *args],
                          capture_output=True, text=True, timeout=60,
                          env=env or without_token(), check=False)


def test_dispatch_passes_the_token_on(find_reply, tickets):
    body = json.dumps({"ticketId": TICKET, "user": "auth",
                       "message": unique("dispatch anonymous")})
    res = dispatch("call", "Ticket Add Comment", "1.0.0", body)
    assert res.returncode == 1, res.stderr     # a 4xx: the caller's
    assert json.loads(res.stdout)["error"] == "unauthorized"

    message = unique("dispatch --token")
    body = json.dumps({"ticketId": TICKET, "user": "auth", "message": message})
    res = dispatch("--token", mint_token("tickets.write", ttl=300), "call",
                   "Ticket Add Comment", "1.0.0", body)
    assert res.returncode == 0, res.stderr
    assert len(find_reply(tickets(), TICKET, message)) == 1

    message = unique("VD_TOKEN")
    body = json.dumps({"ticketId": TICKET, "user": "auth", "message": message})
    env = without_token()
    env["VD_TOKEN"] = mint_token("tickets.write", ttl=300)
    res = dispatch("call", "Ticket Add Comment", "1.0.0", body, env=env)
    assert res.returncode == 0, res.stderr
    assert len(find_reply(tickets(), TICKET, message)) == 1


def test_dispatch_refuses_a_token_a_header_cannot_carry():
    res = dispatch("--token", "a b", "call", "Ticket Query", "1.0.0")
    assert res.returncode == 64, res.stderr
    assert "token" in res.stderr


# --- dispatch token (what vdispatch-setup mints the units' tokens with) ------------

def claims_of(token):
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_dispatch_token_mints_what_the_responders_take(find_reply, tickets):
    env = without_token()
    env.pop("VD_AUTH_HS256_SECRET", None)
    res = dispatch("token", "--secret-file", str(STATE / "auth.secret"),
                   "--ttl", "300", "tickets.write", env=env)
    assert res.returncode == 0, res.stderr
    token = res.stdout.strip()
    claims = claims_of(token)
    assert claims["roles"] == ["tickets.write"]
    assert claims["exp"] - claims["iat"] == 300
    assert abs(claims["iat"] - time.time()) < 60
    message = unique("dispatch token")
    status, _, reply = request("POST", T1 + "/addComment",
                               {"ticketId": TICKET, "user": "auth",
                                "message": message}, bearer(token))
    assert 200 <= status < 300, reply
    assert len(find_reply(tickets(), TICKET, message)) == 1

    # The role is what it says: not operator.
    status, headers, reply = request("GET", T0 + "/deadletters", None,
                                     bearer(token))
    assert_json_error(status, headers, reply, 403)

    # No --secret-file: the file VD_AUTH_HS256_SECRET_FILE names.
    env["VD_AUTH_HS256_SECRET_FILE"] = str(STATE / "auth.secret")
    res = dispatch("token", "operator", env=env)
    assert res.returncode == 0, res.stderr
    status, _, reply = request("GET", T0 + "/deadletters", None,
                               bearer(res.stdout.strip()))
    assert status == 200, reply


def test_dispatch_token_of_another_secret_is_401(tmp_path, unchanged):
    other = tmp_path / "other.secret"
    other.write_text("x" * 40 + "\n")
    res = dispatch("token", "--secret-file", str(other), "tickets.write")
    assert res.returncode == 0, res.stderr
    with unchanged():
        status, headers, reply = request(
            "POST", T1 + "/addComment",
            {"ticketId": TICKET, "user": "auth", "message": "x"},
            bearer(res.stdout.strip()))
    assert_json_error(status, headers, reply, 401)


@pytest.mark.parametrize("args,code,said", [
    (["nobody.role"], 64, "unknown role"),
    ([], 64, "usage"),
    (["--ttl", "0", "operator"], 64, "--ttl"),
    (["--ttl", "12x", "operator"], 64, "--ttl"),
    (["--secret-file", "/nonexistent/auth.secret", "operator"], 2,
     "/nonexistent/auth.secret"),
], ids=["unknown role", "no role", "ttl 0", "ttl not a number", "no file"])
def test_dispatch_token_refuses_bad_arguments(args, code, said):
    res = dispatch("token", "--secret-file", str(STATE / "auth.secret"), *args) \
        if "--secret-file" not in args else dispatch("token", *args)
    assert res.returncode == code, res.stderr
    assert said in res.stderr
    assert res.stdout == ""


def test_dispatch_token_refuses_a_short_secret(tmp_path):
    short = tmp_path / "short.secret"
    short.write_text("s" * 31)
    res = dispatch("token", "--secret-file", str(short), "operator")
    assert res.returncode == 2, res.stderr
    assert "32" in res.stderr and res.stdout == ""


# --- fail closed ---------------------------------------------------------------------

def start_feed(*args, drop=("VD_AUTH_HS256_SECRET", "VD_AUTH_HS256_SECRET_FILE",
                            "VD_AUTH_JWKS")):
    env = {k: v for k, v in without_token().items() if k not in drop}
    return subprocess.run([str(BINDIR / "replyfeed.fcgi"), "--api-version",
                           "1.0.0", "--insecure-no-signature", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30,
                          env=env, check=False)


def test_no_key_no_start():
    res = start_feed()
    assert res.returncode == 64, res.stderr
    assert "no key" in res.stderr and "--insecure-no-auth" in res.stderr


def test_a_short_secret_no_start():
    env = {k: v for k, v in without_token().items()
           if k not in ("VD_AUTH_HS256_SECRET_FILE", "VD_AUTH_JWKS")}
    env["VD_AUTH_HS256_SECRET"] = "short"
    res = subprocess.run([str(BINDIR / "tickets.fcgi"), "--api-version",
                          "1.0.0"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=30, env=env,
                         check=False)
    assert res.returncode == 64, res.stderr
    assert "32 at least" in res.stderr


def test_insecure_is_said_at_start():
    # Past the key check, it stops at the missing FastCGI socket: what
    # matters is that it got there, and warned on the way.
    res = start_feed("--insecure-no-auth")
    assert res.returncode == 1, res.stderr
    assert "FastCGI" in res.stderr
    assert "--insecure-no-auth is given: no token is checked" in res.stderr
    assert " warn " in res.stderr


# --- protected reads ---------------------------------------------------------------

def restart_feed(extra_env):
    env = without_token()
    env.update(extra_env)
    for cmd in ("stop", "start"):
        res = subprocess.run([STACK, cmd, "replyfeed"], capture_output=True,
                             text=True, timeout=120, env=env, check=False)
        assert res.returncode == 0, res.stdout + res.stderr


def test_reads_need_a_role_when_protected(tickets):
    """VD_AUTH_READS=1: the latest replies need tickets.read, through nginx
    too (the stack then keeps no file for nginx to serve to anyone)."""
    path = "/replyfeed/v1.0.0/latestReplies"
    restart_feed({"VD_AUTH_READS": "1"})
    try:
        status, headers, reply = request("GET", path, None,
                                         {"Authorization": None})
        assert_json_error(status, headers, reply, 401)
        status, headers, reply = request(
            "GET", path, None, bearer(mint_token("tickets.write", ttl=300)))
        assert_json_error(status, headers, reply, 403)
        status, _, reply = request(
            "GET", path, None, bearer(mint_token("tickets.read", ttl=300)))
        assert status == 200 and isinstance(reply, list), reply
    finally:
        restart_feed({"VD_AUTH_READS": "0"})
    status, _, reply = request("GET", path, None, {"Authorization": None})
    assert status == 200, reply


# --- RS256 and ES256 from a JWKS file ---------------------------------------------

def openssl(*args, data=None):
    res = subprocess.run(["openssl", *args], input=data, capture_output=True,
                         timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def der_to_raw(der):
    """An ECDSA signature, DER SEQUENCE {r, s}, as JWS's r || s."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7f)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b"\0").rjust(32, b"\0")
        i += 2 + n
    return out


def sign_with(key, alg, kid, claims):
    head = b64url(json.dumps({"alg": alg, "kid": kid}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = openssl("dgst", "-sha256", "-sign", str(key),
                  data=(head + "." + body).encode())
    if alg == "ES256":
        sig = der_to_raw(sig)
    return head + "." + body + "." + b64url(sig)


def test_rs256_and_es256_tokens_from_a_jwks_file(tmp_path):
    """Keys made by openssl(1); the feed restarted with their JWKS file
    (and the stack's secret): tokens signed by either key open the metrics,
    a token signed by the RSA key but sent as HS256 does not."""
    rsa, ec = tmp_path / "rsa.pem", tmp_path / "ec.pem"
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", str(rsa))
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", str(ec))
    modulus = openssl("rsa", "-in", str(rsa), "-noout", "-modulus").decode()
    n = bytes.fromhex(modulus.strip().split("=", 1)[1])
    point = openssl("pkey", "-in", str(ec), "-pubout", "-outform", "DER")[-65:]
    assert point[0] == 4
    jwks = {"keys": [
        {"kty": "RSA", "kid": "r", "use": "sig", "n": b64url(n), "e": "AQAB"},
        {"kty": "EC", "kid": "e", "crv": "P-256", "x": b64url(point[1:33]),
         "y": b64url(point[33:])}]}
    # Where the responders' user can read it: the state directory.
    path = STATE / "test-jwks.json"
    path.write_text(json.dumps(jwks))
    os.chmod(path, 0o644)
    now = int(time.time())
    claims = {"exp": now + 600, "roles": ["operator"]}
    metrics = "/replyfeed/v1.0.0/metrics"
    restart_feed({"VD_AUTH_JWKS": str(path)})
    try:
        for key, alg, kid in ((rsa, "RS256", "r"), (ec, "ES256", "e")):
            status, _, reply = request("GET", metrics, None,
                                       bearer(sign_with(key, alg, kid, claims)))
            assert status == 200, (alg, reply)
            # The other key's kid: refused.
            status, _, reply = request(
                "GET", metrics, None,
                bearer(sign_with(key, alg, "e" if kid == "r" else "r", claims)))
            assert status == 401, (alg, reply)
        status, _, reply = request("GET", metrics, None,
                                   bearer(forge(claims, key=rsa.read_bytes())))
        assert status == 401, reply
        # The stack's secret still works beside the keys.
        status, _, reply = request("GET", metrics, None,
                                   bearer(mint_token("operator", ttl=300)))
        assert status == 200, reply
    finally:
        restart_feed({})
        path.unlink()
