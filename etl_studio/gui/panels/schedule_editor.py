"""The Schedule tab: when a pipeline runs by itself (presets, cron checked as you type, timezone, retries, SLA) and its next runs."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import available_timezones

from pydantic import ValidationError
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateTimeEdit,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from etl_studio.core.errors import InvalidInputError
from etl_studio.core.project.models import Pipeline, Schedule
from etl_studio.core.scheduling.triggers import PRESETS, cron_problem, describe, next_fire_times
from etl_studio.gui.editors.pipeline_page import PipelinePage
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.style import MARGIN, SPACING, empty_state, set_status, status_label

EDIT_TEXT = "Edit schedule"
NEXT_RUNS = 5
KINDS = [("cron", "At set times (cron)"), ("interval", "Every … (interval)"), ("at", "Once, at a date and time")]
_TIMEZONES = sorted(available_timezones())


def _spin(object_name: str, low: float, high: float, suffix: str, tip: str, *, decimals: int = 0, special: str = "") -> QSpinBox | QDoubleSpinBox:
    spin: QSpinBox | QDoubleSpinBox
    if decimals:
        spin = QDoubleSpinBox()
        spin.setDecimals(decimals)
    else:
        spin = QSpinBox()
    spin.setObjectName(object_name)
    spin.setRange(low, high)  # type: ignore[arg-type]
    spin.setSuffix(suffix)
    spin.setToolTip(tip)
    if special:
        spin.setSpecialValueText(special)
    spin.setKeyboardTracking(False)  # one edit per finished number, not one per digit
    return spin


class ScheduleEditor(PipelinePage):
    """Edits ``Pipeline.schedule`` by snapshot through ``document.replace_pipeline``; never in place."""

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(document, parent)
        self.setObjectName("scheduleEditor")
        self._loading = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(MARGIN, MARGIN, MARGIN, MARGIN)
        layout.setSpacing(SPACING)

        self.empty = empty_state("Select a pipeline to schedule it.", "scheduleEmpty", self)
        layout.addWidget(self.empty)
        # In a scroll area: the form is tall, and it must not make every other tab as tall
        # (the pipeline editor's height is the largest of its tabs' minimum heights).
        self.scroll = QScrollArea(self)
        self.scroll.setObjectName("scheduleScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.body = QWidget(self.scroll)
        self.body.setObjectName("scheduleBody")
        self.scroll.setWidget(self.body)
        layout.addWidget(self.scroll)
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(SPACING)

        top = QHBoxLayout()
        self.enabled_box = QCheckBox("Run this pipeline on a schedule", self.body)
        self.enabled_box.setObjectName("scheduleEnabled")
        self.enabled_box.setToolTip("When on, the scheduler (the switch in the toolbar, or etl-studio serve) runs it by itself")
        self.enabled_box.toggled.connect(self._enabled_toggled)
        top.addWidget(self.enabled_box)
        top.addStretch(1)
        self.remove_button = QPushButton("Remove schedule", self.body)
        self.remove_button.setObjectName("scheduleRemove")
        self.remove_button.setToolTip("Forget this pipeline's schedule (undo brings it back)")
        self.remove_button.clicked.connect(self._remove)
        top.addWidget(self.remove_button)
        body.addLayout(top)
        self.upstream_label = QLabel(self.body)
        self.upstream_label.setObjectName("scheduleUpstream")
        self.upstream_label.setWordWrap(True)
        body.addWidget(self.upstream_label)

        # -- when
        when = QGroupBox("When", self.body)
        when.setObjectName("scheduleWhen")
        form = QFormLayout(when)
        presets = QHBoxLayout()
        self.preset_buttons: dict[str, QPushButton] = {}
        for key, cron in PRESETS.items():
            button = QPushButton(key.capitalize(), when)
            button.setObjectName(f"schedulePreset_{key}")
            button.setToolTip(f"cron {cron}")
            button.clicked.connect(lambda _checked=False, c=cron: self.apply_preset(c))
            presets.addWidget(button)
            self.preset_buttons[key] = button
        presets.addStretch(1)
        form.addRow("Presets", presets)
        self.kind_combo = QComboBox(when)
        self.kind_combo.setObjectName("scheduleKind")
        for key, text in KINDS:
            self.kind_combo.addItem(text, key)
        self.kind_combo.activated.connect(lambda _i: self._kind_changed())
        form.addRow("Runs", self.kind_combo)
        self.stack = QStackedWidget(when)
        self.cron_edit = QLineEdit()
        self.cron_edit.setObjectName("scheduleCron")
        self.cron_edit.setPlaceholderText("minute hour day month weekday, e.g. 0 2 * * *")
        self.cron_edit.setToolTip("Five fields as in crontab: minute hour day-of-month month weekday (0 or 7 = Sunday)")
        self.cron_edit.textEdited.connect(lambda _t: self._field_edited("cron"))
        self.interval_spin = _spin("scheduleInterval", 1, 10_000_000, " s", "Seconds between runs")
        self.interval_spin.valueChanged.connect(lambda _v: self._field_edited("interval"))
        self.at_edit = QDateTimeEdit()
        self.at_edit.setObjectName("scheduleAt")
        self.at_edit.setCalendarPopup(True)
        self.at_edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.at_edit.dateTimeChanged.connect(lambda _v: self._field_edited("at"))
        for widget in (self.cron_edit, self.interval_spin, self.at_edit):
            self.stack.addWidget(widget)
        form.addRow("Schedule", self.stack)
        self.timezone_combo = QComboBox(when)
        self.timezone_combo.setObjectName("scheduleTimezone")
        self.timezone_combo.setEditable(True)
        self.timezone_combo.addItems(_TIMEZONES)
        self.timezone_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        completer = QCompleter(_TIMEZONES, self.timezone_combo)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.timezone_combo.setCompleter(completer)
        self.timezone_combo.setToolTip("Fire times and the SLA are read in this timezone (daylight saving included)")
        self.timezone_combo.currentTextChanged.connect(lambda _t: self._field_edited("timezone"))
        form.addRow("Timezone", self.timezone_combo)
        self.problem_label = status_label("scheduleProblem", when)
        form.addRow(self.problem_label)
        body.addWidget(when)

        # -- how
        how = QGroupBox("If it fails, runs long or runs late", self.body)
        how.setObjectName("scheduleHow")
        hform = QFormLayout(how)
        self.retries_spin = _spin("scheduleRetries", 0, 100, "", "How often a failed run is tried again", special="no retries")
        self.backoff_spin = _spin("scheduleBackoff", 0.1, 86_400, " s", "Wait before the first retry; doubled each time", decimals=1)
        self.max_delay_spin = _spin("scheduleMaxDelay", 0.1, 86_400, " s", "Never wait longer than this between retries", decimals=1)
        self.timeout_spin = _spin("scheduleTimeout", 0, 7 * 86_400, " s", "Stop a run that takes longer (it rolls back)", special="no timeout")
        self.sla_edit = QLineEdit(how)
        self.sla_edit.setObjectName("scheduleSla")
        self.sla_edit.setPlaceholderText("HH:MM, e.g. 06:00 (optional)")
        self.sla_edit.setToolTip("Loaded by this time of day (in the timezone above); a miss is recorded and notified")
        self.grace_spin = _spin("scheduleGrace", 0, 86_400, " s", "A run may start this late (the computer was busy or asleep) and still count")
        self.catch_up_combo = QComboBox(how)
        self.catch_up_combo.setObjectName("scheduleCatchUp")
        self.catch_up_combo.addItem("Run once to catch up", "once")
        self.catch_up_combo.addItem("Skip them", "skip")
        self.catch_up_combo.setToolTip("What happens to fire times missed while no scheduler was running")
        hform.addRow("Retries", self.retries_spin)
        delays = QHBoxLayout()
        delays.addWidget(self.backoff_spin)
        delays.addWidget(QLabel("doubling, at most"))
        delays.addWidget(self.max_delay_spin)
        hform.addRow("First retry after", delays)
        hform.addRow("Timeout", self.timeout_spin)
        hform.addRow("SLA: loaded by", self.sla_edit)
        hform.addRow("Late start allowed", self.grace_spin)
        hform.addRow("Missed while off", self.catch_up_combo)
        for spin, key in ((self.retries_spin, "retries"), (self.backoff_spin, "backoff"), (self.max_delay_spin, "max_delay"),
                          (self.timeout_spin, "timeout"), (self.grace_spin, "grace")):
            spin.valueChanged.connect(lambda _v, k=key: self._field_edited(k))
        self.sla_edit.textEdited.connect(lambda _t: self._field_edited("sla"))
        self.catch_up_combo.activated.connect(lambda _i: self._field_edited("catch_up"))
        body.addWidget(how)

        # -- next runs
        runs = QGroupBox(f"Next {NEXT_RUNS} runs", self.body)
        runs.setObjectName("scheduleNextRunsBox")
        rlayout = QVBoxLayout(runs)
        self.summary_label = QLabel(runs)
        self.summary_label.setObjectName("scheduleSummary")
        self.summary_label.setWordWrap(True)
        rlayout.addWidget(self.summary_label)
        self.next_runs = QListWidget(runs)
        self.next_runs.setObjectName("scheduleNextRuns")
        self.next_runs.setToolTip("Computed from the fields above as you type")
        row_height = self.next_runs.fontMetrics().lineSpacing() + 4
        self.next_runs.setMaximumHeight(row_height * (NEXT_RUNS + 1) + 8)
        rlayout.addWidget(self.next_runs)
        body.addWidget(runs)
        body.addStretch(1)
        self.reload()

    # -- showing the pipeline
    def reload(self) -> None:
        pipeline = self.pipeline()
        self.empty.setVisible(pipeline is None)
        self.scroll.setVisible(pipeline is not None)
        self.body.setVisible(pipeline is not None)
        if pipeline is None:
            return
        self._loading = True
        try:
            schedule = pipeline.schedule
            shown = schedule or Schedule(cron=PRESETS["daily"])
            self.enabled_box.setChecked(schedule is not None and schedule.enabled)
            self.remove_button.setEnabled(schedule is not None)
            kind = "cron" if shown.cron is not None else "interval" if shown.interval_seconds is not None else "at"
            self.kind_combo.setCurrentIndex([k for k, _ in KINDS].index(kind))
            self.stack.setCurrentIndex(self.kind_combo.currentIndex())
            if shown.cron is not None and self.cron_edit.text().strip() != shown.cron:
                self.cron_edit.setText(shown.cron)
            if shown.interval_seconds is not None:
                self.interval_spin.setValue(shown.interval_seconds)
            if shown.at is not None:
                self.at_edit.setDateTime(QDateTime(shown.at.replace(tzinfo=None)))
            if self.timezone_combo.currentText() != shown.timezone:
                self.timezone_combo.setCurrentText(shown.timezone)
            self.retries_spin.setValue(shown.retries)
            self.backoff_spin.setValue(shown.retry_backoff_seconds)
            self.max_delay_spin.setValue(shown.retry_max_delay_seconds)
            self.timeout_spin.setValue(int(shown.timeout_seconds or 0))
            if self.sla_edit.text().strip() != (shown.sla or ""):
                self.sla_edit.setText(shown.sla or "")
            self.grace_spin.setValue(shown.misfire_grace_seconds)
            self.catch_up_combo.setCurrentIndex(0 if shown.catch_up == "once" else 1)
            self.upstream_label.setText(f"Also runs after each successful run of {', '.join(pipeline.depends_on)}; "
                                        "a scheduled run runs those first." if pipeline.depends_on else "")
            self.upstream_label.setVisible(bool(pipeline.depends_on))
        finally:
            self._loading = False
        self._show_problem_and_runs(self._schedule_from_fields())

    # -- reading the fields
    def _schedule_from_fields(self) -> Schedule | str:
        """The schedule the fields describe, or why they do not describe one."""
        kind = self.kind_combo.currentData()
        tz = self.timezone_combo.currentText().strip()
        if tz not in _TIMEZONES and tz != "UTC":
            return f"unknown timezone {tz!r}: pick one from the list (e.g. Europe/Berlin, UTC)"
        trigger: dict[str, Any] = {}
        if kind == "cron":
            problem = cron_problem(self.cron_edit.text(), tz)
            if problem:
                return problem
            trigger["cron"] = " ".join(self.cron_edit.text().split())
        elif kind == "interval":
            trigger["interval_seconds"] = self.interval_spin.value()
        else:
            trigger["at"] = self.at_edit.dateTime().toPython()
        current = self.pipeline()
        existing = current.schedule if current is not None else None
        sla = self.sla_edit.text().strip() or None
        try:
            return Schedule(
                **trigger,
                timezone=tz,
                enabled=self.enabled_box.isChecked() if existing is not None else True,
                retries=self.retries_spin.value(),
                retry_backoff_seconds=self.backoff_spin.value(),
                retry_max_delay_seconds=self.max_delay_spin.value(),
                timeout_seconds=float(self.timeout_spin.value()) or None,
                misfire_grace_seconds=self.grace_spin.value(),
                catch_up=self.catch_up_combo.currentData(),
                sla=sla,
            )
        except ValidationError as exc:
            return "; ".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors())

    def _show_problem_and_runs(self, schedule: Schedule | str) -> None:
        self.next_runs.clear()
        if isinstance(schedule, str):
            set_status(self.problem_label, "error", schedule)
            self.summary_label.hide()
            self.next_runs.addItem("(fix the schedule above to see its next runs)")
            return
        set_status(self.problem_label, "", "")
        self.summary_label.show()
        pipeline = self.pipeline()
        active = pipeline is not None and pipeline.schedule is not None and pipeline.schedule.enabled
        self.summary_label.setText(describe(schedule) + ("" if active else " — not active: tick “Run this pipeline on a schedule”"))
        try:
            times = next_fire_times(schedule, NEXT_RUNS)
        except InvalidInputError as exc:
            set_status(self.problem_label, "error", str(exc))
            return
        if not times:
            self.next_runs.addItem("(no more runs: the date is in the past)")
        local_zone = datetime.now(timezone.utc).astimezone().tzinfo
        for moment in times:
            text = moment.strftime("%a %Y-%m-%d %H:%M %Z")
            local = moment.astimezone(local_zone)
            if local.utcoffset() != moment.utcoffset():
                text += f"   ({local.strftime('%a %H:%M')} here)"
            self.next_runs.addItem(text)

    # -- editing
    def _field_edited(self, field: str) -> None:
        if self._loading or self.pipeline_name is None:
            return
        schedule = self._schedule_from_fields()
        self._show_problem_and_runs(schedule)
        pipeline = self.pipeline()
        if isinstance(schedule, str) or pipeline is None or pipeline.schedule is None:
            return  # nothing saved while invalid, or before the schedule is switched on
        self._save(pipeline, schedule, merge_key=f"schedule:{self.pipeline_name}:{field}")

    def _save(self, pipeline: Pipeline, schedule: Schedule | None, merge_key: str | None = None) -> None:
        assert self.pipeline_name is not None
        self.document.replace_pipeline(self.pipeline_name, pipeline.model_copy(update={"schedule": schedule}), EDIT_TEXT, merge_key)

    def _enabled_toggled(self, on: bool) -> None:
        if self._loading:
            return
        pipeline = self.pipeline()
        if pipeline is None:
            return
        schedule = self._schedule_from_fields()
        if isinstance(schedule, str):
            if on:
                self.enabled_box.setChecked(False)  # a schedule that is not valid cannot be switched on
            return
        if pipeline.schedule is None and not on:
            return
        self._save(pipeline, schedule.model_copy(update={"enabled": on}))

    def _kind_changed(self) -> None:
        self.stack.setCurrentIndex(self.kind_combo.currentIndex())
        if self.kind_combo.currentData() == "cron" and not self.cron_edit.text().strip():
            self.cron_edit.setText(PRESETS["daily"])
        if self.kind_combo.currentData() == "at" and self.at_edit.dateTime() < QDateTime.currentDateTime():
            self.at_edit.setDateTime(QDateTime.currentDateTime().addSecs(3600))
        self._field_edited("kind")

    def apply_preset(self, cron: str) -> None:
        """Hourly/daily/weekly: a cron line the analyst can refine."""
        self.kind_combo.setCurrentIndex(0)
        self.stack.setCurrentIndex(0)
        self.cron_edit.setText(cron)
        pipeline = self.pipeline()
        if pipeline is not None and pipeline.schedule is None:
            schedule = self._schedule_from_fields()
            if not isinstance(schedule, str):
                self._save(pipeline, schedule)  # picking a preset is asking for a schedule
                return
        self._field_edited("cron")

    def _remove(self) -> None:
        pipeline = self.pipeline()
        if pipeline is not None and pipeline.schedule is not None:
            self._save(pipeline, None)

