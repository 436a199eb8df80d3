"""The configuration files (vdispatch.conf(5)): dispatch keeps its copy of
the registry in ~/.cache/vdispatch without any variable set, reads its
settings from ~/.config/vdispatch/vdispatch.env (the environment wins), and
`dispatch list` and `dispatch call` work from the copy while the registry
database cannot be reached; spawn/stack reads vdispatch.env and
services.conf from its state directory."""

import json
import os
import subprocess

from conftest import BINDIR, ROOT, STACK

# A database address where nothing listens: the registry is down for
# whoever is given it.
MONGODB_URI = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017")
DOWN = ("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500"
        "&connectTimeoutMS=500")


def dispatch(home, *args, mongodb_uri=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("VD_REGISTRY_CACHE", "MONGODB_URI", "XDG_CACHE_HOME",
                        "XDG_CONFIG_HOME")}
    env["HOME"] = str(home)
    if mongodb_uri is not None:
        env["MONGODB_URI"] = mongodb_uri
    return subprocess.run([str(BINDIR / "dispatch"), *args], env=env,
                          capture_output=True, text=True, timeout=60,
                          check=False)


def user_config(home, text):
    conf = home / ".config" / "vdispatch"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "vdispatch.env").write_text(text)


def test_dispatch_works_from_its_default_cache_while_the_database_is_down(
        tmp_path):
    cache = tmp_path / ".cache" / "vdispatch" / "registry-cache.json"
    up = dispatch(tmp_path, "list", mongodb_uri=MONGODB_URI)
    assert up.returncode == 0, up.stderr
    assert "Ticket Query" in up.stdout
    saved = json.loads(cache.read_text())
    assert "Ticket Query" in json.dumps(saved)
    assert oct(cache.parent.stat().st_mode & 0o777) == "0o700"

    # The database, as the user's settings file names it, is down.
    user_config(tmp_path, f'# down\nMONGODB_URI="{DOWN}"\n')
    listed = dispatch(tmp_path, "list", "Ticket Query")
    assert listed.returncode == 0, listed.stderr
    assert "Ticket Query" in listed.stdout
    assert "Ticket Add Comment" not in listed.stdout
    assert "listing the copy saved in " + str(cache) in listed.stderr
    assert "127.0.0.1:1" in listed.stderr  # the file's URI was the one used

    called = dispatch(tmp_path, "call", "Ticket Query", "1.0.0")
    assert called.returncode == 0, called.stderr
    assert isinstance(json.loads(called.stdout), list)
    assert "calling from the copy saved in " + str(cache) in called.stderr


def test_without_a_copy_a_down_database_fails_and_the_environment_wins(
        tmp_path):
    user_config(tmp_path, f"MONGODB_URI={DOWN}\n")
    res = dispatch(tmp_path, "list")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "127.0.0.1:1" in res.stderr
    # The environment's MONGODB_URI wins over the file's.
    res = dispatch(tmp_path, "list", mongodb_uri=MONGODB_URI)
    assert res.returncode == 0 and "Ticket Query" in res.stdout, res.stderr


def test_stack_reads_its_configuration_from_its_state_directory(tmp_path):
    (tmp_path / "vdispatch.env").write_text(
        "# the stack's copy\nVD_LISTEN=127.0.0.1:18999\n"
        "VD_DB_LISTEN='127.0.0.1:28999'\n")
    (tmp_path / "services.conf").write_text("tickets 2.0.0 1\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("VD_LISTEN", "VD_DB_LISTEN", "VD_SERVICES_CONF",
                        "MONGODB_URI", "VD_BINDIR", "VD_REGISTRY_CACHE",
                        "VD_PUBLIC_URL")}
    env["VD_STATE_DIR"] = str(tmp_path)
    out = subprocess.run([STACK, "env"], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert "VD_LISTEN=127.0.0.1:18999" in out
    assert "MONGODB_URI=mongodb://127.0.0.1:28999" in out
    assert f"VD_SERVICES_CONF={tmp_path}/services.conf" in out
    env["VD_LISTEN"] = "127.0.0.1:18998"  # the environment wins
    out = subprocess.run([STACK, "env"], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert "VD_LISTEN=127.0.0.1:18998" in out
    assert (ROOT / "spawn" / "services.conf").is_file()
