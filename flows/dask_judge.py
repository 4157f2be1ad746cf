"""One embedded judge per Dask worker process (ScoreSettings.dask_judge="per-worker").

On a cluster of separate machines the flow's own llama-server would make every worker judge on the flow's
machine; here each worker opens its own, so each machine judges with its own CPU or GPU. The judge is
opened on the worker's first batch (a worker that gets none never loads the model), reused by its later
batches, and closed when the round removes the plugin or the worker exits.

A module of its own: distributed costs a second of import time that a round on threads never pays.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

from distributed import Client, Worker, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from pipeline.judge import ChatBackend, JudgeSettings, embedded_backend

Opener = Callable[[JudgeSettings], AbstractContextManager[ChatBackend]]
"""Opens a judge backend for the block it is entered for: `embedded_backend` (the round's embedded model,
started on its first cache miss), or a test's fake at the same boundary."""

logger = logging.getLogger(__name__)


class WorkerJudge(WorkerPlugin):
    """The judge backend of the Dask worker it is attached to: opened once, on the first `backend()` call.

    Each worker unpickles a copy of its own, so nothing is shared between workers; the batches a worker
    runs at once (its threads) share its backend, as the thread runner's tasks share the flow's.
    """

    def __init__(self, settings: JudgeSettings, opener: Opener = embedded_backend):
        self.settings = settings
        self.opener = opener
        self._lock = threading.Lock()
        self._stack: ExitStack | None = None
        self._backend: ChatBackend | None = None

    def __getstate__(self) -> dict[str, Any]:
        """What travels to the workers: the settings and the opener, never an opened backend or a lock."""
        return {"settings": self.settings, "opener": self.opener}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["settings"], state["opener"])  # type: ignore[misc]

    def backend(self) -> ChatBackend:
        """The backend of this worker, opened by the first batch that asks (under a lock: threads share it)."""
        with self._lock:
            if self._backend is None:
                stack = ExitStack()
                self._backend = stack.enter_context(self.opener(self.settings))
                self._stack = stack
            return self._backend

    def teardown(self, worker: Worker) -> None:
        """Close the backend (stops the embedded server): the plugin removed at the round's end, or the
        worker closing.
        """
        with self._lock:
            stack, self._stack, self._backend = self._stack, None, None
        if stack is not None:
            stack.close()


@contextmanager
def worker_judges(client: Client, settings: JudgeSettings, opener: Opener = embedded_backend) -> Iterator[str]:
    """A WorkerJudge on every worker of `client`'s cluster (and on any that joins) for the block; yields
    the plugin's name, which batches hand `worker_backend`. Removed when the block ends: each worker's
    judge is closed then, not left holding a machine's memory between nightly rounds.
    """
    name = f"gradeflow-judge-{uuid.uuid4().hex[:12]}"
    client.register_plugin(WorkerJudge(settings, opener), name=name)
    try:
        yield name
    finally:
        try:
            client.unregister_worker_plugin(name)
        except Exception as error:  # a cluster gone with the round: its workers' judges went with it
            logger.warning("could not remove the workers' judges (%s): %s", name, error)


def worker_backend(name: str) -> ChatBackend:
    """The judge backend of the worker running this task (its WorkerJudge `name`), opened on first use."""
    plugin = get_worker().plugins[name]
    if not isinstance(plugin, WorkerJudge):
        raise TypeError(f"worker plugin {name} is a {type(plugin).__name__}, not a WorkerJudge")
    return plugin.backend()
