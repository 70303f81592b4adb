"""Where a load's time must go: the CPU of our process, of the PostgreSQL server, and the import floor.

    python tests/benchmarks/cpu_budget.py [--rows 1000000] [--repeat 3]

The wall-time ratios of run.py say how far a load is from `psql \\copy`; this says how far it
*can* get on this machine. For `psql \\copy` and for `etl-studio run` of the plain and the
cleaning pipeline, alternating, it measures:

* wall time;
* the CPU of the loading process (user + system, from wait4);
* the CPU the PostgreSQL server spent on the load: the postmaster's reaped children
  (cutime + cstime: the backend that served the load, once it has exited) plus its live
  children, before and after (the server must be on this machine);
* the import floor: a process that only imports what `etl-studio run` imports, and exits.

From those it prints two lower bounds for each ETL Studio load, as ratios to `psql \\copy`:

* serial: imports + the server's own work. The server cannot start before the process has
  imported its libraries and sent the first rows, and its work for the load is one backend,
  one core, so no overlap can make a load shorter than this;
* CPU: imports on one core, then all remaining CPU (ours and the server's) spread perfectly
  over the machine's cores.

A goal below the larger bound is out of reach for this engine on this machine, however well
its stages overlap; only less CPU (or a cheaper server-side load) moves the bound.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_data import data_file  # noqa: E402
from bench_projects import CLEAN, PLAIN, TABLES, build_project  # noqa: E402
from run import DEFAULT_PG_URL, BenchError, Postgres, _etl_command, header  # noqa: E402

# What `etl-studio run` imports before it reads a row (cli.cmd_run and the modules a CSV -> PostgreSQL run loads).
IMPORTS = (
    "import etl_studio.cli, etl_studio.core.project, etl_studio.core.engine.runner, etl_studio.core.engine.reconcile, "
    "etl_studio.core.engine.dependencies, etl_studio.core.history, etl_studio.core.sources.csv_file, "
    "etl_studio.core.targets.sql_table, etl_studio.core.targets.sql_writers, etl_studio.core.steps.clean, "
    "etl_studio.core.steps.dedupe, etl_studio.core.rules.regex"
)
CLOCK = os.sysconf("SC_CLK_TCK")


class ServerCpu:
    """CPU seconds the PostgreSQL server has used so far: the postmaster, its live children and the reaped ones."""

    def __init__(self, pg: Postgres) -> None:
        data_directory = pg.query("SHOW data_directory")
        try:
            self.postmaster = int(Path(data_directory, "postmaster.pid").read_text().split()[0])
            self._ticks(self.postmaster)
        except (OSError, ValueError, IndexError) as exc:
            raise BenchError(f"cannot read the PostgreSQL server's CPU ({exc}): the server must run on this machine, readable by this user") from None

    @staticmethod
    def _ticks(pid: int, with_children: bool = False) -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        # fields[11:15]: utime, stime, cutime, cstime (stat(5) numbers them 14-17)
        used = int(fields[11]) + int(fields[12])
        return used + int(fields[13]) + int(fields[14]) if with_children else used

    def children(self) -> set[int]:
        return {int(pid) for pid in Path(f"/proc/{self.postmaster}/task/{self.postmaster}/children").read_text().split()}

    def seconds(self) -> float:
        total = self._ticks(self.postmaster, with_children=True)
        for child in self.children():
            try:
                total += self._ticks(child)
            except (OSError, ValueError, IndexError):
                pass  # exited meanwhile: its time is in the postmaster's cutime now
        return total / CLOCK

    def wait_for_exit(self, pids: set[int], timeout: float = 10.0) -> None:
        """Until these server processes (a load's backend) have exited and been reaped, so that
        their CPU is in the postmaster's cutime; waits on process descriptors, not by polling."""
        handles = []
        for pid in pids:
            try:
                handles.append(os.pidfd_open(pid))
            except ProcessLookupError:
                pass  # gone already
        deadline = time.monotonic() + timeout
        try:
            while handles and (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select(handles, [], [], left)
                for handle in ready:
                    handles.remove(handle)
                    os.close(handle)
        finally:
            for handle in handles:
                os.close(handle)


def run_measured(command: list[str], server: ServerCpu, cwd: Path) -> dict:
    """Wall seconds, our CPU seconds and the server's CPU seconds of one process."""
    before, backends_before = server.seconds(), server.children()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise BenchError(f"{' '.join(command[:3])} ... failed: {stderr.strip()[-500:]}")
    server.wait_for_exit(server.children() - backends_before)  # the backend exits after its client
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "server": server.seconds() - before}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get("ETL_STUDIO_TEST_POSTGRES_URL", DEFAULT_PG_URL))
    parser.add_argument("--schema", default="etl_bench")
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("ETL_STUDIO_BENCH_DIR", Path(tempfile.gettempdir()) / "etl_studio_bench")))
    args = parser.parse_args(argv)

    pg = Postgres(args.pg_url, args.schema)
    try:
        pg.check()
        server = ServerCpu(pg)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    csv_path = data_file(args.workdir, args.rows)
    project_dir = args.workdir / f"budget_{args.rows}"
    project_dir.mkdir(parents=True, exist_ok=True)
    project = build_project(csv_path, project_dir, columns=header(csv_path), rows=args.rows, pg_url=args.pg_url, schema=args.schema)
    etl = _etl_command()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent.parent / "etl_studio")], check=False)
    with open(csv_path, "rb") as handle:  # in the page cache for every method alike
        while handle.read(1 << 24):
            pass

    methods = {
        "psql \\copy": (pg.copy_command(csv_path), "psql_copy"),
        "etl-studio plain": ([*etl, "run", str(project), "--pipeline", PLAIN], TABLES[PLAIN]),
        "etl-studio clean": ([*etl, "run", str(project), "--pipeline", CLEAN], TABLES[CLEAN]),
        "imports only": ([sys.executable, "-c", IMPORTS], None),
    }
    results: dict[str, list[dict]] = {name: [] for name in methods}
    print(f"{args.rows:,} rows, {args.repeat} repeat(s), alternating; {os.cpu_count()} cores", flush=True)
    try:
        for i in range(args.repeat):
            for name, (command, table) in methods.items():
                if table:
                    pg.drop(table)
                shutil.rmtree(project_dir / ".etl_studio", ignore_errors=True)  # earlier runs' history
                measured = run_measured(command, server, project_dir)
                results[name].append(measured)
                print(f"  [{i + 1}/{args.repeat}] {name:18} wall {measured['wall']:6.2f} s  process CPU {measured['cpu']:6.2f} s  server CPU {measured['server']:6.2f} s", flush=True)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        pg.drop("psql_copy", TABLES[PLAIN], TABLES[CLEAN])

    med = {name: {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "server")} for name, runs in results.items()}
    reference, imports, cores = med["psql \\copy"]["wall"], med["imports only"]["wall"], os.cpu_count() or 1
    print()
    print(f"{'method':18} {'wall s':>7} {'x psql':>7} {'CPU s':>7} {'server s':>9} {'serial bound':>13} {'CPU bound':>10}")
    for name, m in med.items():
        if name == "imports only":
            continue
        line = f"{name:18} {m['wall']:7.2f} {m['wall'] / reference:7.2f} {m['cpu']:7.2f} {m['server']:9.2f}"
        if name.startswith("etl-studio"):
            serial = imports + m["server"]
            spread = imports + max(m["cpu"] - med["imports only"]["cpu"] + m["server"], 0) / cores
            line += f" {serial / reference:12.2f}x {max(serial, spread) / reference:9.2f}x"
        print(line)
    print(f"imports only       {imports:7.2f} {imports / reference:7.2f} {med['imports only']['cpu']:7.2f}")
    print()
    print("bounds: the shortest wall time this engine could have here, as x psql \\copy (see the module's docstring)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
