"""A MariaDB server of a test's own, to kill and restart without touching the shared one.

Integration tests share the MariaDB on 127.0.0.1:3306 (scripts/stack.sh); a test that wants
to crash the database cannot use that one. PrivateMariaDB installs a fresh data directory in
a short temporary directory, runs `mariadbd --no-defaults` on a free loopback port, and can
SIGKILL it and start it again on the same data directory and port:

    with PrivateMariaDB() as db:
        db.load_iris("iris_x")                  # scripts/db.sh load-iris, migrate, demo
        db.sql("iris_x", "SELECT COUNT(*) FROM mode")
        db.kill()                               # SIGKILL: no shutdown, as a crash
        db.start()                              # same datadir, same port; waits until it answers

Root logs in over TCP without a password (as on the shared server), so the sender's
configuration is just {"host": db.host, "port": db.port, "user": "root"}. Used by
test_sender_faults.py; meant for the coordinator's fault tests too.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import irisstack as stack

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"


class PrivateMariaDB:
    host = "127.0.0.1"

    def __init__(self, port=None):
        # Short path: the unix socket's path must fit in sun_path (108 bytes).
        self.dir = tempfile.mkdtemp(prefix="iris-mdb-")
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "sock")
        self.tmpdir = os.path.join(self.dir, "tmp")
        self.port = port or stack.free_port()
        self.proc = None
        self.starts = 0
        self._install()

    # ---- lifecycle -------------------------------------------------------------------------

    def _install(self):
        # A temporary directory of its own: servers bootstrapping at the same time must not
        # share (and clean up) each other's temporary tables in /tmp.
        os.makedirs(self.tmpdir, exist_ok=True)
        cmd = ["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}",
               "--auth-root-authentication-method=normal", "--skip-test-db",
               f"--tmpdir={self.tmpdir}"]
        if os.geteuid() == 0:
            cmd.append("--user=root")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed ({r.returncode}): {r.stderr[-2000:]}")

    def start(self, timeout=60):
        """Start the server (again) on the same datadir and port; return once it answers."""
        if self.running():
            raise RuntimeError("the private MariaDB is already running")
        self.starts += 1
        cmd = [MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
               f"--port={self.port}", "--bind-address=127.0.0.1", f"--tmpdir={self.tmpdir}",
               f"--pid-file={os.path.join(self.dir, 'mariadbd.pid')}",
               f"--log-error={self.log_path}", "--skip-log-bin",
               "--innodb-buffer-pool-size=64M", "--max-connections=200",
               "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci"]
        if os.geteuid() == 0:
            cmd.append("--user=root")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self.proc.returncode}: {self.log_tail()}")
            if self._answers():
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"mariadbd did not answer on port {self.port}: {self.log_tail()}")
        if self.starts == 1:
            # install-db creates root@localhost; TCP from 127.0.0.1 must not depend on the
            # reverse lookup of 127.0.0.1 to "localhost".
            self._client(None, "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';"
                               " GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;",
                         use_socket=True)
        return self

    def kill(self):
        """SIGKILL the server (a crash: no shutdown, no flush beyond what InnoDB made durable)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self):
        """Shut the server down cleanly (SIGTERM)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        if not self.running():
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- use -------------------------------------------------------------------------------

    @property
    def log_path(self):
        return os.path.join(self.dir, "mariadbd.err")

    def log_tail(self, n=3000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return "(no error log)"

    def env(self):
        """Environment for scripts/db.sh (and anything else reading IRIS_DB_*)."""
        return stack.mysql_env(self.host, self.port, "root", "")

    def db_sh(self, *args):
        stack.db_sh(*args, env=self.env())

    def load_iris(self, db, demo=True):
        """Iris's schema, the sender's migrations and (by default) the demo data into db."""
        stack.load_iris(db, demo=demo, env=self.env())

    def _client(self, db, text, use_socket=False, timeout=60):
        return stack.mariadb(db, text, host=self.host, port=self.port,
                             socket_path=self.socket if use_socket else None, timeout=timeout,
                             extra_args=["--connect-timeout=2"], user="root", password="")

    def _answers(self):
        try:
            return self._client(None, "SELECT 1", use_socket=True, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def sql(self, db, text):
        """Run SQL in db; rows as lists of strings. Raises StackError (a RuntimeError) if the
        server refuses it."""
        return stack.sql(db, text, host=self.host, port=self.port,
                         extra_args=["--connect-timeout=2"], user="root", password="")
