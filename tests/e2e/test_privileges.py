"""Responders never run as root (issue 11, item 5): a stack started by
root runs them as an unprivileged user (VD_USER, default vdispatch), which
can still write everything they write."""

import os
import pathlib

import pytest

from conftest import STATE, services_conf, wait_until, worker_pids


def ids_of(pid, field):
    """The real, effective, saved and file-system ids of a process (the
    Uid: or Gid: line of /proc/PID/status), or the supplementary groups."""
    for line in pathlib.Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(field + ":"):
            return [int(v) for v in line.split()[1:]]
    raise AssertionError("no %s line for pid %d" % (field, pid))


def responder_pids():
    """Each version's workers and their supervisor (multiwatch)."""
    out = {}
    for name, version, workers, _ in services_conf():
        part = "%s@%s" % (name, version)
        pids = list(worker_pids(part))
        sup = STATE / "pids" / ("%s-%s.pid" % (name, version))
        if sup.exists():
            pids += [int(p) for p in sup.read_text().split()]
        out[part] = (workers, [p for p in pids if os.path.exists("/proc/%d" % p)])
    return out


@pytest.mark.skipif(os.geteuid() != 0,
                    reason="the stack drops privileges only when run by root")
def test_no_responder_runs_as_root():
    running = wait_until(lambda: (lambda r: r if all(
        len(pids) >= workers for workers, pids in r.values()) else None)(
            responder_pids()), 30, what="every responder's workers")
    seen = 0
    for part, (_, pids) in running.items():
        for pid in pids:
            uids, gids = ids_of(pid, "Uid"), ids_of(pid, "Gid")
            assert 0 not in uids, "%s pid %d runs with uids %s" % (part, pid, uids)
            assert 0 not in gids, "%s pid %d runs with gids %s" % (part, pid, gids)
            assert 0 not in ids_of(pid, "Groups"), (part, pid)
            seen += 1
    assert seen >= sum(w for w, _ in running.values())


@pytest.mark.skipif(os.geteuid() != 0,
                    reason="the stack drops privileges only when run by root")
def test_what_the_responders_write_is_theirs():
    """Logs, metrics, the registry copy, the shared counters, the feed's
    latest file: owned by the responders' user, so that they can write."""
    uid = ids_of(responder_pids()["tickets@1.0.0"][1][0], "Uid")[0]
    paths = [STATE / "metrics", STATE / "cache", STATE / "logs" / "tickets-1.0.0.log"]
    paths += list((STATE / "metrics").iterdir()) + list((STATE / "cache").iterdir())
    public = STATE / "public"
    if (STATE / "sockets").is_symlink():
        public = (STATE / "sockets").resolve().parent / "public"
    paths += [public / "replyfeed-latestReplies.json"]
    for p in paths:
        assert p.stat().st_uid == uid, "%s is not the responders'" % p
