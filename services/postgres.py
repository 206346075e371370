#!/usr/bin/env python3
"""A throwaway PostgreSQL server for newsbot's tests and CI: install it, start one in a folder, stop it.

    python3 services/postgres.py install              # apt-get install postgresql, when the server is missing
    python3 services/postgres.py start --dir RUNDIR   # a fresh cluster; last line: DATABASE_URL=postgresql://...
    python3 services/postgres.py status --dir RUNDIR  # exit 0 when it runs, 1 when not
    python3 services/postgres.py stop --dir RUNDIR    # fast shutdown; nothing to do is fine too

``start`` makes a new cluster in RUNDIR/data (a leftover one that no longer runs is wiped: this is a test
server, never a place for data worth keeping), listening on 127.0.0.1 only at a free port, with its socket in
RUNDIR and its log in RUNDIR/postgres.log. It creates the login role ``newsbot`` (with CREATEDB, so each test
can make a database of its own, and pg_signal_backend, so it can drop that database WITH (FORCE)) and its
database ``newsbot``, checks that the URL connects, and writes
RUNDIR/postgres.json: pid, port, url, superuser_url and paths. Started again while it runs, it prints the same
URL. Nothing here uses the Debian package's default cluster or systemd (a CI machine has neither running).

PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres`` user (made if missing) and
RUNDIR is handed to it; as anyone else it runs as that user. Standard library only, for the system python3.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

OS_USER = "postgres"
ROLE = "newsbot"
DATABASE = "newsbot"
SUPERUSER = "postgres"
# A Unix socket's path is limited to 107 bytes (sun_path), and PostgreSQL adds "/.s.PGSQL.NNNNN".
MAX_SOCKET_DIR = 90
START_TIMEOUT = 60  # seconds; a cold start on a busy CI machine takes a few at most
STOP_TIMEOUT = 60

# Settings for a small test machine: loopback only, enough connections for several bot processes (each with a
# small pool) plus the test suite, and no log collector (the server's stderr goes to RUNDIR/postgres.log).
# fsync stays on: the tests should see the durability that production has.
SETTINGS = """
# services/postgres.py
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 200
shared_buffers = 128MB
logging_collector = off
log_min_messages = warning
log_connections = off
ssl = off
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="apt-get install postgresql when the server binaries are missing")
    for name in ("start", "stop", "status"):
        command = commands.add_parser(name)
        command.add_argument("--dir", required=True, type=Path, help="the folder of this server (RUNDIR)")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            return install()
        run_dir = args.dir.resolve()
        return {"start": start, "stop": stop, "status": status}[args.command](run_dir)
    except Failure as error:
        print(f"postgres: {error}", file=sys.stderr)
        return 1


class Failure(Exception):
    """Ends the command with its message and exit status 1."""


# -- install --------------------------------------------------------------------------------------------------


def bin_dir() -> Path | None:
    """The newest installed server's bin folder (Debian keeps each major version apart), or one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda path: int(Path(path).parts[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres") or shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def install() -> int:
    if bin_dir() is None:
        apt_install(["postgresql"])
        stop_default_clusters()
    found = bin_dir()
    if found is None:
        raise Failure("apt-get installed postgresql but no server binary is in /usr/lib/postgresql/*/bin")
    print(f"postgres: {found / 'postgres'} ({version(found)})")
    return 0


def apt_install(packages: list[str]) -> None:
    """apt-get install, non-interactive and quiet; the output is shown only when it fails."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # A fresh machine has no package lists yet, so update first (once, and only when installing).
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            raise Failure(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def stop_default_clusters() -> None:
    """Stop the package's default cluster if its install started it (where no policy-rc.d forbids that): the
    tests never use it, and nothing should keep running after an install."""
    for pid_file in glob.glob("/var/lib/postgresql/*/*/postmaster.pid"):
        cluster = Path(pid_file).parent
        command = ["pg_ctlcluster", "--mode", "fast", cluster.parent.name, cluster.name, "stop"]
        if shutil.which("pg_ctlcluster"):
            subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True)


def version(bin_path: Path) -> str:
    return subprocess.run([bin_path / "postgres", "--version"], capture_output=True, text=True).stdout.strip()


# -- start ----------------------------------------------------------------------------------------------------


def start(run_dir: Path) -> int:
    state = read_state(run_dir)
    if state and server_alive(state):
        print(f"postgres: already running (pid {state['pid']}, port {state['port']})")
        print(f"DATABASE_URL={state['url']}")
        return 0
    bin_path = bin_dir()
    if bin_path is None:
        raise Failure("no PostgreSQL server found; run `python3 services/postgres.py install` first")
    started = time.monotonic()
    owner = server_user()
    data = run_dir / "data"
    prepare_dirs(run_dir, data, owner)
    superuser_password = secrets.token_hex(16)
    password = secrets.token_hex(16)
    init_cluster(bin_path, data, superuser_password, owner)
    socket_dir = str(run_dir) if len(str(run_dir)) <= MAX_SOCKET_DIR else ""

    # A free port is picked by binding port 0 and letting it go, so another process can take it before the server
    # binds it; then the start fails with "could not bind" and another port is tried.
    log = run_dir / "postgres.log"
    for _attempt in range(3):
        port = free_port()
        write_settings(data, port, socket_dir)
        log.unlink(missing_ok=True)
        if start_server(bin_path, data, log, owner):
            break
        if "could not bind" not in tail(log):
            raise Failure(f"the server did not start; the end of {log}:\n{tail(log)}")
    else:
        raise Failure(f"no free port could be bound; the end of {log}:\n{tail(log)}")

    superuser_url = f"postgresql://{SUPERUSER}:{superuser_password}@127.0.0.1:{port}/postgres"
    url = f"postgresql://{ROLE}:{password}@127.0.0.1:{port}/{DATABASE}"
    try:
        # Statements over TCP with the password, the way the tests will connect (the socket is a convenience).
        psql(bin_path, superuser_url, f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{password}'")
        psql(bin_path, superuser_url, f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        # Each test drops its database WITH (FORCE), which must end every backend in it, an autovacuum worker
        # too: without this role PostgreSQL 15 refuses that ("must be a member of the role whose process is being
        # terminated"), now and then, when autovacuum happens to be at work there.
        psql(bin_path, superuser_url, f"GRANT pg_signal_backend TO {ROLE}")
        psql(bin_path, url, "SELECT 1")  # the URL printed below is known to work
    except BaseException:
        # No postgres.json is written, so `stop` could not find this server: end it here.
        os.kill(postmaster_pid(data), signal.SIGINT)
        raise

    state = {
        "pid": postmaster_pid(data),
        "port": port,
        "url": url,
        "superuser_url": superuser_url,
        "data": str(data),
        "socket_dir": socket_dir or None,
        "log": str(run_dir / "postgres.log"),
        "version": version(bin_path),
    }
    state_file = run_dir / "postgres.json"
    state_file.write_text(json.dumps(state, indent=2) + "\n")
    state_file.chmod(0o600)  # it holds the passwords
    print(f"postgres: {state['version']} running, pid {state['pid']}, port {port}, {time.monotonic() - started:.1f} s")
    print(f"DATABASE_URL={url}")
    return 0


def server_user() -> pwd.struct_passwd | None:
    """The OS user to run the server as: None for the current user, the ``postgres`` user (made if missing) for
    root, whom initdb and postgres refuse."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--home-dir",
                "/var/lib/postgresql",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                OS_USER,
            ],
            check=True,
        )
        return pwd.getpwnam(OS_USER)


def prepare_dirs(run_dir: Path, data: Path, owner: pwd.struct_passwd | None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    if data.exists():
        shutil.rmtree(data)  # a cluster left by a server that no longer runs: start fresh
    for name in ("postgres.json", "postgres.log"):
        (run_dir / name).unlink(missing_ok=True)
    if owner is not None:
        # The server writes its socket, log and data here; root still reads and writes everything.
        os.chown(run_dir, owner.pw_uid, owner.pw_gid)
        run_dir.chmod(0o755)
        if not as_user(owner, ["test", "-w", str(run_dir)]).returncode == 0:
            raise Failure(
                f"the {OS_USER} user cannot write {run_dir}: a parent folder is closed to it; "
                "choose a RUNDIR under /tmp or another open folder"
            )


def init_cluster(bin_path: Path, data: Path, superuser_password: str, owner: pwd.struct_passwd | None) -> None:
    password_file = data.parent / "superuser.password"
    password_file.write_text(superuser_password + "\n")
    if owner is not None:
        os.chown(password_file, owner.pw_uid, owner.pw_gid)
    password_file.chmod(0o600)
    try:
        # Password (scram) authentication for every connection, socket and TCP alike, so the same URLs work for
        # any OS user; UTF-8 and the C locale whatever the machine's locale is.
        result = as_user(
            owner,
            [
                str(bin_path / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                SUPERUSER,
                "--pwfile",
                str(password_file),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-instructions",
            ],
        )
    finally:
        password_file.unlink()
    if result.returncode != 0:
        raise Failure(f"initdb failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def write_settings(data: Path, port: int, socket_dir: str) -> None:
    conf = data / "postgresql.conf"
    text = conf.read_text()
    text = text.split("\n# services/postgres.py\n")[0]  # a previous attempt's block, when a port was taken
    conf.write_text(text + SETTINGS.format(port=port, socket_dir=socket_dir))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(bin_path: Path, data: Path, log: Path, owner: pwd.struct_passwd | None) -> bool:
    """pg_ctl start, waiting (-w) until the server accepts connections; False when it did not come up."""
    result = as_user(
        owner,
        [
            str(bin_path / "pg_ctl"),
            "start",
            "--pgdata",
            str(data),
            "--log",
            str(log),
            "--wait",
            "--timeout",
            str(START_TIMEOUT),
            "--silent",
        ],
    )
    return result.returncode == 0


def psql(bin_path: Path, url: str, statement: str) -> None:
    psql_path = bin_path / "psql" if (bin_path / "psql").exists() else "psql"
    result = subprocess.run(
        [str(psql_path), "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--dbname", url, "--command", statement],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise Failure(f"psql failed ({result.returncode}) on {statement.split()[0:2]}:\n{result.stderr}")


def as_user(owner: pwd.struct_passwd | None, command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a command as the server's user (or as ourselves). It runs in "/": the caller's folder may be closed to
    that user (root's home), and initdb and pg_ctl complain when they cannot enter it."""
    extra = {}
    if owner is not None:
        extra = {
            "user": owner.pw_uid,
            "group": owner.pw_gid,
            "extra_groups": [],
            "env": dict(os.environ, HOME=owner.pw_dir, USER=owner.pw_name, LOGNAME=owner.pw_name),
        }
    return subprocess.run(command, cwd="/", stdin=subprocess.DEVNULL, capture_output=True, text=True, **extra)


def postmaster_pid(data: Path) -> int:
    return int((data / "postmaster.pid").read_text().split("\n", 1)[0])


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


# -- stop and status ------------------------------------------------------------------------------------------


def read_state(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "postgres.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def server_alive(state: dict) -> bool:
    """Whether the pid in postgres.json is still this server's postmaster (not a pid reused since)."""
    try:
        return postmaster_pid(Path(state["data"])) == state["pid"] and process_exists(state["pid"])
    except (FileNotFoundError, ValueError):  # the server removes postmaster.pid when it stops
        return False


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def stop(run_dir: Path) -> int:
    state = read_state(run_dir)
    if not state or not server_alive(state):
        print("postgres: not running")
        return 0
    pid = state["pid"]
    os.kill(pid, signal.SIGINT)  # SIGINT is PostgreSQL's fast shutdown: sessions are ended, then a checkpoint
    deadline = time.monotonic() + STOP_TIMEOUT
    while process_exists(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown; the cluster is thrown away at the next start
            raise Failure(f"pid {pid} did not stop within {STOP_TIMEOUT} s; sent SIGQUIT")
        time.sleep(0.05)
    print(f"postgres: stopped (pid {pid})")
    return 0


def status(run_dir: Path) -> int:
    state = read_state(run_dir)
    if not state or not server_alive(state):
        print("postgres: not running")
        return 1
    print(f"postgres: running, pid {state['pid']}, port {state['port']}, {state['version']}")
    print(f"DATABASE_URL={state['url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
