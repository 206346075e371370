#!/usr/bin/env python3
"""Make nginx available to newsbot's tests and CI.

    python3 services/nginx.py install   # apt-get install nginx-light (or nginx) when nginx is missing

It prints the binary's path and version. Nothing runs afterwards: each test that needs a reverse proxy starts
its own nginx, with its own configuration, port and logs (tests/services.py, ``proxy``). If the package's
install started the system's nginx (where no policy-rc.d forbids that), it is stopped again. Standard library
only, for the system python3.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

# nginx-light is Debian's small build (the proxy and upstream modules are all the tests need); plain nginx is
# the fallback where a release no longer has it.
PACKAGES = (["nginx-light"], ["nginx"])


class Failure(Exception):
    """Ends the command with its message and exit status 1."""


def find() -> str | None:
    """The nginx binary: on PATH, else Debian's /usr/sbin/nginx (root's PATH may lack /usr/sbin)."""
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


def install() -> int:
    if find() is None:
        errors = []
        for packages in PACKAGES:
            try:
                apt_install(packages)
                break
            except Failure as error:
                errors.append(str(error))
        else:
            raise Failure("\n".join(errors))
        stop_system_nginx()
    path = find()
    if path is None:
        raise Failure("apt-get installed nginx but no nginx binary is on PATH or in /usr/sbin")
    # nginx -v prints its version on stderr.
    print(f"nginx: {path} ({subprocess.run([path, '-v'], capture_output=True, text=True).stderr.strip()})")
    return 0


def apt_install(packages: list[str]) -> None:
    """apt-get install, non-interactive and quiet; the output is shown only when it fails."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # A fresh machine has no package lists yet, so update first (once, and only when installing).
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            raise Failure(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def stop_system_nginx() -> None:
    """Stop the nginx that the package's install may have started on port 80 (its pid file is Debian's)."""
    try:
        pid = int(Path("/run/nginx.pid").read_text().strip())
        os.kill(pid, signal.SIGQUIT)  # graceful: it has no requests anyway
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="apt-get install nginx-light (or nginx) when nginx is missing")
    parser.parse_args(argv)
    try:
        return install()
    except Failure as error:
        print(f"nginx: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
