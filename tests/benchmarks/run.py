"""Benchmark suite: ETL Studio loads against `psql \\copy` and pandas `to_sql`, side by side, one process per load.

    python tests/benchmarks/run.py [--rows N[,N...]] [--repeat K] [--methods m1,m2] [--keep]

Every method loads the same generated orders file into a fresh table; methods alternate
(A B C A B C ...) so that a noisy neighbour slows all of them alike, and the median of the
repeats is reported with the ratio to the `psql \\copy` median of the same size in the same
run. The last line printed is machine-readable:

    ratio_plain=<x> ratio_clean=<y> peak_rss_mb=<z>
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

from bench_projects import CLEAN, PG_COPY, PLAIN, PLAIN_SQLITE, SEED_SOURCE, SQLITE_FILE, TABLES, build_project, source_table  # noqa: E402

DEFAULT_SEED = 42
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SAMPLE_SECONDS = 0.02
PREVIEW_ROWS = 200
PREVIEW_GOAL_SECONDS = 0.5
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

# Method key -> what the table calls it. The order is the order of alternation.
METHODS = {
    "psql_copy": "psql \\copy (reference)",
    "pandas_to_sql": "pandas to_sql (default)",
    "etl_plain": "etl-studio plain CSV->PG",
    "etl_clean": "etl-studio clean CSV->PG",
    "etl_sqlite": "etl-studio plain CSV->SQLite",
    "etl_pg_copy": "etl-studio PG->PG copy",
}
ETL_PIPELINES = {"etl_plain": PLAIN, "etl_clean": CLEAN, "etl_sqlite": PLAIN_SQLITE, "etl_pg_copy": PG_COPY}
PG_TABLES = {"psql_copy": "psql_copy", "pandas_to_sql": "pandas_to_sql", "etl_plain": TABLES[PLAIN],
             "etl_clean": TABLES[CLEAN], "etl_pg_copy": TABLES[PG_COPY]}

# pandas as an analyst writes it: defaults everywhere.
TO_SQL_SCRIPT = """
import sys
import pandas as pd
import sqlalchemy as sa
path, url, schema, table = sys.argv[1:5]
frame = pd.read_csv(path)
engine = sa.create_engine(url)
frame.to_sql(table, engine, schema=schema, if_exists="replace", index=False)
engine.dispose()
"""

# In-process preview: the time of preview_pipeline itself, without interpreter start-up and imports.
PREVIEW_SCRIPT = """
import json, sys, time
from pathlib import Path
from etl_studio.core.project import load_project
from etl_studio.core.engine.preview import preview_pipeline
path, pipeline, rows, repeat = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
project = load_project(path)
times = []
for _ in range(repeat + 1):
    started = time.perf_counter()
    result = preview_pipeline(project, pipeline, project_dir=path.resolve().parent, rows=rows)
    times.append(time.perf_counter() - started)
print(json.dumps({"first": times[0], "again": times[1:], "rows": len(result.transformed), "problems": result.problems}))
"""


class BenchError(Exception):
    """Set-up cannot go on (no psql, no server ...): one line for the user, exit code 2."""


# -- measuring one process ----------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    found += [int(p) for p in handle.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return found


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0  # gone, or a zombie (no VmRSS line)


class TreeRssSampler(threading.Thread):
    """Polls the summed VmRSS of a process and all its descendants; keeps the highest sum seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.samples = pid, 0, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            pending, total, seen = [self.pid], 0, set()
            while pending:
                pid = pending.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                total += _rss_kb(pid)
                pending += _children(pid)
            self.peak_kb = max(self.peak_kb, total)
            self.samples += 1
            self._halt.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._halt.set()
        self.join()


@dataclass
class Measurement:
    method: str
    rows: int
    seconds: float
    peak_rss_mb: float
    maxrss_mb: float  # ru_maxrss from wait4: the process and the descendants it waited for
    exit_code: int
    loaded: int | None = None
    note: str = ""


def measure(command: list[str], log_path: Path, timeout: float, env: dict[str, str] | None = None) -> tuple[float, float, float, int]:
    """(wall seconds, peak tree RSS MB, ru_maxrss MB, exit code) of one process."""
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        # cwd away from the repository: `python -c` puts the cwd first on sys.path, which
        # would shadow --engine-src.
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=log_path.parent)
        sampler = TreeRssSampler(process.pid)
        sampler.start()
        timer = threading.Timer(timeout, lambda: os.killpg(process.pid, signal.SIGKILL))
        timer.start()
        try:
            # wait4 rather than Popen.wait: it also hands back the child's resource usage.
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            # Interrupted: the load runs in its own session, so Ctrl-C did not reach it.
            os.killpg(process.pid, signal.SIGKILL)
            os.waitpid(process.pid, 0)
            raise
        finally:
            seconds = time.perf_counter() - started
            timer.cancel()
            sampler.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, sampler.peak_kb / 1024, usage.ru_maxrss / 1024, process.returncode


# -- PostgreSQL through psql ------------------------------------------------------------------

class Postgres:
    def __init__(self, url: str, schema: str) -> None:
        # psql knows libpq URIs, not SQLAlchemy's "+driver" suffix.
        scheme, rest = url.split("://", 1)
        self.url, self.libpq_url, self.schema = url, "postgresql://" + rest, schema
        # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; the project installs psycopg2.
        self.sqlalchemy_url = url if "+" in scheme else "postgresql+psycopg2://" + rest
        self.psql = shutil.which("psql")

    def check(self) -> str:
        if self.psql is None:
            raise BenchError("psql is not installed or not on PATH: install the PostgreSQL client (Debian/Ubuntu: apt-get install postgresql-client)")
        try:
            version = self.query("SHOW server_version")
        except BenchError as exc:
            raise BenchError(f"cannot reach PostgreSQL at {self.libpq_url}: {exc} (start the server, or set ETL_STUDIO_TEST_POSTGRES_URL / --pg-url)") from None
        self.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        return version

    def _run(self, sql: str) -> str:
        # lock_timeout: a clean-up must not hang behind a load that is still holding the table.
        env = dict(os.environ, PGCONNECT_TIMEOUT="5", PGOPTIONS="-c lock_timeout=20s")
        done = subprocess.run([self.psql, self.libpq_url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                              capture_output=True, text=True, env=env, timeout=600)
        if done.returncode != 0:
            raise BenchError((done.stderr.strip().splitlines() or ["psql failed"])[-1])
        return done.stdout.strip()

    def query(self, sql: str) -> str:
        return self._run(sql)

    def execute(self, sql: str) -> None:
        self._run(sql)

    def drop(self, *tables: str) -> None:
        self.execute("; ".join(f'DROP TABLE IF EXISTS "{self.schema}"."{t}"' for t in tables))

    def count(self, table: str) -> int | None:
        try:
            return int(self.query(f'SELECT count(*) FROM "{self.schema}"."{table}"'))
        except (BenchError, ValueError):
            return None

    def copy_command(self, csv_path: Path) -> list[str]:
        table = f'"{self.schema}"."{PG_TABLES["psql_copy"]}"'
        create = f"CREATE TABLE {table} (" + ", ".join(f'"{c}" text' for c in header(csv_path)) + ")"
        # The raw file cannot go into typed columns ('N/A' is no number), so the reference
        # loads text, which is the least work a database load can do.
        copy = f"\\copy {table} FROM '{csv_path}' WITH (FORMAT csv, HEADER true)"
        return [self.psql, self.libpq_url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", create, "-c", copy]


# -- the run ------------------------------------------------------------------------------------

@dataclass
class Bench:
    args: argparse.Namespace
    pg: Postgres
    workdir: Path
    etl: list[str]
    results: list[Measurement] = field(default_factory=list)
    preview: dict = field(default_factory=dict)
    env: dict[str, str] | None = None  # for ETL Studio processes: PYTHONPATH when --engine-src is given

    def project_dir(self, rows: int) -> Path:
        folder = self.workdir / f"project_{rows}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def reset(self, method: str, rows: int) -> None:
        """Untimed: the target as it is before a first load, and no state from earlier runs."""
        if method in PG_TABLES:
            self.pg.drop(PG_TABLES[method])
        if method in ETL_PIPELINES:
            folder = self.project_dir(rows)
            shutil.rmtree(folder / ".etl_studio", ignore_errors=True)  # run history and quarantine of earlier repeats
            if method == "etl_sqlite":
                for suffix in ("", "-journal", "-wal", "-shm"):
                    Path(str(folder / SQLITE_FILE) + suffix).unlink(missing_ok=True)

    def command(self, method: str, rows: int, csv_path: Path, project: Path) -> list[str]:
        if method == "psql_copy":
            return self.pg.copy_command(csv_path)
        if method == "pandas_to_sql":
            return [sys.executable, "-c", TO_SQL_SCRIPT, str(csv_path), self.pg.sqlalchemy_url, self.pg.schema, PG_TABLES[method]]
        return [*self.etl, "run", str(project), "--pipeline", ETL_PIPELINES[method]]

    def loaded(self, method: str, rows: int) -> int | None:
        if method in PG_TABLES:
            return self.pg.count(PG_TABLES[method])
        try:
            with sqlite3.connect(self.project_dir(rows) / SQLITE_FILE) as db:
                return int(db.execute("SELECT count(*) FROM orders").fetchone()[0])
        except sqlite3.Error:
            return None

    def seed_source(self, rows: int, project: Path) -> None:
        """The typed table pg_copy reads, loaded once per size by the plain pipeline (untimed)."""
        if self.pg.count(source_table(rows)) == rows:
            return
        print(f"  set-up: loading {source_table(rows)} for the PG->PG copy (untimed) ...", flush=True)
        done = subprocess.run([*self.etl, "run", str(project), "--pipeline", SEED_SOURCE], capture_output=True, text=True, env=self.env)
        if done.returncode != 0:
            raise BenchError(f"could not load the source table of the PG->PG copy: {done.stderr.strip() or done.stdout.strip()}")

    def methods_for(self, rows: int) -> list[str]:
        chosen = []
        for method in self.args.methods:
            if method == "pandas_to_sql" and rows > self.args.to_sql_max_rows and not self.args.methods_given:
                print(f"  note: pandas to_sql skipped at {rows:,} rows (slow; above --to-sql-max-rows={self.args.to_sql_max_rows:,})")
                continue
            chosen.append(method)
        return chosen

    def data(self, rows: int) -> Path:
        # Generated in a child process: this one stays small, and forked children inherit
        # the parent's ru_maxrss.
        done = subprocess.run([sys.executable, str(HERE / "bench_data.py"), str(rows), str(self.workdir), str(self.args.seed)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"could not generate the data: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        return Path(done.stdout.strip().splitlines()[-1])

    def run_size(self, rows: int) -> None:
        started = time.perf_counter()
        csv_path = self.data(rows)
        print(f"\n== {rows:,} rows: {csv_path} ({csv_path.stat().st_size / 1e6:.0f} MB, ready in {time.perf_counter() - started:.1f} s)", flush=True)
        project = build_project(csv_path, self.project_dir(rows), columns=header(csv_path), rows=rows, pg_url=self.pg.url, schema=self.pg.schema,
                                chunk_rows=self.args.chunk_rows)
        methods = self.methods_for(rows)
        if "etl_pg_copy" in methods:
            self.seed_source(rows, project)
        _read_through(csv_path)  # every method starts with the file in the page cache
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        for repeat in range(self.args.repeat):
            for method in methods:
                self.reset(method, rows)
                log_path = logs / f"{method}_{rows}_{repeat}.log"
                env = self.env if method in ETL_PIPELINES else None
                seconds, peak, maxrss, code = measure(self.command(method, rows, csv_path, project), log_path, self.args.timeout, env)
                result = Measurement(method, rows, seconds, peak, maxrss, code)
                if code == 0:
                    result.loaded = self.loaded(method, rows)
                else:
                    tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
                    result.note = f"exit {code}: " + " | ".join(tail)
                self.results.append(result)
                status = f"{seconds:7.2f} s  {peak:7.0f} MB" if code == 0 else f"FAILED ({result.note})"
                print(f"  [{repeat + 1}/{self.args.repeat}] {METHODS[method]:<30} {status}", flush=True)
        if not self.args.keep:
            self.pg.drop(*[PG_TABLES[m] for m in methods if m in PG_TABLES])

    def run_preview(self, rows: int) -> None:
        project = self.project_dir(rows) / f"bench_{rows}.etlproj"
        times = []
        for _ in range(self.args.repeat):
            seconds, peak, _, code = measure([*self.etl, "preview", str(project), "--pipeline", CLEAN, "--rows", str(PREVIEW_ROWS)],
                                             self.workdir / "logs" / f"preview_{rows}.log", 300, self.env)
            if code != 0:
                print(f"  preview failed: see {self.workdir / 'logs' / f'preview_{rows}.log'}")
                return
            times.append((seconds, peak))
        done = subprocess.run([sys.executable, "-c", PREVIEW_SCRIPT, str(project), CLEAN, str(PREVIEW_ROWS), str(self.args.repeat)],
                              capture_output=True, text=True, timeout=300, env=self.env, cwd=self.workdir)
        inner = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
        self.preview = {
            "rows": rows,
            "cli_seconds": statistics.median(t for t, _ in times),
            "cli_peak_rss_mb": max(p for _, p in times),
            "in_process_first_seconds": inner.get("first"),
            "in_process_again_seconds": statistics.median(inner["again"]) if inner.get("again") else None,
        }
        if done.returncode != 0:
            print("  in-process preview failed:", (done.stderr.strip().splitlines() or ["?"])[-1])

    def cleanup(self) -> None:
        if self.args.keep:
            print(f"\n--keep: tables kept in schema {self.pg.schema}, files in {self.workdir}")
            return
        try:
            self.pg.execute(f'DROP SCHEMA IF EXISTS "{self.pg.schema}" CASCADE')
        except BenchError as exc:
            print(f"warning: could not drop schema {self.pg.schema}: {exc}")
        for folder in self.workdir.glob("project_*"):
            shutil.rmtree(folder, ignore_errors=True)


def header(csv_path: Path) -> list[str]:
    with open(csv_path, encoding="utf-8") as handle:
        return handle.readline().strip().split(",")


def _read_through(path: Path) -> None:
    with open(path, "rb") as handle:
        while handle.read(1 << 24):
            pass


def _etl_command() -> list[str]:
    script = Path(sys.executable).with_name("etl-studio")
    if script.exists():
        return [str(script)]
    found = shutil.which("etl-studio")
    return [found] if found else [sys.executable, "-m", "etl_studio"]


# -- reporting ----------------------------------------------------------------------------------

def _fmt_rows(rows: int) -> str:
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if rows >= size and rows % (size // 10) == 0:
            value = rows / size
            return f"{value:g}{unit}"
    return str(rows)


def summarise(results: list[Measurement]) -> list[dict]:
    groups: dict[tuple[str, int], list[Measurement]] = {}
    for m in results:
        groups.setdefault((m.method, m.rows), []).append(m)
    reference = {rows: statistics.median(m.seconds for m in ms if m.exit_code == 0)
                 for (method, rows), ms in groups.items() if method == "psql_copy" and any(m.exit_code == 0 for m in ms)}
    summary = []
    for (method, rows), ms in groups.items():
        ok = [m for m in ms if m.exit_code == 0]
        row = {"method": method, "rows": rows, "runs": len(ok), "failed": len(ms) - len(ok)}
        if ok:
            median = statistics.median(m.seconds for m in ok)
            loaded = sorted({m.loaded for m in ok if m.loaded is not None})
            row.update(median_s=median, min_s=min(m.seconds for m in ok), max_s=max(m.seconds for m in ok), rows_per_s=rows / median,
                       peak_rss_mb=max(m.peak_rss_mb for m in ok), maxrss_mb=max(m.maxrss_mb for m in ok),
                       loaded=loaded[0] if len(loaded) == 1 else loaded,
                       x_psql=median / reference[rows] if rows in reference else None)
        summary.append(row)
    order = list(METHODS)
    summary.sort(key=lambda r: (r["rows"], order.index(r["method"])))
    return summary


def print_table(summary: list[dict]) -> None:
    header = f"{'method':<30} {'rows':>6} {'median s':>9} {'min':>7} {'max':>7} {'rows/s':>10} {'peak RSS MB':>11} {'ru_maxrss':>9} {'loaded':>9} {'x psql':>7}"
    print("\n" + header)
    print("-" * len(header))
    for r in summary:
        if "median_s" not in r:
            print(f"{METHODS[r['method']]:<30} {_fmt_rows(r['rows']):>6}  all {r['failed']} run(s) failed")
            continue
        ratio = f"{r['x_psql']:.2f}" if r["x_psql"] is not None else "-"
        loaded = r["loaded"] if isinstance(r["loaded"], int) else "varies"
        print(f"{METHODS[r['method']]:<30} {_fmt_rows(r['rows']):>6} {r['median_s']:>9.2f} {r['min_s']:>7.2f} {r['max_s']:>7.2f} "
              f"{r['rows_per_s']:>10,.0f} {r['peak_rss_mb']:>11.0f} {r['maxrss_mb']:>9.0f} {loaded!s:>9} {ratio:>7}"
              + (f"  ({r['failed']} failed)" if r["failed"] else ""))


def scaling_lines(summary: list[dict]) -> list[str]:
    lines = []
    for method in METHODS:
        points = sorted((r for r in summary if r["method"] == method and "median_s" in r), key=lambda r: r["rows"])
        if len(points) < 2:
            continue
        steps = []
        pairs = list(zip(points, points[1:]))
        if len(points) > 2:
            pairs.append((points[0], points[-1]))
        for a, b in pairs:
            # The marginal cost of the added rows is what scales; the rest is what every run
            # pays (interpreter, imports, connecting), estimated from the first step.
            marginal = (b["median_s"] - a["median_s"]) / (b["rows"] - a["rows"])
            steps.append(f"{_fmt_rows(a['rows'])}->{_fmt_rows(b['rows'])}: time x{b['median_s'] / a['median_s']:.1f} for rows x{b['rows'] / a['rows']:g} "
                         f"({marginal * 1e6:.1f} us per added row), RSS x{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}")
        first, second = points[0], points[1]
        fixed = first["median_s"] - first["rows"] * (second["median_s"] - first["median_s"]) / (second["rows"] - first["rows"])
        lines.append(f"{METHODS[method]:<30} " + "; ".join(steps) + f"  [fixed cost per run ~{max(fixed, 0.0):.2f} s]")
    return lines


def machine(engine_src: Path) -> dict:
    cpu = "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = "?"
    try:
        mem = f"{int(next(line.split()[1] for line in open('/proc/meminfo') if line.startswith('MemTotal'))) / 1024 / 1024:.0f} GB"
    except (OSError, StopIteration):
        pass
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name, distribution in (("pandas", "pandas"), ("pyarrow", "pyarrow"), ("sqlalchemy", "SQLAlchemy"), ("psycopg2", "psycopg2-binary")):
        try:
            versions[name] = version(distribution)
        except PackageNotFoundError:
            versions[name] = "-"
    commit = subprocess.run(["git", "-C", str(engine_src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(engine_src), "status", "--porcelain", "--", "etl_studio"], capture_output=True, text=True).stdout.strip()
    commit += " (+ uncommitted engine changes)" if dirty else ""
    if not commit and (engine_src / "COMMIT").exists():  # an exported tree: `git archive HEAD etl_studio` plus a COMMIT note
        commit = (engine_src / "COMMIT").read_text().strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "os": platform.platform(), "python": platform.python_version(),
            **versions, "commit": commit or f"? ({engine_src} is no git checkout)"}


# -- command line -------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="100000,1000000", help="data sizes, comma-separated (e.g. 100000,1000000,5000000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per method and size; the median is reported (default 3)")
    parser.add_argument("--methods", help="comma-separated subset of: " + ", ".join(METHODS) + " (psql_copy is always added as the reference)")
    parser.add_argument("--keep", action="store_true", help="keep the loaded tables, the SQLite file and the project files (the generated CSVs are always kept as a cache)")
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("ETL_STUDIO_BENCH_DIR", Path(tempfile.gettempdir()) / "etl_studio_bench")),
                        help="where data, projects and logs go (default: $ETL_STUDIO_BENCH_DIR or <tmp>/etl_studio_bench)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--pg-url", default=os.environ.get("ETL_STUDIO_TEST_POSTGRES_URL", DEFAULT_PG_URL))
    parser.add_argument("--schema", default="etl_bench", help="PostgreSQL schema for the benchmark's tables (dropped at the end unless --keep)")
    parser.add_argument("--to-sql-max-rows", type=int, default=1_000_000,
                        help="skip pandas to_sql above this size unless named in --methods (it takes minutes at 5M rows)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before one load is killed")
    parser.add_argument("--no-preview", action="store_true", help="skip the preview figure")
    parser.add_argument("--profile", action="store_true", help="also run the clean pipeline once under cProfile at the largest size and print the hotspots")
    parser.add_argument("--gui", action="store_true", help="also run the GUI heartbeat benchmark (tests/benchmarks/gui_heartbeat.py) if it exists")
    parser.add_argument("--chunk-rows", type=int,
                        help="rows per chunk for the ETL Studio pipelines instead of the engine's default (about 3 MB of text: "
                             "39k orders rows); smaller chunks trade time for memory")
    parser.add_argument("--json", type=Path, help="also write all measurements to this JSON file")
    parser.add_argument("--engine-src", type=Path,
                        help="run ETL Studio from this checkout (put first on PYTHONPATH), e.g. a `git worktree` of another commit to compare")
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({int(part.replace("_", "")) for part in args.rows.split(",") if part.strip()})
    except ValueError:
        parser.error(f"--rows takes whole numbers separated by commas, not {args.rows!r}")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--rows needs at least one size of 1 row or more")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.chunk_rows is not None and args.chunk_rows < 1:
        parser.error("--chunk-rows must be at least 1")
    args.methods_given = args.methods is not None
    if args.methods:
        chosen = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = [m for m in chosen if m not in METHODS]
        if unknown:
            parser.error(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
        args.methods = [m for m in METHODS if m in chosen or m == "psql_copy"]
    else:
        args.methods = list(METHODS)
    return args


def profile_clean(bench: Bench, rows: int) -> None:
    import pstats

    project = bench.project_dir(rows) / f"bench_{rows}.etlproj"
    out = bench.workdir / f"profile_clean_{rows}.prof"
    bench.reset("etl_clean", rows)
    out.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "etl_studio", "run", str(project), "--pipeline", CLEAN], check=False,
                   capture_output=True, env=bench.env, cwd=bench.workdir)
    if not out.exists():
        print("profile failed")
        return
    print(f"\n== cProfile of the clean pipeline at {rows:,} rows ({out}), top by cumulative time")
    pstats.Stats(str(out)).sort_stats("cumulative").print_stats(30)
    print("== top by own time")
    pstats.Stats(str(out)).sort_stats("tottime").print_stats(20)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the running load too, and cleans up
    args.workdir.mkdir(parents=True, exist_ok=True)
    pg = Postgres(args.pg_url, args.schema)
    try:
        server = pg.check()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    bench = Bench(args, pg, args.workdir, _etl_command())
    engine_src = REPO
    if args.engine_src:
        engine_src = args.engine_src.resolve()
        if not (engine_src / "etl_studio" / "__init__.py").exists():
            print(f"error: --engine-src {engine_src} holds no etl_studio package", file=sys.stderr)
            return EXIT_INVALID
        bench.env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(engine_src), os.environ.get("PYTHONPATH")])))
    info = machine(engine_src)
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory']}; {info['os']}")
    print(f"software: Python {info['python']}, pandas {info['pandas']}, pyarrow {info['pyarrow']}, SQLAlchemy {info['sqlalchemy']}, "
          f"psycopg2 {info['psycopg2']}, PostgreSQL {server}; commit {info['commit']}; load average {os.getloadavg()[0]:.2f}")
    print(f"methods: {', '.join(args.methods)}; sizes: {', '.join(_fmt_rows(r) for r in args.sizes)}; {args.repeat} repeat(s), alternating"
          + (f"; {args.chunk_rows:,} rows per chunk" if args.chunk_rows else ""))
    # Bytecode as an installed package has it (pip compiles a wheel's modules when it installs them). A source
    # checkout under PYTHONDONTWRITEBYTECODE=1, as on our CI machines, would otherwise compile every module of
    # etl_studio again in each timed run (measured: about 0.1 s a run).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(engine_src / "etl_studio")], capture_output=True, check=False)
    # Untimed warm-up: the first start after an install reads the libraries from disk.
    subprocess.run([*bench.etl, "--help"], capture_output=True, env=bench.env)
    where = subprocess.run([sys.executable, "-c", "import etl_studio; print(etl_studio.__file__)"], capture_output=True, text=True,
                           env=bench.env, cwd=args.workdir)
    print(f"engine: {where.stdout.strip() or where.stderr.strip()}")
    try:
        for rows in args.sizes:
            bench.run_size(rows)
        largest = max(args.sizes)
        if not args.no_preview:
            bench.run_preview(largest)
        if args.profile:
            profile_clean(bench, largest)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_FAILED
    finally:
        bench.cleanup()

    summary = summarise(bench.results)
    print_table(summary)
    print("\nscaling (median time and peak RSS from size to size):")
    for line in scaling_lines(summary) or ["  (needs at least two sizes)"]:
        print("  " + line)
    if bench.preview:
        p = bench.preview
        inner_first = f"{p['in_process_first_seconds']:.2f}" if p["in_process_first_seconds"] is not None else "-"
        inner_again = f"{p['in_process_again_seconds']:.2f}" if p["in_process_again_seconds"] is not None else "-"
        verdict = "meets" if p["in_process_first_seconds"] is not None and p["in_process_first_seconds"] <= PREVIEW_GOAL_SECONDS else "misses"
        print(f"\npreview of the first {PREVIEW_ROWS} transformed rows of the {p['rows']:,}-row file (clean pipeline): "
              f"`etl-studio preview` process {p['cli_seconds']:.2f} s ({p['cli_peak_rss_mb']:.0f} MB), "
              f"in-process preview_pipeline {inner_first} s first call, {inner_again} s again; {verdict} the {PREVIEW_GOAL_SECONDS} s goal in-process")
    if args.gui:
        heartbeat = HERE / "gui_heartbeat.py"
        if heartbeat.exists():
            print("\n== GUI heartbeat (tests/benchmarks/gui_heartbeat.py)", flush=True)
            subprocess.run([sys.executable, str(heartbeat)], check=False)
        else:
            print("\n--gui: tests/benchmarks/gui_heartbeat.py does not exist yet; skipped")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "server": server, "chunk_rows": args.chunk_rows, "measurements": [asdict(m) for m in bench.results],
                                         "summary": summary, "preview": bench.preview}, indent=2, default=str))

    failed = any(m.exit_code != 0 for m in bench.results)
    largest = max(args.sizes)
    by_method = {r["method"]: r for r in summary if r["rows"] == largest and "median_s" in r}

    def ratio(method: str) -> str:
        value = by_method.get(method, {}).get("x_psql")
        return f"{value:.2f}" if value is not None else "nan"

    etl_peaks = [r["peak_rss_mb"] for m, r in by_method.items() if m in ETL_PIPELINES]
    print(f"ratio_plain={ratio('etl_plain')} ratio_clean={ratio('etl_clean')} peak_rss_mb={max(etl_peaks):.0f}" if etl_peaks
          else f"ratio_plain={ratio('etl_plain')} ratio_clean={ratio('etl_clean')} peak_rss_mb=nan")
    return EXIT_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
