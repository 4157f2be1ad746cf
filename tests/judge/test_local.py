"""The embedded model's assembly (checksums, clear errors) and the server's lifecycle with a fake binary."""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from pipeline.judge import (
    JudgeSettings,
    LocalChat,
    LocalModelError,
    _local,
    assemble_model,
    embedded_backend,
    local_server,
    open_judge,
)
from pipeline.judge._outage import JudgeUnavailable

FAKE_SERVER = f"""#!{sys.executable}
import http.server, json, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b'{{"status": "ok"}}')
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({{"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                           "choices": [{{"index": 0, "finish_reason": "stop",
                                        "message": {{"role": "assistant", "content": "{{}}"}}}}]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("fake llama-server on", port, flush=True)
http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""
BROKEN_SERVER = f"""#!{sys.executable}
import sys
print("error: failed to load model 'x.gguf'", flush=True)
sys.exit(3)
"""


def parts(tmp_path: Path, chunks: list[bytes]) -> list[Path]:
    paths = []
    for number, chunk in enumerate(chunks, start=1):
        path = tmp_path / f"part{number:02d}.bin"
        path.write_bytes(chunk)
        paths.append(path)
    return paths


def test_assembles_parts_in_order_and_verifies(tmp_path):
    chunks = [b"GGUF", b"-weights-", b"end"]
    blob = b"".join(chunks)
    model = assemble_model(
        tmp_path / "models", parts=parts(tmp_path, chunks), expected_size=len(blob),
        expected_sha256=hashlib.sha256(blob).hexdigest(), file_name="m.gguf",
    )  # fmt: skip
    assert model.read_bytes() == blob


def test_wrong_size_is_a_clear_error_and_leaves_no_file(tmp_path):
    with pytest.raises(LocalModelError, match=r"is 7 bytes, expected 8") as error:
        assemble_model(tmp_path / "models", parts=parts(tmp_path, [b"abc", b"defg"]), expected_size=8,
                       expected_sha256="0" * 64, file_name="m.gguf")  # fmt: skip
    assert "reinstall gradeflow[local]" in str(error.value)
    assert list((tmp_path / "models").iterdir()) == []


def test_wrong_checksum_is_a_clear_error_and_leaves_no_file(tmp_path):
    with pytest.raises(LocalModelError, match=r"has sha256 [0-9a-f]{64}, expected 0{64}"):
        assemble_model(tmp_path / "models", parts=parts(tmp_path, [b"abc"]), expected_size=3,
                       expected_sha256="0" * 64, file_name="m.gguf")  # fmt: skip
    assert list((tmp_path / "models").iterdir()) == []


def test_missing_part_file_is_named(tmp_path):
    with pytest.raises(LocalModelError, match=r"part02\.bin"):
        assemble_model(tmp_path / "models", parts=[*parts(tmp_path, [b"a"]), tmp_path / "part02.bin"],
                       expected_size=2, expected_sha256="0" * 64, file_name="m.gguf")  # fmt: skip


def test_missing_part_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(_local.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LocalModelError, match=r"part 7 of 22 is not installed.*\.\[local\]"):
        _local.part_path(7)


def _settings(tmp_path: Path, script: str, monkeypatch) -> JudgeSettings:
    binary = tmp_path / "llama-server"
    binary.write_text(script)
    binary.chmod(0o755)
    monkeypatch.setattr(_local, "assemble_model", lambda directory: tmp_path / "m.gguf")
    return JudgeSettings(local_model_dir=tmp_path, local_server_binary=binary, local_startup_timeout_s=20)


def test_server_starts_on_a_free_loopback_port_and_stops_on_exit(tmp_path, monkeypatch):
    settings = _settings(tmp_path, FAKE_SERVER, monkeypatch)
    with local_server(settings) as server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
        assert httpx.get(server.base_url.removesuffix("/v1") + "/health").status_code == 200
        assert server.process.poll() is None
    assert server.process.poll() is not None
    assert not server.log_file.exists()


def test_server_is_stopped_when_the_body_raises(tmp_path, monkeypatch):
    settings = _settings(tmp_path, FAKE_SERVER, monkeypatch)
    with pytest.raises(RuntimeError, match="boom"), local_server(settings) as server:
        raise RuntimeError("boom")
    assert server.process.poll() is not None


def test_server_that_dies_while_starting_is_reported_with_its_log(tmp_path, monkeypatch):
    settings = _settings(tmp_path, BROKEN_SERVER, monkeypatch)
    with pytest.raises(LocalModelError, match=r"exited with code 3(.|\n)*failed to load model"):
        with local_server(settings):
            pass


def test_a_server_build_the_cpu_cannot_run_is_told_apart_and_says_how_to_rebuild(tmp_path, monkeypatch):
    """A build for instructions the machine faults on (AMX on some VMs) dies by a signal as it starts."""
    crashing = "#!/bin/sh\necho 'llama threadpool init, n_threads = 2' >&2\nkill -SEGV $$\n"
    settings = _settings(tmp_path, crashing, monkeypatch)
    expected = r"code -11 while starting; killed by SIGSEGV(.|\n)*make setup(.|\n)*threadpool"
    with pytest.raises(LocalModelError, match=expected):
        with local_server(settings):
            pass


def test_missing_binary_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(_local, "assemble_model", lambda directory: tmp_path / "m.gguf")
    settings = JudgeSettings(local_model_dir=tmp_path, local_server_binary=tmp_path / "nope")
    with pytest.raises(LocalModelError, match="missing or not executable"), local_server(settings):
        pass


def _ask(chat: LocalChat) -> str:
    messages = [{"role": "user", "content": "hi"}]
    return chat.complete(messages, schema={}, schema_name="j", temperature=0, seed=0, max_tokens=5).content


def test_local_chat_starts_the_server_on_the_first_call_only_and_stops_it_on_close(tmp_path, monkeypatch):
    chat = LocalChat(_settings(tmp_path, FAKE_SERVER, monkeypatch))
    assert chat.server is None  # a fully cached run never pays for the start
    assert _ask(chat) == "{}" and _ask(chat) == "{}"
    server = chat.server
    assert server is not None and server.process.poll() is None
    chat.close()
    assert server.process.poll() is not None


def test_local_chat_reports_a_failed_start_on_every_call(tmp_path, monkeypatch):
    """A server that cannot start leaves the items waiting (a ChatCallError), never a crash of the round."""
    chat = LocalChat(_settings(tmp_path, BROKEN_SERVER, monkeypatch))
    for _ in range(2):
        with pytest.raises(JudgeUnavailable, match="judge unavailable: llama-server exited with code 3"):
            _ask(chat)
    chat.close()


SLOW_SERVER = FAKE_SERVER.replace("import http.server,", "import time, http.server,").replace(
    "        self.rfile.read(", "        time.sleep(1.0); self.rfile.read("
)


def _in_flight(chat: LocalChat) -> tuple[threading.Thread, list[str]]:
    answers: list[str] = []
    thread = threading.Thread(target=lambda: answers.append(_ask(chat)))
    thread.start()
    time.sleep(0.3)  # the request is inside the server's one-second answer
    return thread, answers


def test_a_killed_server_is_restarted_on_its_port_and_the_call_in_flight_is_sent_again(tmp_path, monkeypatch):
    settings = _settings(tmp_path, SLOW_SERVER, monkeypatch).model_copy(update={"max_retries": 0})
    chat = LocalChat(settings)  # no SDK retries: the resend is the supervisor's
    chat.supervisor.first_backoff_s = 0.1
    assert _ask(chat) == "{}"
    first = chat.server
    assert first is not None
    thread, answers = _in_flight(chat)
    first.process.kill()
    thread.join(timeout=60)
    assert answers == ["{}"]
    second = chat.server
    assert second is not None and second.process.pid != first.process.pid
    assert second.base_url == first.base_url  # clients elsewhere (Dask workers) keep their URL
    assert chat.supervisor.restarts == 1
    chat.close()
    assert second.process.poll() is not None


def test_a_server_that_keeps_dying_is_given_up_after_the_bound(tmp_path, monkeypatch):
    settings = _settings(tmp_path, SLOW_SERVER, monkeypatch)
    settings = settings.model_copy(update={"local_max_restarts": 1, "max_retries": 0})
    chat = LocalChat(settings)
    chat.supervisor.first_backoff_s = 0.1
    for _ in range(2):
        assert _ask(chat) == "{}"
        chat.server.process.kill()
        chat.server.process.wait()
    with pytest.raises(JudgeUnavailable, match=r"died 2 times .*LOCAL_MAX_RESTARTS=1"):
        _ask(chat)
    with pytest.raises(JudgeUnavailable):  # and at once for every later call
        _ask(chat)
    chat.close()


def test_judges_opened_on_the_embedded_backend_share_one_lazily_started_server(tmp_path, monkeypatch):
    settings = _settings(tmp_path, FAKE_SERVER, monkeypatch)
    with embedded_backend(settings) as shared:
        with open_judge(settings, backend=shared) as first, open_judge(settings, backend=shared) as second:
            assert first.backend is second.backend is shared
            assert shared.server is None  # nothing asked yet: no model loaded
        _ask(shared)
        server = shared.server
        with open_judge(settings, backend=shared) as third:  # a later task reuses the running server
            assert third.backend.server is server
        assert server.process.poll() is None  # closing a task's judge leaves the shared server up
    assert server.process.poll() is not None
    with open_judge(settings) as alone:  # without it: a judge of its own
        assert alone.backend is not shared
