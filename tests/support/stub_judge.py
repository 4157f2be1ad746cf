"""A local OpenAI-compatible chat server that answers at once with a valid instance of the requested schema.

It stands in for the judge model where a test or benchmark measures everything *but* the model:
orchestration overhead, the flow, resume. It reads `response_format.json_schema.schema` from each request
and fills it deterministically (numbers at their maximum, strings from the last user message). A request
for `logprobs` gets one digit with the digits' top log-probabilities, the highest digit most likely.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def instance(schema: dict[str, Any], defs: dict[str, Any], text: str) -> Any:
    """A deterministic value that validates against a JSON Schema (the subset pydantic emits)."""
    if "$ref" in schema:
        return instance(defs[schema["$ref"].split("/")[-1]], defs, text)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return instance(options[0], defs, text)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        return {name: instance(sub, defs, text) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        count = max(schema.get("minItems", 1), 1)
        return [instance(schema.get("items", {}), defs, text) for _ in range(count)]
    if kind in ("number", "integer"):
        value = schema.get("maximum", schema.get("exclusiveMaximum", schema.get("minimum", 0)))
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return False
    words = text.split()
    quote = " ".join(words[-6:]) if words else "-"
    return quote[: schema.get("maxLength", 200)]


class _Handler(BaseHTTPRequestHandler):
    server: StubJudgeServer
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do: no TCP handshake per call
    disable_nagle_algorithm = True  # headers and body leave at once, no delayed-ACK stall

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, code: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "stub", "object": "model"}]})
        else:
            self._send(200, {"status": "ok"})

    def do_POST(self) -> None:  # noqa: N802
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if self.server.delay_s:
            time.sleep(self.server.delay_s)
        with self.server.lock:
            self.server.calls += 1
        messages = request.get("messages", [])
        text = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        if isinstance(text, list):
            text = " ".join(part.get("text", "") for part in text)
        fmt = request.get("response_format") or {}
        logprobs = None
        if request.get("logprobs"):
            top = [{"token": str(d), "logprob": -0.5 * (9 - d)} for d in range(9, -1, -1)]
            content = "9"
            logprobs = {"content": [{"token": content, "logprob": top[0]["logprob"], "top_logprobs": top}]}
        elif fmt.get("type") == "json_schema":
            schema = fmt["json_schema"]["schema"]
            content = json.dumps(instance(schema, schema.get("$defs", {}), text), ensure_ascii=False)
        else:
            content = "{}"
        self._send(
            200,
            {
                "id": f"stub-{self.server.calls}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model", "stub"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                        "logprobs": logprobs,
                    }
                ],
                "usage": {
                    "prompt_tokens": len(str(messages)) // 4,
                    "completion_tokens": len(content) // 4,
                    "total_tokens": (len(str(messages)) + len(content)) // 4,
                },
            },
        )


class StubJudgeServer(ThreadingHTTPServer):
    """Serve on a free loopback port in a daemon thread; `base_url` is what the judge settings take.

    `delay_s` makes each answer slow, so a test can kill a round while calls are in flight.
    """

    daemon_threads = True

    def __init__(self, *, delay_s: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.calls = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL of this server."""
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> StubJudgeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
