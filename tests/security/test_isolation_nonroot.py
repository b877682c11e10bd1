"""A bubblewrap sandbox of a normal user (not root) that belongs to a supplementary group.

Such a user cannot drop its groups (bubblewrap may not call setgroups), so a socket that
group may open must be invisible instead: here a unix socket in /run owned root:<group>
0660, as the Docker socket is root:docker 0660. The user's home directory (ssh keys, API key
files) must be unreadable too. Both are checked outside the sandbox first, as that user, so
the test proves the sandbox made the difference. The same user's plain sandbox (no cgroup,
no bubblewrap) is checked against what the status table admits: its leftovers may survive.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import textwrap
from pathlib import Path

import pytest
from sandbox_helpers import DETACH, host_processes_matching

from sandboxes import isolation

REPO = Path(__file__).resolve().parents[2]
_SCRIPT = textwrap.dedent(
    """
    import json, os, socket, sys
    sys.path.insert(0, {repo!r})
    from sandboxes import EnvSpec, guarantees, open_sandbox

    def host_processes_matching(needle):
        found = []
        for entry in os.scandir("/proc"):
            try:
                with open(f"/proc/{{entry.name}}/cmdline", "rb") as handle:
                    if entry.name.isdigit() and needle in handle.read():
                        found.append(int(entry.name))
            except OSError:
                continue
        return found

    sock, secret, marker = sys.argv[1:4]
    DETACH = {detach!r}
    out = {{"groups": os.getgroups()}}
    probe = socket.socket(socket.AF_UNIX)
    probe.settimeout(2)
    try:
        probe.connect(sock)
        out["outside_connect"] = True
    except OSError as exc:
        out["outside_connect"] = str(exc)
    out["outside_read"] = open(secret).read()
    table = guarantees.table()
    out["cells"] = {{k: {{m: c.state for m, c in row.items()}} for k, row in table.items()}}
    connect = (
        "import socket, sys; s = socket.socket(socket.AF_UNIX); s.settimeout(2); "
        "s.connect(sys.argv[1]); print('CONNECTED')"
    )
    with open_sandbox("local", EnvSpec(), network=False) as sb:
        out["bwrap"] = sb.bwrap
        sb.write_file("connect.py", connect)
        result = sb.exec(
            f"python connect.py {{sock}}; cat {{secret}}; ls -A /run /home; "
            f"grep ^Groups: /proc/self/status; "
            + DETACH.format(marker=marker + "1"),
            timeout=60,
        )
        out["inside"] = result.stdout + result.stderr
        out["bwrap_left"] = host_processes_matching(f"\\0detached-{{marker}}1\\0".encode())
    os.environ["AGENTS_SANDBOX_NO_BWRAP"] = "1"
    with open_sandbox("local", EnvSpec(), network=False) as sb:
        out["plain_cgroup"] = sb.cgroup is not None
        sb.exec(DETACH.format(marker=marker + "2"), timeout=60)
    out["plain_left"] = host_processes_matching(f"\\0detached-{{marker}}2\\0".encode())
    print(json.dumps(out))
    """
)


def test_a_normal_users_bwrap_sandbox_hides_group_sockets_and_home() -> None:
    uid, gid = isolation.unused_uid(), isolation.unused_uid()
    python = shutil.which("python3", path="/usr/bin:/bin")
    if os.geteuid() != 0:
        pytest.skip("needs root to run a sandbox as another user")
    if python is None:
        pytest.skip("no system python3 a non-root user can run")
    if not isolation.bwrap_works(uid):
        pytest.skip(f"bubblewrap cannot run as uid {uid} here (unprivileged user namespaces?)")
    tag = secrets.token_hex(6)
    home = Path("/home") / f"agents-test-{tag}"
    sock_path = Path("/run") / f"agents-test-{tag}.sock"
    marker = str(90_000 + secrets.randbelow(9_999))
    server = socket.socket(socket.AF_UNIX)
    try:
        home.mkdir(mode=0o700)
        os.chown(home, uid, uid)
        secret = home / "api-key"
        secret.write_text(f"key-{tag}\n")
        secret.chmod(0o600)
        os.chown(secret, uid, uid)
        server.bind(str(sock_path))
        os.chown(sock_path, 0, gid)
        sock_path.chmod(0o660)
        server.listen(4)
        script = _SCRIPT.format(repo=str(REPO), detach=DETACH)
        done = subprocess.run(
            [python, "-c", script, str(sock_path), str(secret), marker],
            user=uid,
            group=uid,
            extra_groups=[gid],
            env={"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            cwd=str(home),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout.splitlines()[-1])
    finally:
        for found in host_processes_matching(f"\0detached-{marker}".encode()):
            os.kill(found, signal.SIGKILL)
        server.close()
        sock_path.unlink(missing_ok=True)
        shutil.rmtree(home, ignore_errors=True)
    # Outside the sandbox that user reaches both: the sandbox is what stops them.
    assert gid in out["groups"] and out["outside_connect"] is True, out
    assert out["outside_read"] == f"key-{tag}\n"
    assert out["bwrap"] is True
    inside = out["inside"]
    assert "CONNECTED" not in inside.splitlines() and f"key-{tag}" not in inside, inside
    assert sock_path.name not in inside, inside  # /run is empty, not merely closed
    # The table this user sees is honest about what a normal user's sandbox keeps.
    cells = out["cells"]
    assert cells["groups"]["bwrap"] == "not held"
    assert cells["private-files"]["bwrap"] == "held"
    assert cells["private-files"]["plain"] == "not held"
    assert cells["memory"]["plain"] == "not held"  # no cgroup for a normal user here
    assert out["bwrap_left"] == [], "the pid namespace takes a setsid'd process with it"
    assert not out["plain_cgroup"]
    assert cells["leftovers"]["plain"] == "not held"
    assert out["plain_left"] != [], "the table says leftovers survive here: they do"
