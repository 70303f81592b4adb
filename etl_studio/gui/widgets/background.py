"""Starts workers in the global thread pool and keeps them alive until the pool is done with them.

A Worker is a QRunnable with autoDelete off: if the last Python reference went away while
its run() was still returning (a newer preview replaced it), the C++ object would be freed
under the running thread. Finished workers therefore wait here until the pool is idle.
"""

from __future__ import annotations

from PySide6.QtCore import QThreadPool

from etl_studio.gui.workers import Worker

_alive: list[Worker] = []


def start(worker: Worker) -> Worker:
    pool = QThreadPool.globalInstance()
    if pool.activeThreadCount() == 0:
        _alive.clear()
    _alive.append(worker)
    pool.start(worker)
    return worker
