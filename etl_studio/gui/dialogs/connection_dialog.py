"""The connection dialog: SQLite, PostgreSQL, MySQL/MariaDB or a folder; passwords only as references."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from pydantic import ValidationError
from PySide6.QtCore import QThreadPool, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.engine import URL, make_url

from etl_studio.core.project.models import Connection
from etl_studio.gui.icons import icon
from etl_studio.gui.style import MARGIN, SPACING, colour, set_status, status_label
from etl_studio.gui.workers import Worker

KINDS = [("sqlite", "SQLite file"), ("postgresql", "PostgreSQL"), ("mysql", "MySQL / MariaDB"), ("folder", "Folder of files")]
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KEYRING_SERVICE = "etl-studio"


def keyring_available() -> bool:
    try:
        import keyring  # noqa: F401
    except ImportError:
        return False
    return True


def check_connection(connection: Connection, project_dir: Path) -> str:
    """Runs in a worker: the server's name and version, or raises with the reason."""
    if connection.url.startswith("file:"):
        # Folders are not SQLAlchemy databases; all there is to test is that the folder is there.
        folder = Path(connection.url.removeprefix("file:").removeprefix("//"))
        folder = folder if folder.is_absolute() else project_dir / folder
        if not folder.is_dir():
            raise FileNotFoundError(f"folder {folder} does not exist")
        files = sum(1 for p in folder.iterdir() if p.is_file())
        return f"folder with {files} file{'s' if files != 1 else ''}"
    from etl_studio.core.connections import test_connection

    return test_connection(connection, project_dir)


class ConnectionDialog(QDialog):
    """Edits one connection. ``connection()`` is the result once accepted."""

    testFinished = Signal(bool, str)  # ok, message (for tests and the status line)

    def __init__(self, project_dir: Path, connection: Connection | None = None, taken_names: set[str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionDialog")
        self.setWindowTitle("Edit connection" if connection else "New connection")
        self.setWindowIcon(icon("database"))
        self.setMinimumWidth(520)
        self.project_dir = project_dir
        self.taken_names = (taken_names or set()) - ({connection.name} if connection else set())
        self._result: Connection | None = None
        self._worker: Worker | None = None
        # Finished workers are kept for the dialog's life: a QRunnable must outlive its run().
        self._workers: list[Worker] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(MARGIN, MARGIN, MARGIN, MARGIN)
        layout.setSpacing(SPACING)
        top = QFormLayout()
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("connectionName")
        self.name_edit.setPlaceholderText("e.g. warehouse")
        self.name_edit.setToolTip("How pipelines refer to this connection")
        top.addRow("Name *", self.name_edit)
        self.kind_combo = QComboBox(self)
        self.kind_combo.setObjectName("connectionKind")
        for key, text in KINDS:
            self.kind_combo.addItem(icon("folder" if key == "folder" else "database"), text, key)
        self.kind_combo.setToolTip("What kind of database (or a folder of files)")
        top.addRow("Kind", self.kind_combo)
        layout.addLayout(top)

        self.pages = QStackedWidget(self)
        self.pages.setObjectName("connectionPages")
        self.pages.addWidget(self._sqlite_page())
        self.pages.addWidget(self._server_page())
        self.pages.addWidget(self._folder_page())
        layout.addWidget(self.pages)

        bottom = QFormLayout()
        self.description_edit = QLineEdit(self)
        self.description_edit.setObjectName("connectionDescription")
        self.description_edit.setPlaceholderText("optional")
        bottom.addRow("Description", self.description_edit)
        self.url_label = QLabel(self)
        self.url_label.setObjectName("connectionUrl")
        self.url_label.setStyleSheet(f"color: {colour('muted').name()};")
        self.url_label.setToolTip("What the project file will store (never a password)")
        self.url_label.setWordWrap(True)
        bottom.addRow("Stored as", self.url_label)
        layout.addLayout(bottom)

        test_row = QHBoxLayout()
        self.test_button = QPushButton(icon("plug"), "Test connection", self)
        self.test_button.setObjectName("testConnectionButton")
        self.test_button.setToolTip("Connect once and report the server version, or why it failed")
        self.test_button.clicked.connect(self.test)
        test_row.addWidget(self.test_button)
        test_row.addStretch(1)
        layout.addLayout(test_row)
        self.test_result = status_label("testConnectionResult", self)
        layout.addWidget(self.test_result)
        self.error_label = status_label("connectionError", self)
        layout.addWidget(self.error_label)
        layout.addStretch(1)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.setObjectName("connectionButtons")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        for edit in (self.name_edit, self.sqlite_path, self.host_edit, self.database_edit, self.user_edit, self.password_ref,
                     self.folder_path, self.description_edit, self.keyring_secret):
            edit.textChanged.connect(self._update)
        self.port_spin.valueChanged.connect(self._update)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        self.password_mode.currentIndexChanged.connect(self._password_mode_changed)

        self._align_labels(top, bottom, *(page.layout() for page in (self.pages.widget(i) for i in range(self.pages.count()))))
        if connection:
            self.set_connection(connection)
        else:
            self._kind_changed()
        self._password_mode_changed()

    @staticmethod
    def _align_labels(*forms: QFormLayout) -> None:
        """The forms are stacked separately (one page per kind); same label width lines them up."""
        labels = [form.itemAt(row, QFormLayout.ItemRole.LabelRole) for form in forms for row in range(form.rowCount())]
        widgets = [item.widget() for item in labels if item is not None and item.widget() is not None]
        width = max((w.sizeHint().width() for w in widgets), default=0)
        for widget in widgets:
            widget.setMinimumWidth(width)

    # -- pages
    def _path_row(self, edit: QLineEdit, folder: bool) -> QWidget:
        holder = QWidget(self)
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        button = QToolButton(holder)
        button.setObjectName(edit.objectName() + "Browse")
        button.setIcon(icon("browse"))
        button.setToolTip("Choose…")
        button.clicked.connect(lambda: self._browse(edit, folder))
        row.addWidget(button)
        return holder

    def _sqlite_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)
        self.sqlite_path = QLineEdit(page)
        self.sqlite_path.setObjectName("sqlitePath")
        self.sqlite_path.setPlaceholderText("warehouse.db (relative to the project file)")
        self.sqlite_path.setToolTip("The database file; it is created on the first load if it does not exist")
        form.addRow("Database file *", self._path_row(self.sqlite_path, folder=False))
        return page

    def _server_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)
        self.host_edit = QLineEdit(page)
        self.host_edit.setObjectName("serverHost")
        self.host_edit.setPlaceholderText("127.0.0.1")
        form.addRow("Host *", self.host_edit)
        self.port_spin = QSpinBox(page)
        self.port_spin.setObjectName("serverPort")
        self.port_spin.setRange(1, 65535)
        form.addRow("Port", self.port_spin)
        self.database_edit = QLineEdit(page)
        self.database_edit.setObjectName("serverDatabase")
        form.addRow("Database *", self.database_edit)
        self.user_edit = QLineEdit(page)
        self.user_edit.setObjectName("serverUser")
        form.addRow("User", self.user_edit)

        self.password_mode = QComboBox(page)
        self.password_mode.setObjectName("passwordMode")
        self.password_mode.addItem("No password", "none")
        self.password_mode.addItem("From an environment variable", "env")
        self.password_mode.addItem("Stored in the system keyring", "keyring")
        if not keyring_available():
            item = self.password_mode.model().item(2)
            item.setEnabled(False)
            item.setToolTip("Install the 'keyring' package to keep passwords in the system keyring")
        self.password_mode.setToolTip("Project files never hold passwords, only where to find them")
        form.addRow("Password", self.password_mode)
        self.password_ref = QLineEdit(page)
        self.password_ref.setObjectName("passwordEnvVar")
        self.password_ref.setPlaceholderText("name of the variable, e.g. PG_PASSWORD")
        self.password_ref.setToolTip("The project stores ${NAME}; set NAME in the environment of whoever runs the pipeline")
        form.addRow("Variable", self.password_ref)
        self.keyring_secret = QLineEdit(page)
        self.keyring_secret.setObjectName("passwordKeyringSecret")
        self.keyring_secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.keyring_secret.setPlaceholderText("typed here, saved in the system keyring only")
        form.addRow("Secret", self.keyring_secret)
        self._password_form = form
        return page

    def _folder_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)
        self.folder_path = QLineEdit(page)
        self.folder_path.setObjectName("folderPath")
        self.folder_path.setPlaceholderText("data (relative to the project file)")
        form.addRow("Folder *", self._path_row(self.folder_path, folder=True))
        return page

    def _browse(self, edit: QLineEdit, folder: bool) -> None:
        start = str(self.project_dir)
        chosen = (QFileDialog.getExistingDirectory(self, "Choose a folder", start) if folder
                  else QFileDialog.getSaveFileName(self, "Choose a SQLite database file", start,
                                                   "SQLite databases (*.db *.sqlite *.sqlite3);;All files (*)",
                                                   options=QFileDialog.Option.DontConfirmOverwrite)[0])
        if chosen:
            path = Path(chosen)
            try:
                path = path.resolve().relative_to(self.project_dir.resolve())
            except ValueError:
                pass
            edit.setText(path.as_posix())

    # -- state
    @property
    def kind(self) -> str:
        return self.kind_combo.currentData()

    def set_kind(self, kind: str) -> None:
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))

    def _kind_changed(self) -> None:
        kind = self.kind
        self.pages.setCurrentIndex({"sqlite": 0, "folder": 2}.get(kind, 1))
        if kind in DEFAULT_PORTS and self.port_spin.value() in (*DEFAULT_PORTS.values(), 1):
            self.port_spin.setValue(DEFAULT_PORTS[kind])
        self._update()

    def _password_mode_changed(self) -> None:
        mode = self.password_mode.currentData()
        self._password_form.setRowVisible(self.password_ref, mode == "env")
        self._password_form.setRowVisible(self.keyring_secret, mode == "keyring")
        self._update()

    def set_connection(self, connection: Connection) -> None:
        self.name_edit.setText(connection.name)
        self.description_edit.setText(connection.description)
        if connection.url.startswith("file:"):
            self.set_kind("folder")
            self.folder_path.setText(connection.url.removeprefix("file:").removeprefix("//"))
            return
        try:
            url = make_url(connection.url)
        except Exception:  # noqa: BLE001 - a hand-written URL we cannot split: keep it as SQLite text
            self.set_kind("sqlite")
            self.sqlite_path.setText(connection.url)
            return
        backend = url.get_backend_name()
        if backend == "sqlite":
            self.set_kind("sqlite")
            self.sqlite_path.setText(url.database or "")
            return
        self.set_kind("mysql" if backend in ("mysql", "mariadb") else "postgresql")
        self.host_edit.setText(url.host or "")
        self.port_spin.setValue(url.port or DEFAULT_PORTS.get(self.kind, 5432))
        self.database_edit.setText(url.database or "")
        self.user_edit.setText(url.username or "")
        reference = connection.password or (url.password if isinstance(url.password, str) else None)
        if reference and reference.startswith("${"):
            self.password_mode.setCurrentIndex(1)
            self.password_ref.setText(reference[2:-1])
        elif reference and reference.startswith("keyring:"):
            self.password_mode.setCurrentIndex(2)
        else:
            self.password_mode.setCurrentIndex(0)
        self._keyring_reference = reference if reference and reference.startswith("keyring:") else None

    def _password_reference(self) -> str | None:
        mode = self.password_mode.currentData()
        if mode == "env":
            name = self.password_ref.text().strip()
            return f"${{{name}}}" if name else None
        if mode == "keyring":
            return f"keyring:{KEYRING_SERVICE}/{self.name_edit.text().strip() or 'connection'}"
        return None

    def _url(self) -> str:
        kind = self.kind
        if kind == "folder":
            return "file:" + self.folder_path.text().strip()
        if kind == "sqlite":
            return "sqlite:///" + self.sqlite_path.text().strip()
        url = URL.create(
            kind, username=self.user_edit.text().strip() or None, host=self.host_edit.text().strip() or None,
            port=self.port_spin.value(), database=self.database_edit.text().strip() or None,
        )
        return url.render_as_string(hide_password=False)

    def _problem(self) -> str | None:
        """What keeps the connection from being saved, said so the user can fix it."""
        name = self.name_edit.text().strip()
        if not name:
            return "Give the connection a name."
        if name in self.taken_names:
            return f"There is already a connection named '{name}'."
        kind = self.kind
        if kind == "sqlite" and not self.sqlite_path.text().strip():
            return "Choose the SQLite database file."
        if kind == "folder" and not self.folder_path.text().strip():
            return "Choose the folder."
        if kind in DEFAULT_PORTS:
            if not self.host_edit.text().strip():
                return "Type the server's host name or address."
            if not self.database_edit.text().strip():
                return "Type the name of the database."
            if self.password_mode.currentData() == "env":
                variable = self.password_ref.text().strip()
                if not variable:
                    return "Type the name of the environment variable that holds the password."
                if not _ENV_NAME.match(variable):
                    return ("Type the NAME of an environment variable (letters, digits, _), e.g. PG_PASSWORD — "
                            "not the password itself.")
            if self.password_mode.currentData() == "keyring" and not self.keyring_secret.text() and not getattr(self, "_keyring_reference", None):
                return "Type the password to keep in the system keyring."
        return None

    def _update(self) -> None:
        self.url_label.setText(self._url() + (f"  (password: {self._password_reference()})" if self._password_reference() else ""))
        problem = self._problem()
        set_status(self.error_label, "warning" if problem else "", problem or "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)
        self.test_button.setEnabled(problem is None and self._worker is None)

    def build_connection(self) -> Connection:
        """The connection as the form says; raises ValueError with a readable message."""
        problem = self._problem()
        if problem:
            raise ValueError(problem)
        try:
            return Connection(name=self.name_edit.text().strip(), url=self._url(), password=self._password_reference(),
                              description=self.description_edit.text().strip())
        except ValidationError as exc:
            raise ValueError("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())) from None

    def connection(self) -> Connection | None:
        return self._result

    # -- test
    def test(self) -> None:
        try:
            connection = self.build_connection()
        except ValueError as exc:
            self._show_test(False, str(exc))
            return
        if self.password_mode.currentData() == "keyring" and self.keyring_secret.text():
            self._store_in_keyring(connection)
        self._worker = Worker(functools.partial(check_connection, connection, self.project_dir), wants_report=False, wants_cancel=False)
        self._workers.append(self._worker)
        self._worker.signals.result.connect(lambda version: self._show_test(True, f"Connected: {version}"))
        self._worker.signals.error.connect(lambda message: self._show_test(False, f"Cannot connect: {message}"))
        self.test_button.setEnabled(False)
        self.test_button.setText("Testing…")
        set_status(self.test_result, "muted", "Connecting…")
        QThreadPool.globalInstance().start(self._worker)

    def _show_test(self, ok: bool, message: str) -> None:
        self._worker = None
        self.test_button.setText("Test connection")
        set_status(self.test_result, "ok" if ok else "error", message)
        self._update()
        self.testFinished.emit(ok, message)

    def _store_in_keyring(self, connection: Connection) -> None:
        import keyring

        service, _, user = (connection.password or "").removeprefix("keyring:").partition("/")
        keyring.set_password(service, user, self.keyring_secret.text())

    def accept(self) -> None:
        try:
            connection = self.build_connection()
        except ValueError as exc:
            set_status(self.error_label, "error", str(exc))
            return
        if self.password_mode.currentData() == "keyring" and self.keyring_secret.text():
            try:
                self._store_in_keyring(connection)
            except Exception as exc:  # noqa: BLE001 - keyring backends fail in many ways
                set_status(self.error_label, "error", f"Cannot save the password in the system keyring: {exc}")
                return
        self._result = connection
        super().accept()
