"""pgcluster - throwaway PostgreSQL 15 clusters on loopback for the tests.

A Cluster is an initdb'd data directory in a fresh temporary directory, started
with ``pg_ctl -w`` on a free TCP port of 127.0.0.1, with its unix sockets in
the same temporary directory. The superuser is ``postgres`` with a random
password; TCP logins use scram-sha-256 (so the daemon and the C code under test
authenticate with a password, as in production), unix-socket logins are
``trust`` (only the cluster's own tools use them).

initdb refuses to run as root, and CI runs as root: when the current user is
root, initdb and pg_ctl run as the ``postgres`` system user through
``runuser -u postgres --`` and the temporary directory is chowned to it. As a
non-root user everything runs directly. psql always runs as the current user
and connects over TCP with the password (PGPASSWORD in its environment only).

Datasets come from ``$CUTOVER_DATASETS`` or ``<source root>/data`` (the
repository's own copy, see data/README.md) where the source root is
``$CUTOVER_SOURCE_ROOT`` or the parent of scripts/. Nothing outside those two
is searched. Each file is read as ``<name>.gz`` (gzip, as the repository keeps
them) or, when only that exists, as plain ``<name>`` (an upstream checkout):

- ``load_pagila(cluster, db)``: pagila-schema.sql then pagila-data.sql (~1 s).
- ``load_dms_sample(cluster, db)``: dms_sample's PostgreSQL create-table,
  create-index, foreign-keys and create-view scripts, the 9 seed CSVs, plus a
  small generated slice of the tables upstream fills with PL/pgSQL generators
  (person, sport_team, sporting_event, sporting_event_ticket,
  ticket_purchase_hist, player, seat) so that every table has rows (~1 s).
- ``load_chinook(cluster, db)``: Chinook_PostgreSql.sql minus its
  ``DROP DATABASE`` / ``CREATE DATABASE`` / ``\\c chinook`` header, into the
  given database (~1 s).

Fixtures for pytest (import them into a conftest.py or a test module):
``pg_cluster`` (session scope: one running cluster, stopped at the end) and
``pg_database`` (function scope: a fresh empty database name on that cluster).

Only the Python standard library is used (psycopg2 is optional and not needed
here). Nothing listens on anything but 127.0.0.1 and the private socket dir.
"""

import gzip
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

try:
    import pytest
except ImportError:  # usable as a plain module without pytest
    pytest = None

PG_BINDIR = os.environ.get("CUTOVER_PG_BINDIR", "/usr/lib/postgresql/15/bin")

_HERE = os.path.dirname(os.path.abspath(__file__))


def source_root():
    """The repository root: $CUTOVER_SOURCE_ROOT or the parent of scripts/."""
    return os.environ.get("CUTOVER_SOURCE_ROOT") or os.path.dirname(_HERE)


def datasets_dir():
    """The sample datasets: $CUTOVER_DATASETS or <source root>/data."""
    env = os.environ.get("CUTOVER_DATASETS")
    if env:
        return env
    return os.path.join(source_root(), "data")


def read_dataset(*parts):
    """The text (UTF-8) of datasets_dir()/<parts>: <path>.gz decompressed when
    it exists, else <path> itself. Raises ClusterError naming both when
    neither exists."""
    path = os.path.join(datasets_dir(), *parts)
    if os.path.isfile(path + ".gz"):
        with gzip.open(path + ".gz", "rt", encoding="utf-8") as f:
            return f.read()
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            return f.read()
    raise ClusterError("dataset file %s(.gz) not found (datasets from %s; set "
                       "CUTOVER_DATASETS to use another copy)" % (path, datasets_dir()))


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _is_root():
    return os.geteuid() == 0


class ClusterError(RuntimeError):
    pass


class Cluster:
    """One throwaway PostgreSQL cluster.

    ``settings`` become ``-c name=value`` server options on top of the
    defaults below (wal_level=logical, replication slots/senders, fsync off).
    """

    DEFAULT_SETTINGS = {
        "listen_addresses": "127.0.0.1",
        "wal_level": "logical",
        "max_replication_slots": "10",
        "max_wal_senders": "10",
        "max_connections": "100",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "shared_buffers": "64MB",
        "log_min_messages": "warning",
        "lc_messages": "C",
    }

    def __init__(self, name="cutover", base_dir=None, **settings):
        self.name = name
        self.base_dir = base_dir  # keep the cluster under base_dir/<name> (the demo)
        self.settings = dict(self.DEFAULT_SETTINGS)
        self.settings.update({k: str(v) for k, v in settings.items()})
        self.user = "postgres"
        self.password = "pw-" + secrets.token_hex(12)
        self.host = "127.0.0.1"
        self.port = None
        self.tmpdir = None
        self.datadir = None
        self.sockdir = None
        self.logfile = None
        self.running = False

    # -- process helpers --------------------------------------------------

    def _as_owner(self, argv):
        """argv prefixed to run as the cluster owner when we are root."""
        if _is_root():
            return ["runuser", "-u", "postgres", "--"] + argv
        return argv

    def _run(self, argv, check=True, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("text", True)
        proc = subprocess.run(argv, **kw)
        if check and proc.returncode != 0:
            raise ClusterError("%s failed (%d):\n%s\n%s" % (
                " ".join(argv[:4]), proc.returncode, proc.stdout[-4000:] if proc.stdout else "",
                proc.stderr[-4000:] if proc.stderr else ""))
        return proc

    def env(self, dbname=None):
        """Environment for libpq clients (psql, pg_dump) talking to us over TCP."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.user,
                   PGPASSWORD=self.password, PGCONNECT_TIMEOUT="10")
        if dbname:
            env["PGDATABASE"] = dbname
        return env

    # -- lifecycle --------------------------------------------------------

    def init(self):
        """initdb into a new temporary directory (idempotent)."""
        if self.datadir:
            return
        if self.base_dir:
            self.tmpdir = os.path.join(self.base_dir, self.name)
            os.makedirs(self.tmpdir)
        else:
            self.tmpdir = tempfile.mkdtemp(prefix="cutover-pg-%s-" % self.name)
        os.chmod(self.tmpdir, 0o755)
        self.datadir = os.path.join(self.tmpdir, "data")
        self.sockdir = self.tmpdir
        self.logfile = os.path.join(self.tmpdir, "server.log")
        pwfile = os.path.join(self.tmpdir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        os.chmod(pwfile, 0o600)
        if _is_root():
            pw = pwd.getpwnam("postgres")
            for p in (self.tmpdir, pwfile):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        self._run(self._as_owner([
            os.path.join(PG_BINDIR, "initdb"), "-D", self.datadir, "-U", self.user,
            "--pwfile", pwfile, "-A", "scram-sha-256", "--auth-local=trust",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]))
        os.unlink(pwfile)
        hba = ("local all all trust\n"
               "host all all 127.0.0.1/32 scram-sha-256\n"
               "host replication all 127.0.0.1/32 scram-sha-256\n")
        self._write_owned(os.path.join(self.datadir, "pg_hba.conf"), hba)

    def _write_owned(self, path, text):
        if _is_root():
            # The data directory is 0700 postgres: write through the owner.
            subprocess.run(self._as_owner(["tee", path]), input=text, text=True,
                           stdout=subprocess.DEVNULL, check=True)
        else:
            with open(path, "w") as f:
                f.write(text)

    def start(self):
        """initdb if needed, pick a free port and start; returns self."""
        if self.running:
            return self
        self.init()
        last = None
        for _ in range(5):
            self.port = free_port()
            opts = ["-p %d" % self.port, "-k '%s'" % self.sockdir]
            opts += ["-c %s=%s" % (k, v) for k, v in self.settings.items()]
            proc = self._run(self._as_owner([
                os.path.join(PG_BINDIR, "pg_ctl"), "-D", self.datadir, "-l", self.logfile,
                "-w", "-t", "60", "-o", " ".join(opts), "start"]), check=False)
            if proc.returncode == 0:
                self.running = True
                return self
            last = proc.stderr + self.log_tail()
            if "Address already in use" not in last and "could not bind" not in last:
                break
        raise ClusterError("pg_ctl start failed:\n" + (last or ""))

    def log_tail(self, n=4000):
        try:
            r = self._run(self._as_owner(["cat", self.logfile]), check=False)
            return r.stdout[-n:]
        except OSError:
            return ""

    def stop(self, cleanup=True):
        """Stop (fast) and, unless cleanup is False, remove the directory."""
        if self.running:
            self._run(self._as_owner([
                os.path.join(PG_BINDIR, "pg_ctl"), "-D", self.datadir, "-w", "-t", "60",
                "-m", "fast", "stop"]), check=False)
            self.running = False
        if cleanup and self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = self.datadir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- clients ----------------------------------------------------------

    def dsn(self, dbname="postgres", user=None, password=None):
        """A libpq keyword/value DSN (for psycopg2 or psql -d)."""
        return "host=%s port=%d dbname='%s' user='%s' password='%s'" % (
            self.host, self.port, dbname.replace("\\", "\\\\").replace("'", "\\'"),
            (user or self.user), (password or self.password))

    def conn_spec(self, dbname="postgres", user=None, password=None):
        """The JSON connection spec understood by pg_conn_spec_from_json()."""
        return {"host": self.host, "port": self.port, "dbname": dbname,
                "user": user or self.user, "password": password or self.password,
                "sslmode": "disable", "connect_timeout": 10}

    def psql(self, sql, db="postgres", check=True, tuples=True):
        """Runs sql with psql -X -v ON_ERROR_STOP=1; returns stdout.

        With tuples (default) the output is unaligned, tuples only, fields
        separated by '|', one row per line.
        """
        argv = [os.path.join(PG_BINDIR, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db]
        if tuples:
            argv += ["-A", "-t", "-F", "|"]
        proc = self._run(argv, check=check, input=sql, env=self.env())
        return proc.stdout if check else proc

    def scalar(self, sql, db="postgres"):
        """The single value sql returns, as text (None for NULL/no row)."""
        out = self.psql(sql, db)
        lines = out.splitlines()
        return lines[0] if lines and lines[0] != "" else None

    def load_sql_text(self, sql, db="postgres"):
        """Runs a SQL script (text, may hold COPY ... FROM stdin blocks and
        psql meta-commands) fed to psql -X -v ON_ERROR_STOP=1 -f - on stdin."""
        argv = [os.path.join(PG_BINDIR, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-d", db, "-f", "-"]
        self._run(argv, env=self.env(), input=sql)

    def createdb(self, name, template="template0"):
        """CREATE DATABASE name (any identifier); returns name."""
        self.psql('CREATE DATABASE "%s" TEMPLATE %s ENCODING \'UTF8\''
                  % (name.replace('"', '""'), template))
        return name

    def dropdb(self, name):
        self.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name.replace('"', '""'))

    def pg_dump_schema(self, db, schemas=None):
        """pg_dump --schema-only output (text) of db, optionally limited to schemas."""
        argv = [os.path.join(PG_BINDIR, "pg_dump"), "--schema-only", "--no-owner",
                "--no-privileges", "-d", db]
        for s in schemas or []:
            argv += ["-n", '"%s"' % s.replace('"', '""')]
        return self._run(argv, env=self.env()).stdout


# -- datasets ----------------------------------------------------------------


def load_pagila(cluster, db):
    """Loads pagila (schema then data) into the existing database db."""
    cluster.load_sql_text(read_dataset("pagila", "pagila-schema.sql"), db)
    cluster.load_sql_text(read_dataset("pagila", "pagila-data.sql"), db)


DMS_CSV_TABLES = ["sport_type", "sport_league", "sport_division", "seat_type",
                  "sport_location", "name_data", "mlb_data", "nfl_data",
                  "nfl_stadium_data"]

# A small, deterministic stand-in for upstream's PL/pgSQL generators, so that
# every dms_sample table has rows (a few thousand in all).
_DMS_GENERATED = r"""
SET search_path = dms_sample;
INSERT INTO person (id, full_name, last_name, first_name)
SELECT row_number() OVER (ORDER BY l.name, f.name), f.name || ' ' || l.name, l.name, f.name
FROM (SELECT name FROM name_data WHERE name_type LIKE '%FIRST' ORDER BY name LIMIT 60) f
CROSS JOIN (SELECT name FROM name_data WHERE name_type = 'LAST' ORDER BY name LIMIT 50) l;
INSERT INTO sport_team (id, name, abbreviated_name, home_field_id, sport_type_name,
                        sport_league_short_name, sport_division_short_name)
SELECT nextval('sport_team_seq'), t.mlb_team_long, t.mlb_team, NULL, 'baseball', 'MLB', NULL
FROM (SELECT DISTINCT mlb_team, mlb_team_long FROM mlb_data WHERE mlb_team_long IS NOT NULL) t
ORDER BY t.mlb_team;
UPDATE sport_team SET home_field_id = (SELECT min(id) FROM sport_location);
INSERT INTO player (sport_team_id, last_name, first_name, full_name)
SELECT (SELECT min(id) FROM sport_team), split_part(mlb_name, ' ', 2), split_part(mlb_name, ' ', 1),
       left(mlb_name, 30)
FROM mlb_data WHERE mlb_name IS NOT NULL ORDER BY mlb_id LIMIT 300;
INSERT INTO seat (sport_location_id, seat_level, seat_section, seat_row, seat, seat_type)
SELECT l.id, 1, 's' || s, 'r' || r, 'n' || n, 'standard'
FROM (SELECT min(id) AS id FROM sport_location) l, generate_series(1, 5) s,
     generate_series(1, 4) r, generate_series(1, 10) n;
INSERT INTO sporting_event (sport_type_name, home_team_id, away_team_id, location_id,
                            start_date_time, start_date, sold_out)
SELECT 'baseball', h.id, a.id, (SELECT min(id) FROM sport_location),
       timestamp '2024-04-01 19:05' + (g || ' days')::interval,
       date '2024-04-01' + g, 0
FROM generate_series(1, 40) g
JOIN LATERAL (SELECT id FROM sport_team ORDER BY id OFFSET (g % 10) LIMIT 1) h ON true
JOIN LATERAL (SELECT id FROM sport_team ORDER BY id OFFSET ((g % 10) + 1) LIMIT 1) a ON true;
INSERT INTO sporting_event_ticket (sporting_event_id, sport_location_id, seat_level,
    seat_section, seat_row, seat, ticketholder_id, ticket_price)
SELECT e.id, e.location_id, 1, 's' || s, 'r1', 'n' || n,
       CASE WHEN n % 3 = 0 THEN NULL ELSE ((e.id::int * 7 + n) % 3000) + 1 END,
       25 + (n % 5) * 10
FROM sporting_event e, generate_series(1, 5) s, generate_series(1, 10) n;
INSERT INTO ticket_purchase_hist (sporting_event_ticket_id, purchased_by_id,
    transaction_date_time, transferred_from_id, purchase_price)
SELECT t.id, t.ticketholder_id, timestamp '2024-03-01 12:00:00' + (t.id::int || ' minutes')::interval,
       NULL, t.ticket_price
FROM sporting_event_ticket t WHERE t.ticketholder_id IS NOT NULL;
"""


def load_dms_sample(cluster, db):
    """Loads dms_sample (PostgreSQL schema, seed CSVs, a generated slice)."""
    def schema(name):
        return read_dataset("dms_sample", "postgresql", "schema", name)

    for f in ("create-table.sql", "create-index.sql"):
        cluster.load_sql_text(schema(f), db)
    # One script of inline COPY blocks (the CSVs are kept gzipped).
    copies = []
    for t in DMS_CSV_TABLES:
        data = read_dataset("dms_sample", "postgresql", "data", "csv", t + ".csv")
        if not data.endswith("\n"):
            data += "\n"
        copies.append("COPY dms_sample.%s FROM stdin WITH (FORMAT csv, HEADER true);\n%s\\.\n"
                      % (t, data))
    cluster.load_sql_text("".join(copies), db)
    cluster.psql(_DMS_GENERATED, db, tuples=False)
    cluster.load_sql_text(schema("foreign-keys.sql"), db)
    cluster.psql("SET search_path = dms_sample;\n" + schema("create-view.sql"), db, tuples=False)
    cluster.psql("ANALYZE", db, tuples=False)


def load_chinook(cluster, db):
    """Loads Chinook_PostgreSql.sql into db, skipping its database header.

    The upstream file starts with DROP DATABASE / CREATE DATABASE chinook and
    ``\\c chinook``; everything before the first CREATE TABLE is dropped so the
    tables land in db instead.
    """
    text = read_dataset("chinook", "Chinook_PostgreSql.sql")
    start = text.find("CREATE TABLE")
    if start < 0:
        raise ClusterError("unexpected Chinook_PostgreSql.sql layout")
    cluster.load_sql_text(text[start:], db)


# -- pytest fixtures ---------------------------------------------------------

if pytest is not None:

    @pytest.fixture(scope="session")
    def pg_cluster():
        """One running cluster for the whole session."""
        c = Cluster("session")
        c.start()
        try:
            yield c
        finally:
            c.stop()

    _db_counter = [0]

    @pytest.fixture
    def pg_database(pg_cluster):
        """A fresh empty database on pg_cluster; dropped afterwards."""
        _db_counter[0] += 1
        name = "t%d_%s" % (_db_counter[0], secrets.token_hex(3))
        pg_cluster.createdb(name)
        try:
            yield name
        finally:
            try:
                pg_cluster.dropdb(name)
            except ClusterError:
                pass


if __name__ == "__main__":  # quick manual check: python3 pgcluster.py
    t0 = time.time()
    with Cluster("selftest") as c:
        for name, loader in (("pagila", load_pagila), ("dms", load_dms_sample),
                             ("chinook", load_chinook)):
            c.createdb(name)
            t1 = time.time()
            loader(c, name)
            print(name, "loaded in %.1fs" % (time.time() - t1))
        print("person rows:", c.scalar("SELECT count(*) FROM dms_sample.person", "dms"))
        print("ticket rows:", c.scalar("SELECT count(*) FROM dms_sample.sporting_event_ticket", "dms"))
        print("invoice_line rows:", c.scalar("SELECT count(*) FROM invoice_line", "chinook"))
        print("rental rows:", c.scalar("SELECT count(*) FROM rental", "pagila"))
    print("total %.1fs" % (time.time() - t0))
