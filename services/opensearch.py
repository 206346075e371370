#!/usr/bin/env python3
"""Assemble a real OpenSearch 2.19 node from Maven Central and run one node or a three-node cluster on 127.0.0.1.

What it is for: the project's tests and CI need a real OpenSearch to test a search backend against, including
fault tests that kill -9 one node and restart it. There is no OpenSearch tarball or Docker image to download on
these machines, only Maven Central, so this script builds the distribution itself:

    python3 services/opensearch.py assemble [--version 2.19.6] [--cache DIR]
    python3 services/opensearch.py start --nodes 1|3 --dir RUNDIR [--heap 512m]
    python3 services/opensearch.py status --dir RUNDIR
    python3 services/opensearch.py kill --dir RUNDIR --node N       # kill -9 one node
    python3 services/opensearch.py restart --dir RUNDIR --node N    # same data dir and ports; waits until it rejoins
    python3 services/opensearch.py stop --dir RUNDIR
    python3 services/opensearch.py selftest --dir RUNDIR            # 3 nodes, BM25 index, kill -9, restart, stop

`assemble` resolves `org.opensearch:opensearch` and the modules a node needs with `mvn` and lays out a distribution
(lib/, modules/<name>/ with plugin descriptors and security policies, config/, plugins/) in a cache directory.
`start` links that distribution into RUNDIR, writes one config directory per node, starts the JVMs (as an
unprivileged user when run as root: OpenSearch refuses to run as root), waits for a green cluster and writes
RUNDIR/cluster.json. The same jobs are importable: start_cluster, stop_cluster, kill_node, restart_node, health.

Only the Python standard library is used, so the system python3 (3.11) runs it without a venv.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

DEFAULT_VERSION = "2.19.6"
DEFAULT_CACHE = Path.home() / ".cache" / "newsbot-services"
DEFAULT_HEAP = "512m"
# OpenSearch refuses to start as root; when we are root the JVMs run as this system user.
NODE_USER = "newsbot-search"
# The 2.19 line needs a JDK with a security manager (removed in Java 24) and at least Java 11.
DEFAULT_JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
JAVA_MIN, JAVA_MAX = 11, 23
START_TIMEOUT = 240.0  # seconds to wait for green after start or restart (measured: 3 nodes ~15-35 s on 2 cores)
STOP_TIMEOUT = 30.0  # seconds between SIGTERM and SIGKILL

# The modules a node of ours loads. Maven Central publishes each module's jar (some under a "-client" name);
# the descriptor and the security policy are not in the jar, they come from the module's build, so we write them.
# classname is checked against the jar when assembling.
MODULES = {
    "transport-netty4": {
        "artifact": "org.opensearch.plugin:transport-netty4-client",
        "description": "Netty 4 based transport implementation",
        "classname": "org.opensearch.transport.Netty4Plugin",
        "extends": [],
        # netty accepts and opens sockets, reads the system's accept backlog and names its own threads' loaders.
        "policy": """grant {
  permission java.io.FilePermission "/proc/sys/net/core/somaxconn", "read";
  permission java.net.SocketPermission "*", "accept,connect";
  permission java.lang.RuntimePermission "*", "setContextClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
  permission java.util.PropertyPermission "sun.nio.ch.bugLevel", "write";
};
""",
    },
    "lang-painless": {
        "artifact": "org.opensearch.plugin:lang-painless",
        "description": "An easy, safe and fast scripting language for OpenSearch",
        "classname": "org.opensearch.painless.PainlessPlugin",
        "extends": [],
        # painless compiles scripts into classes of its own loader.
        "policy": """grant {
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
""",
    },
    "analysis-common": {
        "artifact": "org.opensearch.plugin:analysis-common",
        "description": 'Adds "built in" analyzers to OpenSearch.',
        "classname": "org.opensearch.analysis.common.CommonAnalysisPlugin",
        # it ships a painless whitelist extension, so its class loader must see lang-painless (painless-spi).
        "extends": ["lang-painless"],
        "policy": None,
    },
    "mapper-extras": {
        "artifact": "org.opensearch.plugin:mapper-extras-client",
        "description": "Adds advanced field mappers",
        "classname": "org.opensearch.index.mapper.MapperExtrasPlugin",
        "extends": [],
        "policy": None,
    },
    "reindex": {
        # _reindex, _update_by_query and _delete_by_query (a backend deletes an article's passages by query).
        "artifact": "org.opensearch.plugin:reindex-client",
        "description": (
            "The Reindex module adds APIs to reindex from one index to another or update documents in place."
        ),
        "classname": "org.opensearch.index.reindex.ReindexPlugin",
        "extends": [],
        # reindex-from-remote opens connections with the REST client; ${codebase.X} names a jar of the module.
        "policy": """grant {
  permission java.net.SocketPermission "*", "connect";
};
grant codeBase "${codebase.opensearch-rest-client}" {
  permission java.net.NetPermission "getProxySelector";
};
grant codeBase "${codebase.httpasyncclient}" {
  permission java.net.NetPermission "getProxySelector";
};
""",
    },
}

# Settings every node of ours shares. Binding to loopback only keeps the nodes in development mode, where the
# production bootstrap checks (vm.max_map_count, file descriptors, heap equal min/max...) only warn.
OPENSEARCH_YML = """# Written by services/opensearch.py: settings every node shares; start appends each node's own.
network.host: 127.0.0.1
# A test box's disk may be fuller than the 85/90/95% watermarks; a test must not turn yellow or read-only for it.
cluster.routing.allocation.disk.threshold_enabled: false
bootstrap.memory_lock: false
"""

# JVM options every node shares (the distribution's jvm.options plus the launcher's system options, for Java 17).
# start adds the per-node ones: heap, direct memory, tmpdir, heap dump and error file paths, GC log.
JVM_OPTIONS = """# Written by services/opensearch.py; read by its start command (one option a line, # for comments).
-XX:+UseG1GC
-XX:G1ReservePercent=25
-XX:InitiatingHeapOccupancyPercent=30
-XX:+HeapDumpOnOutOfMemoryError
-XX:-OmitStackTraceInFastThrow
-XX:+ShowCodeDetailsInExceptionMessages
# Unlike the stock launcher no -XX:+AlwaysPreTouch: the test machine also runs the test suite, so the heap is
# committed as it is used instead of all at start (faster start, less resident memory for small tests).
-Xss1m
-Xshare:auto
-Djava.awt.headless=true
-Dfile.encoding=UTF-8
-Djna.nosys=true
-Djava.locale.providers=SPI,COMPAT
-Djava.security.manager=allow
-Dopensearch.networkaddress.cache.ttl=60
-Dopensearch.networkaddress.cache.negative.ttl=10
-Dio.netty.noUnsafe=true
-Dio.netty.noKeySetOptimization=true
-Dio.netty.recycler.maxCapacityPerThread=0
-Dio.netty.allocator.numDirectArenas=0
-Dlog4j.shutdownHookEnabled=false
-Dlog4j2.disable.jmx=true
-Dopensearch.distribution.type=tar
-Dopensearch.bundled_jdk=false
"""

# One plain-text log per node, <cluster name>.log in its logs directory (the name OpenSearch's own error messages
# point to; it sets opensearch.logs.* from path.logs and cluster.name).
LOG4J2_PROPERTIES = """# Written by services/opensearch.py: one rolling plain-text log per node.
status = error

appender.rolling.type = RollingFile
appender.rolling.name = rolling
property.base = ${sys:opensearch.logs.base_path}${sys:file.separator}${sys:opensearch.logs.cluster_name}
appender.rolling.fileName = ${base}.log
appender.rolling.filePattern = ${base}-%i.log.gz
appender.rolling.layout.type = PatternLayout
appender.rolling.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
appender.rolling.policies.type = Policies
appender.rolling.policies.size.type = SizeBasedTriggeringPolicy
appender.rolling.policies.size.size = 32MB
appender.rolling.strategy.type = DefaultRolloverStrategy
appender.rolling.strategy.max = 3

rootLogger.level = info
rootLogger.appenderRef.rolling.ref = rolling

logger.deprecation.name = org.opensearch.deprecation
logger.deprecation.level = warn
"""


class ServiceError(RuntimeError):
    """A step failed; the message says which and why (with the tail of a node's log where there is one)."""


# ----------------------------------------------------------------------------------------------------------------
# assemble


def dist_dir(version: str = DEFAULT_VERSION, cache: Path | str | None = None) -> Path:
    """Where the assembled distribution of `version` lives (it may not exist yet)."""
    return Path(cache or DEFAULT_CACHE).expanduser().resolve() / f"opensearch-{version}"


def assemble(version: str = DEFAULT_VERSION, cache: Path | str | None = None, force: bool = False) -> Path:
    """Build the OpenSearch `version` distribution from Maven Central into the cache and return its directory.

    Idempotent and safe to interrupt: the distribution is built in a temporary directory beside the final one and
    renamed into place at the end, so the final directory is either absent or complete (it holds ASSEMBLED).
    A second call returns at once. `force` rebuilds it.
    """
    final = dist_dir(version, cache)
    if (final / "ASSEMBLED").exists() and not force:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-{os.getpid()}-", dir=final.parent))
    try:
        jars = _resolve_with_maven(version, tmp / "maven")
        _lay_out(version, jars, tmp / "dist")
        (tmp / "dist" / "ASSEMBLED").write_text(
            json.dumps({"version": version, "assembled_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n"
        )
        if force and final.exists():
            shutil.rmtree(final)
        try:
            os.rename(tmp / "dist", final)
        except OSError:
            # Another assemble finished first: its result is as good as ours.
            if not (final / "ASSEMBLED").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _remove_stale_temps(final: Path) -> None:
    """Remove temporary directories left by an interrupted assemble (whose process is gone)."""
    for leftover in final.parent.glob(f".{final.name}.tmp-*"):
        try:
            pid = int(leftover.name.split(".tmp-")[1].split("-")[0])
        except (IndexError, ValueError):
            continue
        if not Path(f"/proc/{pid}").exists():
            shutil.rmtree(leftover, ignore_errors=True)


def _pom(artifact_id: str, deps: list[tuple[str, str, str]], modules: list[str] | None = None) -> str:
    """A minimal pom: deps are (groupId:artifactId, version, scope)."""
    lines = [
        '<project xmlns="http://maven.apache.org/POM/4.0.0">',
        "  <modelVersion>4.0.0</modelVersion>",
        f"  <groupId>newsbot.services</groupId><artifactId>{artifact_id}</artifactId><version>1</version>",
        "  <packaging>pom</packaging>",
    ]
    if modules:
        lines.append("  <modules>" + "".join(f"<module>{m}</module>" for m in modules) + "</modules>")
    lines.append("  <dependencies>")
    for coord, version, scope in deps:
        group, artifact = coord.split(":")
        lines.append(
            f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{version}</version><scope>{scope}</scope></dependency>"
        )
    lines += ["  </dependencies>", "</project>", ""]
    return "\n".join(lines)


def _run_maven(project: Path) -> None:
    """Run `mvn dependency:list` over the generated reactor in `project`; each child writes its deps.txt."""
    if shutil.which("mvn") is None:
        raise ServiceError("mvn is not on PATH: install Maven (Debian: apt-get install maven)")
    cmd = [
        "mvn",
        "-B",
        "-q",
        "dependency:list",
        "-DoutputFile=deps.txt",
        "-DoutputAbsoluteArtifactFilename=true",
        "-DincludeScope=runtime",
    ]
    env = dict(os.environ)
    env.setdefault("JAVA_HOME", _java_home())
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise ServiceError(f"mvn failed in {project} (exit {proc.returncode}):\n{tail}")


def _read_deps(deps_file: Path) -> dict[str, Path]:
    """Parse a `dependency:list` output file into {groupId:artifactId: jar path}."""
    jars = {}
    for line in deps_file.read_text().splitlines():
        parts = line.strip().split(":")
        # groupId:artifactId:type[:classifier]:version:scope:/absolute/path
        if len(parts) >= 6 and parts[-1].startswith("/") and parts[2] == "jar":
            jars[f"{parts[0]}:{parts[1]}"] = Path(parts[-1])
    return jars


def _resolve_with_maven(version: str, work: Path) -> dict[str, dict[str, Path]]:
    """Resolve the server and every module; return {"lib": {...}, "<module>": {...}} of {group:artifact: jar}.

    Each module's pom declares the server (and the modules it extends) as `provided`, so Maven leaves out every
    jar the server already has and picks the server's version on a conflict: a module directory then holds only
    its own jars, as OpenSearch's jar hell check demands.
    """
    server = "org.opensearch:opensearch"
    # The plugin class loader is not a dependency of the server's pom (the server compiles against it only), but
    # the server loads every module through it, so the distribution puts it in lib/.
    children = {
        "server": [(server, version, "compile"), ("org.opensearch:opensearch-plugin-classloader", version, "compile")]
    }
    for name, module in MODULES.items():
        deps = [(server, version, "provided")]
        deps += [(MODULES[parent]["artifact"], version, "provided") for parent in module["extends"]]
        deps.append((module["artifact"], version, "compile"))
        children[name] = deps
    for child, deps in children.items():
        (work / child).mkdir(parents=True)
        (work / child / "pom.xml").write_text(_pom(child, deps))
    (work / "pom.xml").write_text(_pom("root", [], modules=list(children)))
    _run_maven(work)
    resolved = {child: _read_deps(work / child / "deps.txt") for child in children}
    lib = resolved.pop("server")

    # The server's optional dependencies are not resolved transitively, but a distribution ships them:
    # log4j-core (the logging backend) and the geo libraries of the legacy geo_shape mapper.
    server_pom = lib[server].with_suffix(".pom")
    optional = _optional_dependencies(server_pom)
    if optional:
        (work / "optional").mkdir()
        (work / "optional" / "pom.xml").write_text(_pom("optional", [(c, v, "compile") for c, v in optional]))
        _run_maven(work / "optional")
        for coord, jar in _read_deps(work / "optional" / "deps.txt").items():
            lib.setdefault(coord, jar)
    if "org.apache.logging.log4j:log4j-core" not in lib:
        raise ServiceError(f"log4j-core was not found among the optional dependencies of {server_pom}")

    result = {"lib": lib}
    for name, jars in resolved.items():
        # A module must not repeat a server jar (or a jar of a module it extends), even in another version.
        shared = set(lib) | {c for parent in MODULES[name]["extends"] for c in resolved[parent]}
        result[name] = {coord: jar for coord, jar in jars.items() if coord not in shared}
    return result


def _optional_dependencies(pom: Path) -> list[tuple[str, str]]:
    """The (groupId:artifactId, version) of the optional dependencies declared in a pom."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    found = []
    for dep in ET.parse(pom).getroot().iterfind("m:dependencies/m:dependency", ns):
        if (dep.findtext("m:optional", "", ns) or "").strip() == "true":
            found.append(
                (
                    f"{dep.findtext('m:groupId', '', ns)}:{dep.findtext('m:artifactId', '', ns)}",
                    dep.findtext("m:version", "", ns),
                )
            )
    return found


def _lay_out(version: str, jars: dict[str, dict[str, Path]], dist: Path) -> None:
    """Write the distribution tree: lib/, modules/<name>/, plugins/, config/."""
    (dist / "lib").mkdir(parents=True)
    for jar in jars["lib"].values():
        shutil.copy2(jar, dist / "lib" / jar.name)
    for name, module in MODULES.items():
        mdir = dist / "modules" / name
        mdir.mkdir(parents=True)
        for jar in jars[name].values():
            shutil.copy2(jar, mdir / jar.name)
        main_jar = jars[name].get(module["artifact"])
        if main_jar is None:
            raise ServiceError(f"module {name}: {module['artifact']} was not resolved")
        class_file = module["classname"].replace(".", "/") + ".class"
        with zipfile.ZipFile(main_jar) as zf:
            if class_file not in zf.namelist():
                raise ServiceError(f"module {name}: {main_jar.name} has no {module['classname']}")
        descriptor = {
            "description": module["description"],
            "version": version,
            "name": name,
            "classname": module["classname"],
            "java.version": "11",
            "opensearch.version": version,
            "extended.plugins": ",".join(module["extends"]),
            "has.native.controller": "false",
        }
        (mdir / "plugin-descriptor.properties").write_text(
            "".join(f"{key}={value}\n" for key, value in descriptor.items())
        )
        if module["policy"]:
            (mdir / "plugin-security.policy").write_text(module["policy"])
    (dist / "plugins").mkdir()
    # Empty, but the security manager setup insists that path.home/bin exists (it would try to create it).
    (dist / "bin").mkdir()
    (dist / "config").mkdir()
    (dist / "config" / "opensearch.yml").write_text(OPENSEARCH_YML)
    (dist / "config" / "jvm.options").write_text(JVM_OPTIONS)
    (dist / "config" / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
    # The nodes run as another user: everything must be world-readable whatever our umask.
    for path in [dist, *dist.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


# ----------------------------------------------------------------------------------------------------------------
# Java, the node user and ports


def _java_home() -> str:
    """The JDK the nodes run on: $OPENSEARCH_JAVA_HOME, the Java 17 JDK, or $JAVA_HOME; its version is checked."""
    for candidate in (os.environ.get("OPENSEARCH_JAVA_HOME"), DEFAULT_JAVA_HOME, os.environ.get("JAVA_HOME")):
        if candidate and Path(candidate, "bin", "java").exists():
            major = _java_major(Path(candidate))
            if major is not None and JAVA_MIN <= major <= JAVA_MAX:
                return candidate
    raise ServiceError(
        f"no JDK {JAVA_MIN}-{JAVA_MAX} found (OpenSearch 2.19 needs one with a security manager): "
        f"install openjdk-17-jdk-headless or set OPENSEARCH_JAVA_HOME"
    )


def _java_major(java_home: Path) -> int | None:
    """The major version of a JDK, from its `release` file."""
    try:
        for line in (java_home / "release").read_text().splitlines():
            if line.startswith("JAVA_VERSION="):
                version = line.split("=", 1)[1].strip('"')
                first = version.split(".")[0]
                return int(version.split(".")[1]) if first == "1" else int(first)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _node_user() -> tuple[int, int] | None:
    """The (uid, gid) the JVMs run as: None when we are not root; as root, the NODE_USER system user (created)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(NODE_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                "--comment",
                "newsbot test OpenSearch",
                NODE_USER,
            ],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(NODE_USER)
    return entry.pw_uid, entry.pw_gid


def _as_user(user: tuple[int, int] | None, argv: list[str]) -> list[str]:
    """Prefix argv so that it runs as `user`. setpriv execs (no forked parent), so the pid we get is the JVM's."""
    if user is None:
        return argv
    uid, gid = user
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", "--", *argv]


def _free_ports(count: int) -> list[int]:
    """Pick `count` distinct free ports on 127.0.0.1 below the ephemeral range.

    Below it so that no outgoing connection's ephemeral port takes one of them while a node is down between a kill
    and a restart (a restarted node binds the same ports again).
    """
    low_ephemeral = 32768
    with contextlib.suppress(OSError, ValueError, IndexError):
        low_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    ports: list[int] = []
    for _ in range(2000):
        port = rng.randrange(20000, min(low_ephemeral, 32768))
        if port not in ports and _port_free(port):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise ServiceError(f"could not find {count} free ports on 127.0.0.1")


def _port_free(port: int) -> bool:
    """Whether a node could bind 127.0.0.1:port now.

    With SO_REUSEADDR, as OpenSearch binds: after a kill -9 the port stays in TIME_WAIT for a minute, which does not
    stop the node, so it must not stop us either; only a listening socket does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _heap_bytes(heap: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    heap = heap.strip().lower()
    if heap[-1] in units:
        return int(heap[:-1]) * units[heap[-1]]
    return int(heap)


# ----------------------------------------------------------------------------------------------------------------
# processes

# Popen objects of the nodes this Python process started: kept so that a killed node is reaped (not a zombie that
# still looks alive) when the functions are used from a long-lived process such as pytest.
_CHILDREN: dict[int, subprocess.Popen] = {}


def _alive(node: dict) -> bool:
    """Whether the node's recorded pid is a live process of that node (not a zombie, not a reused pid)."""
    pid = node.get("pid")
    if not pid:
        return False
    child = _CHILDREN.get(pid)
    if child is not None:
        # Our own child: poll() reaps it once it exits and, while it has not, the pid cannot have been reused.
        if child.poll() is None:
            return True
        _CHILDREN.pop(pid, None)
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    if not cmdline:
        return True  # read in the middle of setpriv's exec of java: the process is there
    # The config dir is in the command line (-Dopensearch.path.conf=...): a pid reused by another process is not ours.
    return f"-Dopensearch.path.conf={node['config_dir']}" in cmdline


def _wait_dead(node: dict, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(node):
            return True
        time.sleep(0.1)
    return not _alive(node)


def _launch(node: dict) -> int:
    """Start a node's JVM from its recorded command line and environment; return its pid."""
    logs = Path(node["logs_dir"])
    with open(logs / "stdout.log", "ab") as out:
        out.write(f"\n==== started {time.strftime('%Y-%m-%d %H:%M:%S')} ====\n".encode())
        out.flush()
        # A new session: the node outlives this script and a Ctrl-C in its terminal.
        proc = subprocess.Popen(
            node["command"],
            env=node["env"],
            cwd=node["cwd"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid


def _log_tail(node: dict, lines: int = 40) -> str:
    """The last lines of a node's log and of its stdout (where the JVM writes what happens before logging starts)."""
    parts = []
    for path in (Path(node["log_file"]), Path(node["logs_dir"]) / "stdout.log"):
        try:
            text = path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            continue
        parts.append(f"--- {path} (last {len(text)} lines)\n" + "\n".join(text))
    return "\n".join(parts) or f"(no log in {node['logs_dir']})"


# ----------------------------------------------------------------------------------------------------------------
# HTTP


def _request(url: str, method: str = "GET", body=None, timeout: float = 10.0, ndjson: bool = False):
    """One JSON request with urllib; returns (status, parsed body). HTTP errors are returned, not raised."""
    data = None
    headers = {}
    if body is not None:
        if ndjson:
            data = "".join(json.dumps(line) + "\n" for line in body).encode()
            headers["Content-Type"] = "application/x-ndjson"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def _health_of(url: str, params: str = "", timeout: float = 10.0) -> dict | None:
    """GET url/_cluster/health?params, or None if the node does not answer."""
    try:
        _, body = _request(f"{url}/_cluster/health{params}", timeout=timeout)
    except (OSError, urllib.error.URLError):
        return None
    return body if isinstance(body, dict) and "status" in body else None


# ----------------------------------------------------------------------------------------------------------------
# cluster state on disk


def _state_path(rundir: Path | str) -> Path:
    return Path(rundir).resolve() / "cluster.json"


def load_cluster(rundir: Path | str) -> dict:
    """Read RUNDIR/cluster.json (written by start_cluster)."""
    path = _state_path(rundir)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ServiceError(f"{path} does not exist: no cluster was started in {Path(rundir)}") from None


def _save_cluster(state: dict) -> None:
    path = _state_path(state["rundir"])
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, path)


def _node(state: dict, number: int) -> dict:
    for node in state["nodes"]:
        if node["number"] == number:
            return node
    raise ServiceError(f"no node {number} in {state['rundir']} (nodes: {[n['number'] for n in state['nodes']]})")


# ----------------------------------------------------------------------------------------------------------------
# start, stop, kill, restart, health


def _link_tree(src: Path, dst: Path) -> None:
    """Copy a directory tree by hard links (a copy when across file systems).

    The cache may sit under /root, which the node user cannot enter; RUNDIR/home is reachable and costs no space.
    """
    for root, _dirs, files in os.walk(src):
        target = dst / Path(root).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(0o755)
        for name in files:
            try:
                os.link(Path(root) / name, target / name)
            except OSError:
                shutil.copy2(Path(root) / name, target / name)


def _node_command(java_home: str, home: Path, node: dict, heap: str, jit: str) -> list[str]:
    """The JVM command line of one node: the shared jvm.options plus its heap, JIT choice and its own paths."""
    options = [
        line.strip()
        for line in Path(node["config_dir"], "jvm.options").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    logs, tmp = node["logs_dir"], node["tmp_dir"]
    options += [
        f"-Xms{heap}",
        f"-Xmx{heap}",
        f"-XX:MaxDirectMemorySize={_heap_bytes(heap) // 2}",  # what the stock launcher's ergonomics would pick
        # c1: the quick compiler only. Measured here (2 cores, 3 nodes starting at once): green in ~15 s instead
        # of ~31 s, and less CPU taken from a test suite running beside; "full" keeps C2 for peak throughput.
        *(["-XX:TieredStopAtLevel=1"] if jit == "c1" else []),
        f"-Djava.io.tmpdir={tmp}",
        f"-XX:HeapDumpPath={logs}",
        f"-XX:ErrorFile={logs}/hs_err_pid%p.log",
        f"-Xlog:gc*,gc+age=trace,safepoint:file={logs}/gc.log:utctime,pid,tags:filecount=4,filesize=16m",
        f"-Dopensearch.path.home={home}",
        f"-Dopensearch.path.conf={node['config_dir']}",
        "-cp",
        f"{home}/lib/*",
        "org.opensearch.bootstrap.OpenSearch",
    ]
    return [f"{java_home}/bin/java", *options]


def _node_settings(state: dict, node: dict) -> str:
    """The node's own lines of opensearch.yml."""
    nodes = state["nodes"]
    lines = [
        f"cluster.name: {state['cluster_name']}",
        f"node.name: {node['name']}",
        f"path.data: {node['data_dir']}",
        f"path.logs: {node['logs_dir']}",
        f"http.port: {node['http_port']}",
        f"transport.port: {node['transport_port']}",
    ]
    if len(nodes) == 1:
        lines.append("discovery.type: single-node")
    else:
        seeds = ", ".join(f'"127.0.0.1:{n["transport_port"]}"' for n in nodes)
        names = ", ".join(f'"{n["name"]}"' for n in nodes)
        lines += [f"discovery.seed_hosts: [{seeds}]", f"cluster.initial_cluster_manager_nodes: [{names}]"]
    return "\n".join(lines) + "\n"


def _prepare_rundir(rundir: Path) -> None:
    """Make RUNDIR ready for a new cluster: refuse if one runs there, clear what a stopped one left."""
    if _state_path(rundir).exists():
        old = load_cluster(rundir)
        running = [n["name"] for n in old["nodes"] if _alive(n)]
        if running:
            raise ServiceError(f"a cluster is running in {rundir} ({', '.join(running)}): stop it first")
        for path in [rundir / "home", *(Path(n["dir"]) for n in old["nodes"]), _state_path(rundir)]:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    elif rundir.exists() and any(rundir.iterdir()):
        raise ServiceError(f"{rundir} is not empty and holds no cluster.json: give an empty or new directory")
    rundir.mkdir(parents=True, exist_ok=True)


def _check_reachable(user: tuple[int, int] | None, state: dict) -> None:
    """Check, as the node user, that the node directories are writable (a parent may be closed, e.g. /root)."""
    if user is None:
        return
    for node in state["nodes"]:
        probe = subprocess.run(_as_user(user, ["test", "-w", node["data_dir"]]))
        if probe.returncode != 0:
            raise ServiceError(
                f"user {NODE_USER} cannot write {node['data_dir']}: a parent directory of {state['rundir']} is not "
                f"open to other users (e.g. /root or /tmp/pytest-of-root are mode 700); use a RUNDIR under /tmp"
            )


def _wait_green(state: dict, nodes_expected: int, timeout: float, watch: list[dict]) -> float:
    """Wait until the cluster has `nodes_expected` nodes and is green; return the seconds waited.

    Only the watched nodes are asked: right after a kill -9 the other nodes may not have noticed the loss yet and
    would still report the old node count, while a (re)started node answers HTTP only once it has joined.
    Fails at once, with the node's log, if a watched node's process dies.
    """
    started = time.monotonic()
    deadline = started + timeout
    last = None
    while True:
        for node in watch:
            if not _alive(node):
                raise ServiceError(f"{node['name']} (pid {node['pid']}) exited while starting:\n{_log_tail(node)}")
        # Ask the first watched node that answers (a node still starting does not answer HTTP yet).
        for node in watch:
            answer = _alive(node) and _health_of(
                node["http_url"], f"?wait_for_status=green&wait_for_nodes={nodes_expected}&timeout=1s", timeout=5
            )
            if answer:
                last = answer
                if answer["status"] == "green" and answer["number_of_nodes"] == nodes_expected:
                    return time.monotonic() - started
                break
        if time.monotonic() > deadline:
            tails = "\n".join(_log_tail(n, 25) for n in watch)
            raise ServiceError(
                f"cluster in {state['rundir']} not green with {nodes_expected} nodes after {timeout:.0f} s "
                f"(last health: {json.dumps(last)}):\n{tails}"
            )
        time.sleep(0.5)


def start_cluster(
    rundir: Path | str,
    nodes: int = 1,
    heap: str = DEFAULT_HEAP,
    version: str = DEFAULT_VERSION,
    cache: Path | str | None = None,
    timeout: float = START_TIMEOUT,
    jit: str = "c1",
) -> dict:
    """Start `nodes` (1 or 3) OpenSearch nodes on 127.0.0.1 in RUNDIR and wait until the cluster is green.

    Assembles the distribution first if it is not cached. Each node gets free HTTP and transport ports, its own
    config, data, logs and tmp directories under RUNDIR/node-N, and runs as NODE_USER when we are root. The cluster
    name is unique per run. Writes and returns RUNDIR/cluster.json's content: cluster name, and per node its name,
    pid, http_url, ports, directories, and the exact command, environment and cwd to start it again.
    A RUNDIR left by a stopped cluster is reused (its old nodes' directories are removed).
    """
    if jit not in ("c1", "full"):
        raise ServiceError("jit must be 'c1' (quick start, the default) or 'full' (C2, for benchmarks)")
    if nodes not in (1, 3):
        raise ServiceError("--nodes must be 1 or 3 (three cluster-manager-eligible nodes survive losing one)")
    started = time.monotonic()
    rundir = Path(rundir).resolve()
    dist = assemble(version, cache)
    java_home = _java_home()
    user = _node_user()
    _prepare_rundir(rundir)
    home = rundir / "home"
    ports = _free_ports(2 * nodes)
    cluster_name = f"newsbot-{secrets.token_hex(4)}"
    state = {
        "version": version,
        "cluster_name": cluster_name,
        "rundir": str(rundir),
        "home": str(home),
        "java_home": java_home,
        "user": NODE_USER if user else pwd.getpwuid(os.geteuid()).pw_name,
        "heap": heap,
        "jit": jit,
        "nodes": [],
    }
    for i in range(nodes):
        ndir = rundir / f"node-{i + 1}"
        state["nodes"].append(
            {
                "number": i + 1,
                "name": f"node-{i + 1}",
                "dir": str(ndir),
                "config_dir": str(ndir / "config"),
                "data_dir": str(ndir / "data"),
                "logs_dir": str(ndir / "logs"),
                "log_file": str(ndir / "logs" / f"{cluster_name}.log"),
                "tmp_dir": str(ndir / "tmp"),
                "http_port": ports[2 * i],
                "transport_port": ports[2 * i + 1],
                "http_url": f"http://127.0.0.1:{ports[2 * i]}",
                "pid": None,
            }
        )
    # Saved before anything is written under RUNDIR, so that a failed start leaves a RUNDIR the next start clears.
    _save_cluster(state)
    _link_tree(dist, home)
    for node in state["nodes"]:
        for key in ("config_dir", "data_dir", "logs_dir", "tmp_dir"):
            Path(node[key]).mkdir(parents=True)
        shutil.copy2(home / "config" / "jvm.options", node["config_dir"])
        shutil.copy2(home / "config" / "log4j2.properties", node["config_dir"])
        yml = (home / "config" / "opensearch.yml").read_text() + "\n# This node's own settings\n"
        Path(node["config_dir"], "opensearch.yml").write_text(yml + _node_settings(state, node))
        node["command"] = _as_user(user, _node_command(java_home, home, node, heap, jit))
        node["env"] = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": node["dir"],
            "LANG": "C.UTF-8",
            "JAVA_HOME": java_home,
        }
        node["cwd"] = node["dir"]
    if user:
        # The node user owns RUNDIR and each node's directories (the keystore is written into the config dir);
        # home/ stays ours and read-only to it.
        os.chown(rundir, *user)
        for node in state["nodes"]:
            for root, _dirs, files in os.walk(node["dir"]):
                os.chown(root, *user)
                for name in files:
                    os.chown(Path(root, name), *user)
    _check_reachable(user, state)
    _save_cluster(state)

    for node in state["nodes"]:
        node["pid"] = _launch(node)
    _save_cluster(state)
    try:
        _wait_green(state, nodes, timeout, watch=state["nodes"])
    except BaseException:
        stop_cluster(rundir)
        raise
    state["started_in_seconds"] = round(time.monotonic() - started, 1)
    _save_cluster(state)
    return state


def stop_cluster(rundir: Path | str, timeout: float = STOP_TIMEOUT) -> list[str]:
    """Stop every node of RUNDIR: SIGTERM, then SIGKILL for those still alive after `timeout` seconds.

    Idempotent: nodes already stopped are skipped. Returns the names of the nodes it stopped.
    """
    path = _state_path(rundir)
    if not path.exists():
        return []
    state = load_cluster(rundir)
    running = [n for n in state["nodes"] if _alive(n)]
    for node in running:
        os.kill(node["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for node in running:
        if not _wait_dead(node, max(0.0, deadline - time.monotonic())):
            os.kill(node["pid"], signal.SIGKILL)
            _wait_dead(node, 10)
    return [n["name"] for n in running]


def kill_node(rundir: Path | str, node: int) -> int:
    """kill -9 node number `node` (1-based) of RUNDIR and wait until its process is gone; return its old pid."""
    state = load_cluster(rundir)
    target = _node(state, node)
    if not _alive(target):
        raise ServiceError(f"{target['name']} is not running")
    os.kill(target["pid"], signal.SIGKILL)
    if not _wait_dead(target, 10):
        raise ServiceError(f"{target['name']} (pid {target['pid']}) survived SIGKILL for 10 s")
    return target["pid"]


def restart_node(rundir: Path | str, node: int, timeout: float = START_TIMEOUT, wait: bool = True) -> dict:
    """Start node `node` of RUNDIR again (same command, data dir and ports) and wait until it rejoined and green.

    Waits for green with as many nodes as then run. `wait=False` returns once the JVM is launched: needed to bring
    back a cluster that lost its quorum (two of three nodes down), where one node alone never turns green.
    Returns the node's updated record, with `rejoined_in_seconds` when it waited.
    """
    state = load_cluster(rundir)
    target = _node(state, node)
    if _alive(target):
        raise ServiceError(f"{target['name']} is still running (pid {target['pid']})")
    running = 1 + sum(1 for n in state["nodes"] if n is not target and _alive(n))
    if wait and running <= len(state["nodes"]) // 2:
        raise ServiceError(
            f"only {running} of {len(state['nodes'])} nodes would run: no cluster-manager quorum, so it could never "
            f"turn green; restart it without waiting (--no-wait, wait=False), then restart another node"
        )
    for port in (target["http_port"], target["transport_port"]):
        if not _port_free(port):
            raise ServiceError(f"port {port} of {target['name']} is taken by another process")
    started = time.monotonic()
    target["pid"] = _launch(target)
    target.pop("rejoined_in_seconds", None)
    _save_cluster(state)
    if not wait:
        return target
    _wait_green(state, running, timeout, watch=[target])
    target["rejoined_in_seconds"] = round(time.monotonic() - started, 1)
    _save_cluster(state)
    return target


def health(rundir: Path | str, timeout: float = 10.0) -> dict:
    """The cluster health (GET /_cluster/health) asked of the first live node of RUNDIR.

    Raises ServiceError when no node answers.
    """
    state = load_cluster(rundir)
    for node in state["nodes"]:
        if _alive(node):
            answer = _health_of(node["http_url"], timeout=timeout)
            if answer:
                return answer
    raise ServiceError(f"no node of {state['rundir']} answers")


def wait_for_health(
    rundir: Path | str, status: str | None = "green", nodes: int | None = None, timeout: float = 60.0
) -> dict:
    """Poll the live nodes of RUNDIR until the health has exactly `status` (None: any) and `nodes` nodes (None: any).

    Returns that health; raises ServiceError with the last one seen after `timeout` seconds. After kill_node the
    survivors take a moment to notice, so wait_for_health(rundir, "yellow", nodes=2) is how a test sees it.
    """
    state = load_cluster(rundir)
    deadline = time.monotonic() + timeout
    last = None
    while True:
        for node in state["nodes"]:
            answer = _alive(node) and _health_of(node["http_url"], timeout=5)
            if answer:
                last = answer
                if (status is None or answer["status"] == status) and (
                    nodes is None or answer["number_of_nodes"] == nodes
                ):
                    return answer
                break
        if time.monotonic() > deadline:
            raise ServiceError(
                f"health of {state['rundir']} not {status} with {nodes} nodes after {timeout:.0f} s: {json.dumps(last)}"
            )
        time.sleep(0.2)


def urls(rundir: Path | str) -> list[str]:
    """The HTTP URLs of every node of RUNDIR (alive or not), in node order."""
    return [n["http_url"] for n in load_cluster(rundir)["nodes"]]


# ----------------------------------------------------------------------------------------------------------------
# selftest


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _explain_values(explanation: dict) -> dict[str, float]:
    """The BM25 parameters named in a search hit's explanation ({"k1": ..., "b": ...})."""
    found = {}
    for detail in explanation.get("details", []):
        name = detail.get("description", "").split(",")[0]
        if name in ("k1", "b"):
            found[name] = round(detail["value"], 6)
        found.update(_explain_values(detail))
    return found


def selftest(
    rundir: Path | str, heap: str = DEFAULT_HEAP, version: str = DEFAULT_VERSION, cache: Path | str | None = None
) -> None:
    """Start 3 nodes, index with a custom BM25 similarity, search with dfs_query_then_fetch, kill -9 one node,
    see yellow and answers, restart it, see green, stop. Prints each step and its time; raises on a failure."""

    def check(condition: bool, what: str, detail=None) -> None:
        if not condition:
            raise ServiceError(f"selftest: {what} failed: {json.dumps(detail)[:2000]}")
        print(f"ok   {what}", flush=True)

    t0 = time.monotonic()
    state = start_cluster(rundir, nodes=3, heap=heap, version=version, cache=cache)
    print(f"ok   3 nodes green in {time.monotonic() - t0:.1f} s", flush=True)
    for node in state["nodes"]:
        print(f"     {node['name']} pid {node['pid']} rss {_rss_mb(node['pid']):.0f} MB", flush=True)
    try:
        base = state["nodes"][0]["http_url"]
        # wait_for_active_shards=all: the replica must be started before we kill the primary's node, or the
        # cluster goes red instead of promoting it.
        status, body = _request(
            f"{base}/passages?wait_for_active_shards=all",
            "PUT",
            {
                "settings": {
                    "number_of_shards": 1,
                    "number_of_replicas": 1,
                    "similarity": {"newsbot_bm25": {"type": "BM25", "k1": 0.9, "b": 0.4}},
                },
                "mappings": {
                    "properties": {
                        "text": {"type": "text", "analyzer": "whitespace", "similarity": "newsbot_bm25"},
                        "title": {"type": "keyword"},
                    }
                },
            },
        )
        check(
            status == 200 and body.get("shards_acknowledged"),
            "create index (1 shard, 1 replica, BM25 k1=0.9 b=0.4)",
            body,
        )
        docs = [
            ("1", "gna forces seized al-watiya air base from haftar", "Libya"),
            ("2", "the air base was used by lna forces for strikes", "Libya 2"),
            ("3", "turkish drones supported gna forces near tripoli", "Drones"),
            ("4", "oil exports resumed after the blockade ended", "Oil"),
        ]
        bulk = []
        for doc_id, text, title in docs:
            bulk += [{"index": {"_index": "passages", "_id": doc_id}}, {"text": text, "title": title}]
        status, body = _request(f"{base}/_bulk?refresh=wait_for", "POST", bulk, ndjson=True)
        check(status == 200 and not body.get("errors"), f"bulk index {len(docs)} docs with refresh=wait_for", body)

        query = {"query": {"match": {"text": "air base gna"}}}
        search_url = "/passages/_search?search_type=dfs_query_then_fetch"

        def search_ids(url: str) -> list[str]:
            status, body = _request(url + search_url, "POST", query)
            if status != 200:
                raise ServiceError(f"selftest: search on {url} answered {status}: {body}")
            return [hit["_id"] for hit in body["hits"]["hits"]]

        ids = search_ids(base)
        check(ids[:2] == ["1", "2"] and "4" not in ids, f"dfs_query_then_fetch match query -> {ids}", ids)
        status, body = _request(f"{base}/passages/_analyze", "POST", {"field": "text", "text": "GNA seized Al-Watiya"})
        tokens = [t["token"] for t in body.get("tokens", [])]
        check(tokens == ["GNA", "seized", "Al-Watiya"], f"whitespace analyzer on the field -> {tokens}", body)
        status, body = _request(f"{base}{search_url}", "POST", {**query, "explain": True, "size": 1})
        params = _explain_values(body["hits"]["hits"][0]["_explanation"])
        check(
            params.get("k1") == 0.9 and params.get("b") == 0.4,
            f"scored by newsbot_bm25 (explain: k1={params.get('k1')}, b={params.get('b')})",
            params,
        )

        status, body = _request(
            f"{base}/passages/_search",
            "POST",
            {"query": {"ids": {"values": ["1"]}}, "script_fields": {"n": {"script": "doc['title'].value.length()"}}},
        )
        value = body["hits"]["hits"][0]["fields"]["n"] if status == 200 else body
        check(value == [5], f"painless script field -> {value}", body)
        status, body = _request(
            f"{base}/passages/_delete_by_query?refresh=true", "POST", {"query": {"term": {"title": "Oil"}}}
        )
        check(status == 200 and body.get("deleted") == 1, "delete_by_query (reindex module)", body)

        # Kill the node that holds the primary: the replica must be promoted and answer.
        status, shards = _request(f"{base}/_cat/shards/passages?format=json")
        primary_node = next(s["node"] for s in shards if s["prirep"] == "p")
        victim = next(n for n in state["nodes"] if n["name"] == primary_node)
        t1 = time.monotonic()
        kill_node(rundir, victim["number"])
        survivors = [n for n in state["nodes"] if n is not victim]
        answer = wait_for_health(rundir, "yellow", nodes=2, timeout=60)
        check(
            True,
            f"kill -9 {victim['name']} (held the primary) -> yellow with 2 nodes in {time.monotonic() - t1:.1f} s",
            answer,
        )
        for node in survivors:
            ids = search_ids(node["http_url"])
            check(ids[:2] == ["1", "2"], f"search on {node['name']} while {victim['name']} is down -> {ids}", ids)
        status, body = _request(
            f"{survivors[0]['http_url']}/passages/_doc/5?refresh=wait_for",
            "PUT",
            {"text": "a new air base story", "title": "New"},
        )
        check(status in (200, 201), "index a doc while a node is down", body)

        restarted = restart_node(rundir, victim["number"])
        check(True, f"restart {victim['name']} -> rejoined and green in {restarted['rejoined_in_seconds']} s")
        answer = health(rundir)
        check(answer["status"] == "green" and answer["number_of_nodes"] == 3, "health green with 3 nodes", answer)
        ids = search_ids(victim["http_url"])
        check("5" in ids, f"search on the restarted {victim['name']} sees the doc written while it was down", ids)
        for node in load_cluster(rundir)["nodes"]:
            print(f"     {node['name']} pid {node['pid']} rss {_rss_mb(node['pid']):.0f} MB", flush=True)
    finally:
        t2 = time.monotonic()
        stopped = stop_cluster(rundir)
        print(f"ok   stopped {', '.join(stopped)} in {time.monotonic() - t2:.1f} s", flush=True)
    print(f"selftest passed in {time.monotonic() - t0:.1f} s")


# ----------------------------------------------------------------------------------------------------------------
# command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, run=True, version=True):
        if run:
            p.add_argument("--dir", required=True, type=Path, help="run directory (RUNDIR)")
        if version:
            p.add_argument("--version", default=DEFAULT_VERSION, help=f"OpenSearch version (default {DEFAULT_VERSION})")
            p.add_argument("--cache", type=Path, default=None, help=f"cache directory (default {DEFAULT_CACHE})")
        return p

    p = common(sub.add_parser("assemble", help="build the distribution from Maven Central into the cache"), run=False)
    p.add_argument("--force", action="store_true", help="rebuild even if cached")
    p = common(sub.add_parser("start", help="start 1 or 3 nodes and wait for green"))
    p.add_argument("--nodes", type=int, choices=(1, 3), default=1)
    p.add_argument("--heap", default=DEFAULT_HEAP, help=f"heap per node (default {DEFAULT_HEAP})")
    p.add_argument("--timeout", type=float, default=START_TIMEOUT, help="seconds to wait for green")
    p.add_argument(
        "--jit",
        choices=("c1", "full"),
        default="c1",
        help="c1: quick compiler only, starts twice as fast (default); full: C2 too, for benchmarks",
    )
    common(sub.add_parser("stop", help="stop every node (SIGTERM, then SIGKILL)"), version=False)
    common(sub.add_parser("status", help="cluster health in one line"), version=False)
    for name, what in (("kill", "kill -9 one node"), ("restart", "start a killed node again and wait for green")):
        p = common(sub.add_parser(name, help=what), version=False)
        p.add_argument("--node", type=int, required=True, help="node number, 1-based")
        if name == "restart":
            p.add_argument("--no-wait", action="store_true", help="return once started (to restore a lost quorum)")
    p = common(sub.add_parser("selftest", help="3 nodes, index, search, kill -9, restart, stop"))
    p.add_argument("--heap", default=DEFAULT_HEAP)
    args = parser.parse_args(argv)

    try:
        if args.command == "assemble":
            t0 = time.monotonic()
            path = assemble(args.version, args.cache, force=args.force)
            print(f"{path} ({time.monotonic() - t0:.1f} s)")
        elif args.command == "start":
            state = start_cluster(args.dir, args.nodes, args.heap, args.version, args.cache, args.timeout, args.jit)
            for node in state["nodes"]:
                print(
                    f"{node['name']} pid={node['pid']} http={node['http_url']} transport={node['transport_port']} "
                    f"data={node['data_dir']}"
                )
            print(
                f"# {state['cluster_name']} green in {state['started_in_seconds']} s; state in {_state_path(args.dir)}"
            )
            print("OPENSEARCH_URL=" + ",".join(n["http_url"] for n in state["nodes"]))
        elif args.command == "stop":
            stopped = stop_cluster(args.dir)
            print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        elif args.command == "status":
            state = load_cluster(args.dir)
            alive = [n["name"] for n in state["nodes"] if _alive(n)]
            try:
                h = health(args.dir)
            except ServiceError:
                print(
                    f"{state['cluster_name']} down (no health answer: no node answers or none is cluster-manager; "
                    f"running: {', '.join(alive) or 'none'})"
                )
                return 1
            print(
                f"{h['cluster_name']} {h['status']} nodes={h['number_of_nodes']} "
                f"active_shards={h['active_shards']} unassigned={h['unassigned_shards']} "
                f"running={','.join(alive)}"
            )
            return 0 if h["status"] != "red" else 1
        elif args.command == "kill":
            pid = kill_node(args.dir, args.node)
            print(f"killed node-{args.node} (pid {pid})")
        elif args.command == "restart":
            node = restart_node(args.dir, args.node, wait=not args.no_wait)
            done = f"rejoined, green in {node['rejoined_in_seconds']} s" if not args.no_wait else "started"
            print(f"{node['name']} pid={node['pid']} http={node['http_url']} {done}")
        elif args.command == "selftest":
            selftest(args.dir, args.heap, args.version, args.cache)
    except ServiceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
