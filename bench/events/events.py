#!/usr/bin/env python3
"""Event delivery benchmark (issue "Events that are never lost").

Ten subscribers (locations of a private nginx, which logs when each event
arrives), replies accepted at a fixed rate through the stack's nginx, and
the time from a reply accepted (its createdAt, set by the tickets service)
to its event received by each subscriber. Phase 1: everyone up. Phase 2: one
subscriber answers 503 for a while during the load, then comes back; how long
until it has every event it missed.

Run through bench/events/run, which takes the running stack's settings.
Only loopback addresses; every loop is bounded in count and time.
"""

import argparse
import calendar
import http.client
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

# Adding replies and subscribing need roles: bench/events/run passes a
# token with them (spawn/stack token) in BENCH_TOKEN.
HEADERS = {"Content-Type": "application/json"}
if os.environ.get("BENCH_TOKEN"):
    HEADERS["Authorization"] = "Bearer " + os.environ["BENCH_TOKEN"]

TICKET = "5f1d7a9e2c3b4a5d6e7f8a03"


def log(msg):
    print(msg, flush=True)


class Subscribers:
    """A private nginx on 127.0.0.1:PORT: /sub/N answers 204 and logs the
    arrival time and webhook-id; while DIR/down-N exists, /sub/N is a 503."""

    def __init__(self, workdir, port, n):
        self.dir = pathlib.Path(workdir)
        # nginx's workers (nobody, www-data) must see the down-N flags.
        self.dir.chmod(0o755)
        self.port, self.n = port, n
        self.log = self.dir / "received.log"
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        conf = self.dir / "nginx.conf"
        conf.write_text("""
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(d)s/tmp;
    log_format arrival '$msec $http_webhook_id $uri $status';
    server {
        listen 127.0.0.1:%(port)d;
        location ~ ^/sub/([0-9]+)$ {
            access_log %(d)s/received.log arrival;
            if (-f %(d)s/down-$1) { return 503; }
            return 204;
        }
    }
}
""" % {"d": self.dir, "port": port})
        (self.dir / "tmp").mkdir(exist_ok=True)
        subprocess.run(["nginx", "-e", str(self.dir / "logs/error.log"),
                        "-p", str(self.dir), "-c", str(conf)], check=True)

    def url(self, i):
        return "http://127.0.0.1:%d/sub/%d" % (self.port, i)

    def down(self, i, is_down):
        flag = self.dir / ("down-%d" % i)
        if is_down:
            flag.touch()
            log("subscriber %d answers 503 from now" % i)
        elif flag.exists():
            flag.unlink()
            log("subscriber %d is back" % i)

    def refused(self, i):
        """How many POSTs subscriber i answered 503."""
        if not self.log.exists():
            return 0
        return sum(1 for line in self.log.read_text().splitlines()
                   if line.endswith("/sub/%d 503" % i))

    def arrivals(self):
        """{(event id, subscriber): first 2xx arrival in ms}."""
        first = {}
        if not self.log.exists():
            return first
        for line in self.log.read_text().splitlines():
            parts = line.split()
            if len(parts) != 4 or not parts[3].startswith("2"):
                continue
            key = (parts[1], int(parts[2].rsplit("/", 1)[1]))
            t = float(parts[0]) * 1000
            if key not in first or t < first[key]:
                first[key] = t
        return first

    def stop(self):
        pid = (self.dir / "nginx.pid")
        if pid.exists():
            os.kill(int(pid.read_text()), signal.SIGQUIT)


def parse_ms(iso):
    """ms since the epoch of "2026-11-26T10:00:00.123Z"."""
    t = time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(t) * 1000 + int(iso[20:23])


class Load:
    """POSTs addComment at rate per second for seconds, over keep-alive
    connections; records each accepted reply's event id and createdAt."""

    def __init__(self, host, port, prefix, rate, seconds, threads=8):
        self.host, self.port, self.prefix = host, port, prefix
        self.rate, self.seconds, self.threads = rate, seconds, threads
        self.accepted = []          # (event id, createdAt ms)
        self.errors = 0
        self.lock = threading.Lock()

    def worker(self, k, start):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        total = self.rate * self.seconds
        for i in range(k, total, self.threads):
            due = start + i / self.rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            body = json.dumps({"ticketId": TICKET, "user": "bench-events",
                               "message": "bench %d" % i})
            try:
                conn.request("POST", self.prefix + "/tickets/addComment",
                             body, HEADERS)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    raise OSError("HTTP %d" % resp.status)
                r = json.loads(data)
                with self.lock:
                    self.accepted.append((r["eventId"],
                                          parse_ms(r["createdAt"])))
            except (OSError, ValueError, http.client.HTTPException):
                with self.lock:
                    self.errors += 1
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port,
                                                  timeout=10)

    def run(self):
        start = time.time() + 0.2
        ts = [threading.Thread(target=self.worker, args=(k, start))
              for k in range(self.threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return self


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def wait_all(subs, accepted, which, limit_s):
    """Waits until every accepted event reached every subscriber in which;
    returns the arrivals and what is still missing."""
    deadline = time.time() + limit_s
    while True:
        got = subs.arrivals()
        missing = [(e, i) for e, _ in accepted for i in which
                   if (e, i) not in got]
        if not missing or time.time() > deadline:
            return got, missing
        time.sleep(1)


def api(base, method, path, body=None):
    conn = http.client.HTTPConnection(base[0], base[1], timeout=10)
    conn.request(method, path, json.dumps(body) if body is not None else None,
                 HEADERS)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data) if data else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:8080")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--port", type=int, default=18999)
    ap.add_argument("--subscribers", type=int, default=10)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--down-seconds", type=int, default=120)
    ap.add_argument("--phase", choices=["all", "latency", "outage"],
                    default="all")
    a = ap.parse_args()

    host, port = a.listen.rsplit(":", 1)
    base = (host, int(port))
    prefix = "/tickets/v1.0.0"
    subs = Subscribers(a.workdir, a.port, a.subscribers)
    everyone = range(a.subscribers)
    results = {}
    try:
        for i in everyone:
            status, body = api(base, "POST",
                               prefix + "/tickets/subscribeToComments",
                               {"url": subs.url(i)})
            if status != 200:
                sys.exit("cannot subscribe %s: %s (is 127.0.0.1:%d on "
                         "EVENTS_ALLOWED_HOSTS?)" % (subs.url(i), body, a.port))
        time.sleep(3)   # every delivery thread has read the subscriptions

        if a.phase in ("all", "latency"):
            log("phase 1: %d replies/s for %d s, %d subscribers up"
                % (a.rate, a.seconds, a.subscribers))
            t0 = time.time()
            load = Load(host, int(port), prefix, a.rate, a.seconds).run()
            took = time.time() - t0
            got, missing = wait_all(subs, load.accepted, everyone, 60)
            lat = [got[(e, i)] - c for e, c in load.accepted for i in everyone
                   if (e, i) in got]
            results["latency"] = {
                "replies": len(load.accepted), "errors": load.errors,
                "rate": len(load.accepted) / took,
                "deliveries": len(lat), "missing": len(missing),
                "p50": pct(lat, 50), "p99": pct(lat, 99), "max": max(lat or [0])}
            log(json.dumps(results["latency"]))

        if a.phase in ("all", "outage"):
            seconds = a.down_seconds + 30
            log("phase 2: %d replies/s for %d s; subscriber 3 answers 503 "
                "from 10 s to %d s" % (a.rate, seconds, 10 + a.down_seconds))
            timer_down = threading.Timer(10, subs.down, (3, True))
            back = {}

            def up():
                back["t"] = time.time() * 1000
                subs.down(3, False)
            timer_up = threading.Timer(10 + a.down_seconds, up)
            timer_down.start()
            timer_up.start()
            load = Load(host, int(port), prefix, a.rate, seconds).run()
            timer_up.join()
            got, missing = wait_all(subs, load.accepted, everyone, 120)
            first = min(c for _, c in load.accepted)
            per10 = {}
            for _, c in load.accepted:
                per10[int((c - first) // 10000)] = \
                    per10.get(int((c - first) // 10000), 0) + 1
            log("accepted per 10 s: %s" % [per10[k] for k in sorted(per10)])
            per_sub = {}
            for _, i in missing:
                per_sub[i] = per_sub.get(i, 0) + 1
            log("missing per subscriber: %s" % per_sub)
            # Events made while it was down: when did the last arrive?
            theirs = [got[(e, 3)] for e, c in load.accepted
                      if (e, 3) in got and c < back["t"]]
            results["outage"] = {
                "replies": len(load.accepted), "errors": load.errors,
                "missing": len(missing),
                "missed_while_down": len(theirs),
                "refused_while_down": subs.refused(3),
                "all_back_after_s": (max(theirs) - back["t"]) / 1000
                if theirs else None}
            log(json.dumps(results["outage"]))
    finally:
        subs.down(3, False)
        for i in everyone:
            try:
                api(base, "POST", prefix + "/tickets/unsubscribeToComments",
                    {"url": subs.url(i)})
            except OSError:
                pass
        subs.stop()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
