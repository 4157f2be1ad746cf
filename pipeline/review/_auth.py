"""Who may grade: reviewers named in `reviewers.yaml` with hashed one-time tokens, signed-cookie sessions, CSRF.

A login token is 32 random bytes, so a plain SHA-256 of it is as good as a slow password hash (nothing
to guess); only the hash is written down, and a token logs in once. The session cookie is signed with a
secret kept beside the store (mode 0600), so sessions survive a restart of the station. Every form
carries a CSRF token derived from the session id, checked on every POST.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.files import write_atomic

REVIEWERS_FILE = "reviewers.yaml"
SECRET_FILE = ".review-secret"
NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
SESSION_MAX_AGE_S = 12 * 3600
"""A session ends this long after its login (checked by the server's session table, not only the cookie)."""


class AuthError(Exception):
    """A reviewers file or name that cannot be used; the message says which and why."""


class Reviewer(BaseModel):
    """One entry of reviewers.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME.pattern)
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ReviewersFile(BaseModel):
    """reviewers.yaml: the people who may grade."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reviewers: list[Reviewer] = Field(default_factory=list)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_reviewers(path: str | Path) -> dict[str, Reviewer]:
    """Reviewer name → entry; a missing file means nobody may grade yet."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = ReviewersFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as error:
        raise AuthError(f"{path}: {error}") from None
    return {r.name: r for r in data.reviewers}


def add_reviewer(path: str | Path, name: str) -> str:
    """Add a reviewer (or give one a new token, voiding the old); returns the token, which is not stored."""
    if not NAME.match(name):
        raise AuthError(f"reviewer name {name!r}: use 1–40 letters, digits, '.', '_' or '-'")
    path = Path(path)
    reviewers = load_reviewers(path)
    token = secrets.token_urlsafe(32)
    reviewers[name] = Reviewer(name=name, token_sha256=hash_token(token))
    data = ReviewersFile(reviewers=sorted(reviewers.values(), key=lambda r: r.name))
    write_atomic(path, yaml.safe_dump(data.model_dump(), sort_keys=False))
    return token


def load_secret(path: str | Path) -> bytes:
    """The station's signing secret, created on first use (readable by its owner only)."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(staging, path)  # first writer wins; a racing station reads the winner's secret
        except FileExistsError:
            pass
        staging.unlink()
    return bytes.fromhex(path.read_text().strip())


@dataclass(frozen=True)
class Session:
    """A browser's session: a random id (CSRF is derived from it), the reviewer once logged in, the mode."""

    sid: str
    reviewer: str | None = None
    mode: str = "review"


class Sessions:
    """Signed session cookies and CSRF tokens."""

    COOKIE = "gradeflow_review"

    def __init__(self, secret: bytes):
        self._secret = secret
        self._serializer = URLSafeTimedSerializer(secret, salt="gradeflow-review-session")

    def new(self, reviewer: str | None = None, mode: str = "review") -> Session:
        return Session(sid=secrets.token_urlsafe(16), reviewer=reviewer, mode=mode)

    def dumps(self, session: Session) -> str:
        return self._serializer.dumps([session.sid, session.reviewer, session.mode])

    def loads(self, cookie: str | None) -> Session | None:
        """The session of a cookie; None when absent, tampered with or expired."""
        if not cookie:
            return None
        try:
            sid, reviewer, mode = self._serializer.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except (BadSignature, ValueError, TypeError):
            return None
        return Session(sid=sid, reviewer=reviewer, mode=mode)

    def csrf(self, session: Session) -> str:
        return hmac.new(self._secret, f"csrf:{session.sid}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(self.csrf(session), token)
