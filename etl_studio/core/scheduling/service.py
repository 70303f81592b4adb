"""SchedulerService: runs a project's schedules in worker threads (APScheduler), upstream first, with retries, SLAs and alerts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent, JobSubmissionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from etl_studio.core.engine.dependencies import execution_order
from etl_studio.core.engine.events import RunEvent
from etl_studio.core.engine.reconcile import reconcile_runs
from etl_studio.core.errors import EtlError, InvalidInputError
from etl_studio.core.history.records import RunRecord, RunStatus
from etl_studio.core.history.store import SqlRunStore, open_run_store
from etl_studio.core.project.models import Project, Schedule
from etl_studio.core.scheduling import state
from etl_studio.core.scheduling.attempts import run_with_retries
from etl_studio.core.scheduling.lock import ProjectLock, lock_path_for
from etl_studio.core.scheduling.notify import Notifier, run_notice, sla_notice
from etl_studio.core.scheduling.state import SlaMiss
from etl_studio.core.scheduling.triggers import (
    RunWindow,
    build_trigger,
    fingerprint,
    previous_fire_time,
    window_for_fire,
    zone,
)

log = logging.getLogger("etl_studio.scheduler")

DEFAULT_WORKERS = 4
RUN_JOB, SLA_JOB = "run:", "sla:"
# A stored job names its service by key, because APScheduler pickles jobs: no live objects inside.
_SERVICES: dict[str, "SchedulerService"] = {}
_SERVICES_LOCK = threading.Lock()
# Without a schedule of its own (a manual or downstream run), a run loads the day before.
_DAILY = Schedule(cron="0 0 * * *")


def fire_pipeline(service_key: str, pipeline: str, fingerprint: str = "", trigger: str = "schedule") -> None:
    """APScheduler's job function (stored by reference): run the pipeline, its upstreams first, then its downstreams."""
    service = _SERVICES.get(service_key)
    if service is None:
        log.warning("job for '%s' fired but its scheduler is gone", pipeline)
        return
    service.run_chain(pipeline, trigger=trigger)


def check_sla(service_key: str, pipeline: str, fingerprint: str = "") -> None:
    """APScheduler's job function at each SLA deadline."""
    service = _SERVICES.get(service_key)
    if service is not None:
        service.check_sla(pipeline)


def sla_trigger(schedule: Schedule) -> CronTrigger:
    assert schedule.sla is not None
    hour, minute = schedule.sla.split(":")
    return CronTrigger(hour=int(hour), minute=int(minute), timezone=zone(schedule.timezone))


def find_sla_miss(store: SqlRunStore, pipeline: str, schedule: Schedule, now: datetime | None = None) -> SlaMiss | None:
    """The latest SLA deadline up to ``now``, if no successful run finished between that day's midnight and it."""
    assert schedule.sla is not None
    tz = zone(schedule.timezone)
    now = (now or datetime.now(timezone.utc)).astimezone(tz)
    due = previous_fire_time(sla_trigger(schedule), now + timedelta(microseconds=1))
    if due is None:
        return None
    day_start = due.replace(hour=0, minute=0, second=0, microsecond=0)
    runs = store.list_runs(pipeline, limit=500)
    successes = [r.finished_at for r in runs if r.status is RunStatus.SUCCEEDED and r.finished_at is not None]
    if any(day_start <= finished <= due for finished in successes):
        return None
    last = max((f for f in successes if f <= due), default=None)
    return SlaMiss(pipeline, due.astimezone(timezone.utc), schedule.sla, schedule.timezone, datetime.now(timezone.utc), last)


class SchedulerService:
    """A project's schedules, running. The project file is the truth; the job store only keeps next run times.

    Listeners (``add_listener``) hear every run event of every scheduled run, in worker
    threads. ``start`` takes the project lock: a second scheduler of the same project gets
    SchedulerLocked, which says who holds it.
    """

    def __init__(self, project: Project, project_dir: Path, *, owner: str = "serve", max_workers: int = DEFAULT_WORKERS,
                 store: SqlRunStore | None = None) -> None:
        self.project = project
        self.project_dir = Path(project_dir).resolve()
        self.key = str(self.project_dir)
        self.max_workers = max_workers
        self.lock = ProjectLock(lock_path_for(project.state_database, self.project_dir), by=owner)
        self.notifier = Notifier(project.notifications)
        self._given_store = store
        self.store: SqlRunStore | None = store
        self._scheduler: BackgroundScheduler | None = None
        self._listeners: list[Callable[[RunEvent], None]] = []
        self._pipeline_locks: dict[str, threading.Lock] = {}
        self._cancels: dict[str, threading.Event] = {}
        self._guard = threading.Lock()
        self._stopping = threading.Event()
        self._cancel_all = False

    # -- listeners
    def add_listener(self, listener: Callable[[RunEvent], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[RunEvent], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, event: RunEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a broken listener must not break a run
                log.exception("a run-event listener failed")

    # -- life cycle
    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self) -> None:
        """Take the lock, settle runs a dead process left open, rebuild the jobs from the project, start."""
        if self._scheduler is not None:
            return
        self.lock.acquire()
        try:
            self.store = self._given_store or open_run_store(self.project.state_database, self.project_dir)
            state.ensure_tables(self.store.engine)
            for settled in reconcile_runs(self.project, self.project_dir, self.store):
                self._event("WARNING", f"run {settled.run_id[:8]} was left unfinished by a stopped process; marked {settled.status.value}", settled.pipeline)
            scheduler = BackgroundScheduler(
                jobstores={"default": SQLAlchemyJobStore(engine=self.store.engine, tablename=state.JOBS_TABLE), "memory": MemoryJobStore()},
                executors={"default": ThreadPoolExecutor(self.max_workers)},
                job_defaults={"coalesce": True, "max_instances": 1},
                timezone=timezone.utc,
            )
            scheduler.add_listener(self._missed, EVENT_JOB_MISSED)
            scheduler.add_listener(self._still_running, EVENT_JOB_MAX_INSTANCES)
            with _SERVICES_LOCK:
                _SERVICES[self.key] = self
            self._stopping.clear()
            self._cancel_all = False
            # Paused while the jobs are brought in line with the file, so nothing fires from a stale job.
            scheduler.start(paused=True)
            self._scheduler = scheduler
            self._sync_jobs(initial=True)
            scheduler.resume()
        except BaseException:
            self._teardown(wait=False)
            raise
        self._event("INFO", f"scheduler started for '{self.project.name}' ({len(self.scheduled_pipelines())} scheduled pipeline(s))")

    def stop(self, *, cancel_running: bool = False, wait: bool = True) -> None:
        """Stop firing; wait for running runs to finish, or cancel them (they roll back) first."""
        if self._scheduler is None:
            return
        self._stopping.set()
        if cancel_running:
            self._cancel_all = True
            with self._guard:
                for cancel in self._cancels.values():
                    cancel.set()
        running = self.running_pipelines()
        if running:
            self._event("INFO", f"stopping: {'cancelling' if cancel_running else 'waiting for'} {', '.join(running)}")
        self._teardown(wait=wait)
        log.info("scheduler stopped")

    def _teardown(self, *, wait: bool) -> None:
        scheduler, self._scheduler = self._scheduler, None
        try:
            if scheduler is not None and scheduler.running:
                scheduler.shutdown(wait=wait)
        finally:
            with _SERVICES_LOCK:
                if _SERVICES.get(self.key) is self:
                    del _SERVICES[self.key]
            if self.store is not None and self._given_store is None:
                self.store.dispose()
                self.store = None
            self.lock.release()

    def reload(self, project: Project) -> None:
        """The project file changed (saved in the app, edited on the server): follow it."""
        self.project = project
        self.notifier = Notifier(project.notifications)
        if self._scheduler is not None:
            self._sync_jobs(initial=False)
            self._event("INFO", "schedules reloaded from the project file")

    # -- queries
    def scheduled_pipelines(self) -> list[str]:
        return [p.name for p in self.project.pipelines if p.schedule is not None and p.schedule.enabled]

    def next_run_time(self, pipeline: str) -> datetime | None:
        if self._scheduler is None:
            return None
        job = self._scheduler.get_job(RUN_JOB + pipeline)
        return job.next_run_time if job is not None else None

    def running_pipelines(self) -> list[str]:
        with self._guard:
            return list(self._cancels)

    def cancel(self, pipeline: str) -> bool:
        """Cancel a running run of the pipeline (it rolls back); False when it is not running."""
        with self._guard:
            event = self._cancels.get(pipeline)
        if event is None:
            return False
        event.set()
        return True

    def cancel_event(self, pipeline: str) -> threading.Event | None:
        with self._guard:
            return self._cancels.get(pipeline)

    # -- commands
    def run_now(self, pipeline: str, *, trigger: str = "manual") -> None:
        """Start a pipeline (upstream first, then downstream) in a worker thread, outside its schedule."""
        self.project.pipeline(pipeline)
        if self._scheduler is None:
            raise InvalidInputError("the scheduler is not running")
        self._scheduler.add_job(fire_pipeline, args=(self.key, pipeline), kwargs={"trigger": trigger}, jobstore="memory",
                                next_run_time=datetime.now(timezone.utc), misfire_grace_time=None,
                                id=f"now:{pipeline}:{datetime.now().timestamp()}", name=f"{pipeline} (now)")

    # -- job store
    def _sync_jobs(self, *, initial: bool) -> None:
        scheduler = self._scheduler
        assert scheduler is not None and self.store is not None
        wanted: dict[str, tuple[str, Schedule, BaseTrigger, str]] = {}
        for pipeline in self.project.pipelines:
            schedule = pipeline.schedule
            if schedule is None or not schedule.enabled:
                continue
            try:
                wanted[RUN_JOB + pipeline.name] = (pipeline.name, schedule, build_trigger(schedule), fingerprint(schedule))
                if schedule.sla:
                    wanted[SLA_JOB + pipeline.name] = (pipeline.name, schedule, sla_trigger(schedule), f"{fingerprint(schedule)}@{schedule.sla}")
            except InvalidInputError as exc:
                self._event("ERROR", f"not scheduled: {exc}", pipeline.name)
        existing = {job.id: job for job in scheduler.get_jobs(jobstore="default")}
        for job_id, job in existing.items():
            if job_id not in wanted:
                job.remove()
        now = datetime.now(timezone.utc)
        for job_id, (name, schedule, trigger, print_) in wanted.items():
            is_run = job_id.startswith(RUN_JOB)
            grace = max(1, schedule.misfire_grace_seconds)
            job = existing.get(job_id)
            if job is not None and job.kwargs.get("fingerprint") == print_ and tuple(job.args) == (self.key, name):
                job.modify(misfire_grace_time=grace if is_run else None)
                if initial and is_run and job.next_run_time is not None:
                    self._catch_up(job, schedule, trigger, now, grace)
                continue
            if schedule.at is not None and is_run:
                self._add_one_off(name, schedule, trigger, print_, now, grace)
                continue
            scheduler.add_job(fire_pipeline if is_run else check_sla, trigger, args=(self.key, name), kwargs={"fingerprint": print_},
                              id=job_id, name=f"{name} ({'run' if is_run else 'SLA ' + str(schedule.sla)})", replace_existing=True,
                              misfire_grace_time=grace if is_run else None, coalesce=True, max_instances=1)

    def _catch_up(self, job: Job, schedule: Schedule, trigger: BaseTrigger, now: datetime, grace: int) -> None:
        """Fire times missed while no scheduler ran: one run now ('once') or none ('skip')."""
        next_run = job.next_run_time
        if next_run >= now - timedelta(seconds=grace):
            return  # on time, or late within the grace time: APScheduler runs it as usual
        name = job.args[1]
        if schedule.catch_up == "once":
            self._event("WARNING", f"missed fire time(s) since {next_run.isoformat(timespec='seconds')} while no scheduler ran: one catch-up run now", name)
            job.modify(next_run_time=now)
        else:
            following = trigger.get_next_fire_time(None, now)
            self._event("WARNING", f"missed fire time(s) since {next_run.isoformat(timespec='seconds')} while no scheduler ran: skipped (catch_up: skip)", name)
            if following is None:
                job.remove()
            else:
                job.modify(next_run_time=following)

    def _add_one_off(self, name: str, schedule: Schedule, trigger: BaseTrigger, print_: str, now: datetime, grace: int) -> None:
        assert self._scheduler is not None and self.store is not None
        at = trigger.get_next_fire_time(None, datetime(1970, 1, 1, tzinfo=timezone.utc))
        assert at is not None
        next_run: datetime | None = at
        if at < now - timedelta(seconds=grace):
            already = any(r.trigger == "schedule" and r.created_at >= at for r in self.store.list_runs(name, limit=200))
            if already or schedule.catch_up == "skip":
                return
            self._event("WARNING", f"the one-off run at {at.isoformat(timespec='seconds')} was missed: running it now", name)
            next_run = now
        self._scheduler.add_job(fire_pipeline, trigger, args=(self.key, name), kwargs={"fingerprint": print_}, id=RUN_JOB + name,
                                name=f"{name} (once)", replace_existing=True, misfire_grace_time=grace, next_run_time=next_run)

    def _missed(self, event: JobExecutionEvent) -> None:
        job_id = str(event.job_id)
        if job_id.startswith(RUN_JOB):
            self._event("WARNING", f"fire time {event.scheduled_run_time.isoformat(timespec='seconds')} missed by more than the grace time; skipped",
                        job_id[len(RUN_JOB):])

    def _still_running(self, event: JobSubmissionEvent) -> None:
        job_id = str(event.job_id)
        if job_id.startswith(RUN_JOB):
            # Log only: an interval shorter than the run would fill the state database with these.
            log.info("'%s': fire time skipped, the previous run is still going", job_id[len(RUN_JOB):])

    # -- runs
    def _pipeline_lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._pipeline_locks.setdefault(name, threading.Lock())

    def chain_for(self, root: str, project: Project | None = None) -> list[str]:
        """What one firing of ``root`` runs, in order: its upstreams, it, and everything downstream of those."""
        project = project or self.project
        chain = execution_order(project, [root])
        grew = True
        while grew:
            grew = False
            for pipeline in project.pipelines:
                if pipeline.name not in chain and any(u in chain for u in pipeline.depends_on):
                    chain.append(pipeline.name)
                    grew = True
        return execution_order(project, chain, include_upstream=False)

    def run_chain(self, root: str, *, trigger: str = "schedule") -> dict[str, RunRecord | None]:
        """Run ``root`` with its upstreams first and its downstreams after; a pipeline whose upstream failed is skipped."""
        project = self.project  # one snapshot for the whole chain: a reload does not change it mid-way
        results: dict[str, RunRecord | None] = {}
        try:
            order = self.chain_for(root, project)
        except EtlError as exc:
            self._event("ERROR", f"cannot run: {exc}", root)
            return results
        root_schedule = project.pipeline(root).schedule or _DAILY
        window = window_for_fire(root_schedule)
        for name in order:
            if self._stopping.is_set():
                break
            failed_upstream = [u for u in project.pipeline(name).depends_on if u in results and not _succeeded(results[u])]
            if failed_upstream:
                self._event("WARNING", f"not run: upstream pipeline '{failed_upstream[0]}' did not succeed", name)
                results[name] = None
                continue
            results[name] = self._run_one(project, name, trigger if name == root else "dependency", window)
        return results

    def _run_one(self, project: Project, name: str, trigger: str, window: RunWindow) -> RunRecord | None:
        assert self.store is not None
        lock = self._pipeline_lock(name)
        # One pipeline never runs twice at once: a run of it from another chain is waited for.
        while not lock.acquire(timeout=0.5):
            if self._stopping.is_set():
                return None
        try:
            cancel = threading.Event()
            with self._guard:
                self._cancels[name] = cancel
            if self._cancel_all:
                cancel.set()
            record = run_with_retries(project, name, project_dir=self.project_dir, store=self.store, trigger=trigger,
                                      params=window.params(), report=self._emit, cancel=cancel, stop=self._stopping)
        finally:
            with self._guard:
                self._cancels.pop(name, None)
            lock.release()
        self._after_run(project, record)
        return record

    def _after_run(self, project: Project, record: RunRecord) -> None:
        if record.status is RunStatus.SUCCEEDED:
            log.info("'%s' succeeded (%s): %d loaded", record.pipeline, record.trigger, record.rows_loaded)
        else:
            self._event("ERROR" if record.status is RunStatus.FAILED else "WARNING",
                        f"run {record.run_id[:8]} ({record.trigger}) {record.status.value}: {record.error}", record.pipeline)
        if record.status in (RunStatus.FAILED, RunStatus.INTERRUPTED, RunStatus.SUCCEEDED):
            self.notifier.send(run_notice(project.name, record))

    def check_sla(self, pipeline: str, now: datetime | None = None) -> SlaMiss | None:
        """At a deadline: record (once) and notify a miss. Returns the miss, or None when the pipeline made it."""
        assert self.store is not None
        schedule = self.project.pipeline(pipeline).schedule
        if schedule is None or not schedule.sla:
            return None
        miss = find_sla_miss(self.store, pipeline, schedule, now)
        if miss is None:
            return None
        if state.record_sla_miss(self.store.engine, miss):
            self._event("ERROR", f"SLA missed: not loaded by {miss.sla} ({miss.timezone})", pipeline)
            self.notifier.send(sla_notice(self.project.name, pipeline, miss.sla, miss.timezone, miss.due_at, miss.last_success_at))
        return miss

    def _event(self, level: str, message: str, pipeline: str | None = None) -> None:
        log.log(logging.getLevelName(level), "%s%s", f"'{pipeline}': " if pipeline else "", message)
        if self.store is not None:
            try:
                state.record_event(self.store.engine, level, message, pipeline)
            except Exception:  # noqa: BLE001 - the state database being busy must not stop the scheduler
                log.exception("cannot write the scheduler event to the state database")


def _succeeded(record: RunRecord | None) -> bool:
    return record is not None and record.status is RunStatus.SUCCEEDED

