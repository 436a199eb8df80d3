"""services.conf: the responders the stack runs, one line each,
NAME VERSION WORKERS [EXTRA ARGS...] ('#' starts a comment)."""

import re


class ConfigError(Exception):
    """A setting or file spawn/stack cannot use; its text is for the user."""


def read(path):
    """The lines of services.conf as lists of fields, comments left out."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError("missing %s" % path) from None
    lines = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            lines.append(fields)
    return lines


def names(services):
    """The responders' names, sorted, once each."""
    return sorted({s[0] for s in services})


def versions(services, name):
    """The versions of NAME in the file's order."""
    return [s[1] for s in services if s[0] == name and len(s) > 1]


def _number(text):
    m = re.match(r"\d+", text)
    return int(m.group()) if m else 0


def _prerelease_key(pre):
    # Semver: numeric identifiers compare as numbers and before the
    # others, which compare as text; more identifiers come after fewer.
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")]


def semver_key(version):
    """A key that sorts versions oldest first, in semver's order: a
    pre-release before its release, build metadata ignored."""
    core = version.split("+", 1)[0]
    core, _, pre = core.partition("-")
    parts = (core.split(".") + ["0", "0", "0"])[:3]
    return ([_number(p) for p in parts], 0 if pre else 1, _prerelease_key(pre) if pre else [])


def newest_first(services, name):
    """The versions of NAME, newest first, each once."""
    out = []
    for v in sorted(versions(services, name), key=semver_key, reverse=True):
        if v not in out:
            out.append(v)
    return out
