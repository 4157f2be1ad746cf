"""A llama-server stand-in that runs as a process of its own, so a test can kill it like the real one.

It takes llama-server's command line (only --port matters), answers /health with 503 while "loading" for
FAKE_LLAMA_LOAD_S seconds and 200 after, and serves chat completions with the stub judge's answers
(tests/support/stub_judge.py), each FAKE_LLAMA_DELAY_S late. Every process appends its pid to
FAKE_LLAMA_PIDS when it starts, and every answered request appends the sha256 of its body to
FAKE_LLAMA_LOG once the reply is sent: across kills and restarts the test sees which requests were
answered, and how often.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from stub_judge import _Handler  # noqa: E402

LOADED_AT = time.monotonic() + float(os.environ.get("FAKE_LLAMA_LOAD_S", "0.3"))
LOG = os.environ.get("FAKE_LLAMA_LOG")
LOG_LOCK = threading.Lock()


class _Fake(_Handler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/").endswith("/health") and time.monotonic() < LOADED_AT:
            self._send(503, {"error": {"code": 503, "message": "Loading model"}})
        else:
            super().do_GET()

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if time.monotonic() < LOADED_AT:
            self._send(503, {"error": {"code": 503, "message": "Loading model"}})
            return
        self.rfile = io.BytesIO(body)
        super().do_POST()
        self.wfile.flush()
        if LOG:
            with LOG_LOCK, open(LOG, "a", encoding="utf-8") as log:
                log.write(hashlib.sha256(body).hexdigest() + "\n")


def main(argv: list[str]) -> None:
    """Serve on --port until killed."""
    port = int(argv[argv.index("--port") + 1])
    server = ThreadingHTTPServer(("127.0.0.1", port), _Fake)
    server.daemon_threads = True
    server.delay_s = float(os.environ.get("FAKE_LLAMA_DELAY_S", "0"))  # type: ignore[attr-defined]
    server.lock = threading.Lock()  # type: ignore[attr-defined]
    server.calls = 0  # type: ignore[attr-defined]
    if os.environ.get("FAKE_LLAMA_PIDS"):
        with open(os.environ["FAKE_LLAMA_PIDS"], "a", encoding="utf-8") as pids:
            pids.write(f"{os.getpid()}\n")
    print(f"fake llama-server on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
