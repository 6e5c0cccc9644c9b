"""Private PostgreSQL and Mosquitto servers on free loopback ports, for tests that stop and restart them.

The shared servers (PostgreSQL on 5432, Mosquitto on 1883) are never touched: each server here lives in
its own temporary directory, listens on 127.0.0.1 only, and is removed when its `with` block ends.
Every start and stop is bounded in time and fails with the server's own log in the message.
"""

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MOSQUITTO_CONF = ROOT / "deploy" / "mosquitto" / "mosquitto.conf"
# Long enough for a loaded 2-core CI machine; a healthy start takes well under a second.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 40


class ServerError(RuntimeError):
    """A private server did not start or stop in time; the message holds the end of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _run(cmd: list[str], what: str, log: Path, **kwargs) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT_S + 10, **kwargs)
    except subprocess.TimeoutExpired:
        raise ServerError(f"{what} did not finish in {START_TIMEOUT_S + 10:.0f}s: {' '.join(cmd)}\n"
                          f"--- {log} ---\n{log_tail(log)}") from None
    if done.returncode != 0:
        raise ServerError(f"{what} failed (exit {done.returncode}): {' '.join(cmd)}\n{done.stdout}{done.stderr}"
                          f"--- {log} ---\n{log_tail(log)}")


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise ServerError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt install postgresql)")
    return Path(found[-1]).parent


class _Server:
    """A private server as a context manager: started on entry, stopped and removed on exit."""

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc) -> None:
        self.close()


class TempPostgres(_Server):
    """A throwaway PostgreSQL cluster (initdb, trust auth) on a free port; `url(dbname)` reaches it.

    PostgreSQL refuses to run as root, so as root every server command runs as the `postgres` user in a
    directory that user owns. With `durable=False` (the tests) fsync is off: a clean or fast shutdown
    still writes everything, only an OS crash could lose data, and nothing here simulates one.
    """

    def __init__(self, *, durable: bool = False):
        self.durable = durable
        self.port = free_port()
        self.bin = _postgres_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="geohazard-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        self._initialised = False

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _pg(self, *args: str) -> list[str]:
        return [*self._as_owner, *args]

    def _initdb(self) -> None:
        _run(self._pg(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                      "-E", "UTF8", "--no-locale", "--no-sync"),
             "initdb", self.log, cwd=self.dir)
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.dir}'",
            "max_connections": "50",
            "fsync": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
            "synchronous_commit": "on" if self.durable else "off",
        }
        # Appending keeps the file's owner (postgres), even when done as root.
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        self._initialised = True

    def start(self) -> "TempPostgres":
        """Start the server (creating the cluster the first time) and wait until it accepts connections."""
        if not self._initialised:
            self._initdb()
        _run(self._pg(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                      "-t", str(int(START_TIMEOUT_S)), "start"), f"starting PostgreSQL on port {self.port}",
             self.log, cwd=self.dir)
        self._wait_accepting()
        return self

    def _wait_accepting(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not accepts_connections(self.port):
            if time.monotonic() > deadline:
                raise ServerError(f"PostgreSQL on 127.0.0.1:{self.port} accepts no connections after "
                                  f"{START_TIMEOUT_S:.0f}s\n--- {self.log} ---\n{log_tail(self.log)}")
            time.sleep(0.05)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` rolls back open transactions and checkpoints; `immediate` does not."""
        _run(self._pg(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
                      "-t", str(int(STOP_TIMEOUT_S)), "stop"), f"stopping PostgreSQL on port {self.port}",
             self.log, cwd=self.dir)

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def close(self) -> None:
        """Stop the server if it runs and delete its directory."""
        try:
            if self.running():
                try:
                    self.stop()
                except ServerError:
                    self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)



class TempMosquitto(_Server):
    """The project's broker configuration (deploy/mosquitto/mosquitto.conf) on a free port and a temp dir.

    The listener is moved to 127.0.0.1:<port> (one anonymous listener is added where the file defines none),
    persistence to the temp dir, and every other absolute path in the file into the temp dir, so the broker
    behaves as deployed (persistence, queue limits, in-flight window) without sharing anything. `stop()` is
    graceful (SIGTERM), so the broker saves its sessions and queued messages and `start()` restores them;
    `kill()` is a crash.

    With `include_dir` (what `geohazard acl --config-dir` wrote), its *.conf files take the place of the
    file's include_dir line and its other files (password files, ACL) are copied into the temp dir: the
    broker then has the listeners and accounts of production, each listener on its own port but on
    127.0.0.1, and `port` is the first of them.
    """

    def __init__(self, conf: Path = MOSQUITTO_CONF, *, include_dir: Path | None = None):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="geohazard-mqtt-"))
        self.data = self.dir / "data"
        self.data.mkdir()
        self.log = self.dir / "mosquitto.log"
        self.conf = self.dir / "mosquitto.conf"
        self.include_dir = include_dir
        self.conf.write_text(self._rewrite(conf.read_text()))
        if os.geteuid() == 0:
            # As root, mosquitto drops to the `mosquitto` user (else `nobody`) before writing persistence
            # and reading the password files.
            try:
                user = pwd.getpwnam("mosquitto")
            except KeyError:
                user = pwd.getpwnam("nobody")
            for path in (self.data, *(p for p in self.dir.iterdir() if p.is_file())):
                os.chown(path, user.pw_uid, user.pw_gid)
            self.dir.chmod(0o755)  # mkdtemp's 0700 would keep that user out
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _rewrite(self, text: str, *, included: bool = False) -> str:
        out = []
        for line in text.splitlines():
            words = line.split()
            if not words or words[0].startswith("#"):
                out.append(line)
            elif words[0] == "listener" and included:
                out.append(f"listener {words[1]} 127.0.0.1")
            elif words[0] == "listener":
                out.append(f"listener {self.port} 127.0.0.1")
            elif words[0] == "persistence_location":
                out.append(f"persistence_location {self.data}/")
            elif words[0] == "include_dir":
                out.append(self._included())
            else:
                out.append(re.sub(r"(?<=\s)/\S+", lambda m: str(self.dir / Path(m.group(0)).name), line))
        if not included and not any(line.startswith("listener ") for line in "\n".join(out).splitlines()):
            # mosquitto.conf leaves the listeners to conf.d/auth.conf: without it, tests connect anonymously.
            out += [f"listener {self.port} 127.0.0.1", "allow_anonymous true"]
        return "\n".join(out) + "\n"

    def _included(self) -> str:
        """The include_dir's *.conf files as one text, their other files copied beside the config; "" without one."""
        if self.include_dir is None:
            return ""
        texts = []
        for path in sorted(self.include_dir.iterdir()):  # in Mosquitto's order
            if path.suffix == ".conf":
                texts.append(self._rewrite(path.read_text(), included=True))
            elif path.is_file():
                shutil.copyfile(path, self.dir / path.name)
        listeners = [line.split()[1] for text in texts for line in text.splitlines() if line.startswith("listener ")]
        if listeners:
            self.port = int(listeners[0])
        return "".join(texts)

    def start(self) -> "TempMosquitto":
        """Start the broker and wait until it accepts connections."""
        if self.process is not None and self.process.poll() is None:
            raise ServerError(f"mosquitto on port {self.port} is already running (pid {self.process.pid})")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not accepts_connections(self.port):
            if self.process.poll() is not None:
                raise ServerError(f"mosquitto exited with {self.process.returncode} at start-up\n"
                                  f"--- {self.log} ---\n{log_tail(self.log)}")
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError(f"mosquitto on 127.0.0.1:{self.port} accepts no connections after "
                                  f"{START_TIMEOUT_S:.0f}s\n--- {self.log} ---\n{log_tail(self.log)}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop the broker gracefully (SIGTERM): it saves its persistence file before exiting."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerError(f"mosquitto did not stop within {STOP_TIMEOUT_S:.0f}s of SIGTERM; killed\n"
                              f"--- {self.log} ---\n{log_tail(self.log)}") from None

    def kill(self) -> None:
        """Kill the broker (SIGKILL): what it has not saved is gone, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self.kill()
            shutil.rmtree(self.dir, ignore_errors=True)

