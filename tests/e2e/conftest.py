"""Fixtures for the end-to-end tests, which run against the real stack.

Only the Python standard library and pytest. The stack's settings come from
the environment that tests/run sets from `spawn/stack env` (VD_LISTEN,
VD_STATE_DIR, VD_BINDIR, MONGODB_URI...); without it, the defaults of a
checkout apply. Every network call and subprocess has a time limit, and only
loopback addresses are used.
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import pathlib
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
STACK = os.environ.get("VD_STACK") or str(ROOT / "spawn" / "stack")
LISTEN = os.environ.get("VD_LISTEN", "127.0.0.1:8080")
BASE = "http://" + LISTEN
STATE = pathlib.Path(os.environ.get("VD_STATE_DIR") or ROOT / "run")
BINDIR = pathlib.Path(os.environ.get("VD_BINDIR") or STATE / "prefix" / "bin")
SERVICES_CONF = pathlib.Path(
    os.environ.get("VD_SERVICES_CONF") or ROOT / "spawn" / "services.conf")
SECRET_FILE = pathlib.Path(
    os.environ.get("VD_EVENTS_SECRET_FILE") or STATE / "events.secret")
ACCESS_LOG = STATE / "logs" / "vdispatch-access.log"
SAMPLE_FILE = ROOT / "data" / "tickets.json"

HTTP_TIMEOUT = 10
HEX24 = re.compile(r"^[0-9a-f]{24}$")

# Every role there is (auth.c); a token holding them all, from the stack.
ROLES = ("tickets.write", "subscriptions.manage", "operator", "tickets.read")


def mint_token(*roles, ttl=86400):
    """A bearer token of the stack's (spawn/stack token) holding ROLES."""
    res = subprocess.run([STACK, "token", "--ttl", str(ttl), *roles],
                         capture_output=True, text=True, timeout=30,
                         check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


# Every request of request() and every dispatch the tests start carry a
# token with every role, unless a test says otherwise (Authorization: None
# in its headers; an environment without VD_TOKEN). The responders the
# tests start find the stack's secret as spawn/stack gives it to them.
TOKEN = os.environ.get("VD_TEST_TOKEN") or mint_token(*ROLES)
os.environ["VD_TOKEN"] = TOKEN
os.environ.setdefault("VD_AUTH_HS256_SECRET_FILE", str(STATE / "auth.secret"))


# --- HTTP ---------------------------------------------------------------------

def encode_body(body):
    """Return BODY as bytes: dicts and lists as JSON, str as UTF-8."""
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def request(method, path, body=None, headers=None, timeout=HTTP_TIMEOUT):
    """Send one request to the stack; return (status, headers, JSON or text).

    A body that is not JSON comes back as text, so that an assertion on it
    shows what was received.
    """
    data = encode_body(body)
    hdrs = {"Authorization": "Bearer " + TOKEN}
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    # A header given as None is not sent: {"Authorization": None} is an
    # anonymous request.
    hdrs = {k: v for k, v in hdrs.items() if v is not None}
    req = urllib.request.Request(BASE + path, data=data, method=method,
                                 headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, got, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, got, raw = e.code, e.headers, e.read()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return status, got, parsed


@pytest.fixture(scope="session")
def base_url():
    return BASE


@pytest.fixture(scope="session")
def get():
    """get(path) -> (status, headers, body)."""
    def _get(path, headers=None, timeout=HTTP_TIMEOUT):
        return request("GET", path, None, headers, timeout)
    return _get


@pytest.fixture(scope="session")
def post():
    """post(path, body, headers) -> (status, headers, body); JSON by default."""
    def _post(path, body, headers=None, timeout=HTTP_TIMEOUT):
        return request("POST", path, body, headers, timeout)
    return _post


@pytest.fixture(scope="session", name="http")
def http_fixture():
    """http(method, path, body=None, headers=None) for other methods."""
    return request


def assert_json_error(status, headers, body, expected):
    """Check an error reply: the status and {"error": str, "detail": str}."""
    assert status == expected, "expected %d, got %d: %r" % (expected, status, body)
    ctype = headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), ctype
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("detail"), str), body


# --- waiting --------------------------------------------------------------------

def wait_until(fn, timeout=10.0, interval=0.2, what=None):
    """Call FN until it returns something true; return that, or fail."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
        except Exception as e:  # a call that fails is just "not yet"
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            pytest.fail("timed out after %.0f s waiting for %s (last: %r)"
                        % (timeout, what or getattr(fn, "__name__", "condition"),
                           last))
        time.sleep(interval)


@pytest.fixture(scope="session", name="wait_until")
def wait_until_fixture():
    return wait_until


# --- data -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sample_tickets():
    with open(SAMPLE_FILE, encoding="utf-8") as f:
        return json.load(f)


def get_tickets(version="1.0.0", timeout=20.0):
    """GET all tickets; retried while the answer is a 5xx (1.0.1 fails on
    purpose, and a database may be restarting)."""
    def attempt():
        status, _, body = request("GET", "/tickets/v%s/tickets" % version)
        return body if status == 200 else None
    return wait_until(attempt, timeout, what="GET tickets (v%s)" % version)


@pytest.fixture(scope="session")
def tickets():
    """tickets(version='1.0.0') -> the ticket list (retried on 5xx)."""
    return get_tickets


def snapshot(tickets_list):
    """A canonical form of the ticket list, for before/after comparisons."""
    return json.dumps(sorted(tickets_list, key=lambda t: t.get("_id", "")),
                      sort_keys=True)


@pytest.fixture
def unchanged():
    """Use as `with unchanged(): ...`: fails if the tickets changed."""
    class Unchanged:
        def __enter__(self):
            self.before = snapshot(get_tickets())

        def __exit__(self, exc_type, exc, tb):
            if exc_type is None:
                after = snapshot(get_tickets())
                assert after == self.before, "the tickets changed"
    return Unchanged


def unique(prefix="e2e"):
    return "%s %s" % (prefix, uuid.uuid4().hex[:12])


@pytest.fixture(scope="session", name="unique")
def unique_fixture():
    """unique(prefix) -> a string no other test uses (for messages)."""
    return unique


def find_reply(tickets_list, ticket_id, message):
    """Return the replies of TICKET_ID whose message is MESSAGE."""
    for t in tickets_list:
        if t.get("_id") == ticket_id:
            return [r for r in t.get("replies") or []
                    if isinstance(r, dict) and r.get("message") == message]
    return []


@pytest.fixture(scope="session", name="find_reply")
def find_reply_fixture():
    return find_reply


def services_conf():
    """The responders of services.conf: [(name, version, workers, args)]."""
    out = []
    with open(SERVICES_CONF, encoding="utf-8") as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if len(words) >= 3:
                out.append((words[0], words[1], int(words[2]), words[3:]))
    return out


@pytest.fixture(scope="session", name="services_conf")
def services_conf_fixture():
    return services_conf()


# --- processes ------------------------------------------------------------------

def run(argv, timeout, env=None):
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)


def without_token():
    """The environment without VD_TOKEN: for responders the tests start
    (the reply feed has a token of its own) and anonymous dispatch runs."""
    return {k: v for k, v in os.environ.items() if k != "VD_TOKEN"}


def worker_pids(part):
    """The pids of the worker processes of PART (tickets, tickets@1.0.1,
    ...), as spawn/stack knows them: the children of each version's
    multiwatch."""
    res = run([STACK, "pids", part], 30)
    assert res.returncode == 0, res.stderr
    return [int(p) for p in res.stdout.split()]


@pytest.fixture(scope="session")
def stack():
    """stack(*args, timeout=180) -> CompletedProcess of spawn/stack."""
    def _stack(*args, timeout=180):
        return run([STACK, *args], timeout, env=without_token())
    return _stack


@pytest.fixture(scope="session")
def dispatch():
    """dispatch(*args, timeout=60) -> CompletedProcess of the dispatch CLI."""
    path = BINDIR / "dispatch"

    def _dispatch(*args, timeout=60):
        return run([str(path), *args], timeout)
    return _dispatch


@pytest.fixture
def access_log():
    """access_log(wait=1.2) -> the access log lines written since the test
    began. nginx writes the log by 64 KiB, at least every second: the
    lines of requests just answered come after waiting (wait=0 when
    polling for a line instead)."""
    start = ACCESS_LOG.stat().st_size if ACCESS_LOG.exists() else 0

    def _new_lines(wait=1.2):
        time.sleep(wait)
        if not ACCESS_LOG.exists():
            return []
        with open(ACCESS_LOG, "rb") as f:
            f.seek(start)
            return f.read().decode("utf-8", "replace").splitlines()
    return _new_lines


# --- events ---------------------------------------------------------------------

def event_headers(body):
    """Standard Webhooks headers for BODY, signed with the stack's secret
    (services that do not check signatures ignore them)."""
    headers = {"Content-Type": "application/json"}
    try:
        secret = SECRET_FILE.read_text().strip()
    except OSError:
        return headers
    key = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    try:
        key_bytes = base64.b64decode(key)
    except ValueError:
        key_bytes = key.encode()
    # The webhook-id names the event: the body's id when it has one.
    try:
        msg_id = json.loads(body).get("id") or ""
    except (ValueError, AttributeError):
        msg_id = ""
    if not isinstance(msg_id, str) or not msg_id:
        msg_id = "msg_" + uuid.uuid4().hex
    ts = str(int(time.time()))
    signed = b"%s.%s.%s" % (msg_id.encode(), ts.encode(), body)
    sig = base64.b64encode(hmac.new(key_bytes, signed, hashlib.sha256).digest())
    headers.update({"webhook-id": msg_id, "webhook-timestamp": ts,
                    "webhook-signature": "v1," + sig.decode()})
    return headers


@pytest.fixture(scope="session", name="event_headers")
def event_headers_fixture():
    return event_headers


class Subscriber:
    """An HTTP server on 127.0.0.1 that records the events POSTed to it.

    respond(status, delay) sets how it answers the next deliveries; each
    delivery is kept as a dict: path, headers, body (parsed), status, and
    at (time.monotonic() when it came).
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.deliveries = []
        self.status = 200
        self.delay = 0.0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                with owner.lock:
                    status, delay = owner.status, owner.delay
                    owner.deliveries.append({
                        "path": self.path, "headers": dict(self.headers),
                        "body": body, "raw": raw, "status": status,
                        "at": time.monotonic()})
                if delay:
                    time.sleep(delay)
                reply = b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/events" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def respond(self, status=200, delay=0.0):
        with self.lock:
            self.status, self.delay = status, delay

    def received(self):
        """The deliveries so far (a copy)."""
        with self.lock:
            return list(self.deliveries)

    def events(self, message=None, accepted_only=False):
        """Event bodies delivered so far, optionally only those carrying
        MESSAGE and only those answered with a 2xx."""
        out = []
        for d in self.received():
            body = d["body"]
            if not isinstance(body, dict):
                continue
            if message is not None and body.get("message") != message:
                continue
            if accepted_only and not 200 <= d["status"] < 300:
                continue
            out.append(body)
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def subscriber():
    """A fresh Subscriber; unsubscribed (through 1.0.0) and stopped after
    the test."""
    sub = Subscriber()
    try:
        yield sub
    finally:
        try:
            request("POST", "/tickets/v1.0.0/tickets/unsubscribeToComments",
                    {"url": sub.url})
        except OSError:
            pass
        sub.close()
