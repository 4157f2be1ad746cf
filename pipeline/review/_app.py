"""HTTP: server-rendered pages (Jinja2, autoescaped) over the station; a small script for keyboard grading.

Every POST checks the session's CSRF token; every refusal is a page that says what was wrong and that
nothing was saved. Cookies are HttpOnly and SameSite=Strict; the login token leaves no Referer behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote as url_quote
from urllib.parse import unquote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pipeline.review._auth import AuthError, Session
from pipeline.review._explain import ItemExplanation
from pipeline.review._round import MODES, ItemView
from pipeline.review._station import FormError, Station
from pipeline.review._store import StaleForm

_HERE = Path(__file__).parent
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["pts"] = lambda v: "—" if v is None else f"{v:g}"
_ENV.filters["num"] = lambda v, d=2: "—" if v is None else f"{v:.{d}f}"
_ENV.filters["seg"] = lambda v: url_quote(v, safe="")
_SCRIPTS = {name: (_HERE / "static" / name).read_text(encoding="utf-8") for name in ("keys.js", "explain.js")}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def highlight(answer: str, quotes: dict[str, str]) -> list[tuple[str, str]]:
    """Split the answer into (text, criterion id or "") segments, marking each quote's first occurrence."""
    spans = []
    for criterion_id, quote in quotes.items():
        quote = quote.strip()
        start = answer.find(quote) if quote else -1
        if start >= 0:
            spans.append((start, start + len(quote), criterion_id))
    segments, at = [], 0
    for start, end, criterion_id in sorted(spans):
        if start < at:  # overlaps a span already marked
            continue
        segments += [(answer[at:start], ""), (answer[start:end], criterion_id)]
        at = end
    segments.append((answer[at:], ""))
    return [s for s in segments if s[0]]


def item_path(submission_id: str, question_id: str, prefix: str = "/item") -> str:
    """An item's URL, each id quoted whole (an id may hold '/', '?', '#' or '%')."""
    return f"{prefix}/{url_quote(submission_id, safe='')}/{url_quote(question_id, safe='')}"


def _path_key(request: Request, prefix: str) -> tuple[str, str] | None:
    """(submission, question) of a quoted item URL, read from the raw path (a decoded '%2F' is ambiguous)."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    parts = raw.decode("latin-1").split("?")[0].removeprefix(prefix + "/").split("/")
    return (unquote(parts[0]), unquote(parts[1])) if len(parts) == 2 else None


def build_app(station: Station, *, allowed_hosts: Sequence[str] = LOOPBACK_HOSTS) -> Starlette:
    """The ASGI app of one station; requests naming another Host are refused (DNS rebinding)."""
    sessions = station.sessions

    def session_of(request: Request) -> Session:
        session = sessions.loads(request.cookies.get(sessions.COOKIE))
        if session is not None and session.reviewer is not None and not station.session_live(session.sid,
                                                                                              session.reviewer):
            session = None  # logged out, expired, a newer token issued, or removed from reviewers.yaml
        return session or sessions.new()

    def page(request: Request, session: Session, template: str, status: int = 200, **context: object) -> Response:
        html = _ENV.get_template(template).render(
            session=session,
            csrf=sessions.csrf(session),
            round_id=station.view.round_id,
            modes=MODES,
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers=_HEADERS)
        remember(response, session)
        return response

    def remember(response: Response, session: Session) -> None:
        response.set_cookie(sessions.COOKIE, sessions.dumps(session), httponly=True, samesite="strict")

    def message(request: Request, session: Session, status: int, title: str, text: str) -> Response:
        return page(request, session, "message.html", status=status, title=title, text=text)

    def redirect(url: str, session: Session) -> Response:
        response = RedirectResponse(url, status_code=303, headers=_HEADERS)
        remember(response, session)
        return response

    async def checked_form(request: Request, session: Session) -> dict[str, str] | Response:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not sessions.csrf_ok(session, fields.get("csrf")):
            return message(request, session, 403, "Form expired",
                           "This form does not belong to your current session (expired or forged). "
                           "Nothing was saved: reload the page and try again.")
        return fields

    def filters(source: dict[str, str]) -> dict[str, str]:
        return {k: source[k] for k in ("question", "reason", "by") if source.get(k)}

    async def queue(request: Request) -> Response:
        session = session_of(request)
        if session.reviewer is None:
            return message(request, session, 401, "Sign in",
                           "Open the login link `gradeflow review add-reviewer NAME` printed for you.")
        chosen = filters(dict(request.query_params))
        state = station.queue(session.reviewer, session.mode, **chosen)
        calibration = station.calibration_queue(session.reviewer, question=chosen.get("question", ""),
                                                reason=chosen.get("reason", ""))
        return page(request, session, "queue.html", queue=state, filters=chosen, agreement=station.agreement(),
                    calibration=calibration if not chosen.get("by") else None,
                    saved=request.query_params.get("saved", ""), empty=bool(request.query_params.get("empty")),
                    reviewers=sorted(station.reviewers()), double_share=station.view.double_share)

    async def next_item(request: Request) -> Response:
        session = session_of(request)
        if session.reviewer is None:
            return redirect("/", session)
        chosen = filters(dict(request.query_params))
        item = station.next_item(session.reviewer, session.mode, question=chosen.get("question", ""),
                                 reason=chosen.get("reason", ""))
        saved = {"saved": request.query_params["saved"]} if request.query_params.get("saved") else {}
        if item is None:
            return redirect("/?" + urlencode(chosen | saved | {"empty": "1"}), session)
        return redirect(item_path(item.submission_id, item.question_id) + "?" + urlencode(chosen | saved), session)

    def find(request: Request, prefix: str = "/item") -> ItemView | None:
        key = _path_key(request, prefix)
        return station.view.items.get(key) if key else None

    def explanation_of(item: ItemView, blind: bool) -> ItemExplanation:
        """The item's explanations, asked for in the background when missing (never in blind mode)."""
        if blind or station.explainer is None:
            return ItemExplanation("none")
        return station.explainer.request(item)

    def item_page(request: Request, session: Session, item: ItemView, status: int = 200, error: str = "",
                  chosen: dict[str, str] | None = None) -> Response:
        assert session.reviewer is not None
        blocking = station.holders_blocking(item, session.reviewer)
        mine = station.my_latest(item, session.reviewer)
        blind = station.blind_for(item, session.mode)
        prefill: dict[str, float | None] = {e.criterion_id: e.points for e in mine}
        if not mine and not blind:
            prefill = {cid: j.points for cid, j in item.judge.items()}
        explanation = explanation_of(item, blind)
        quotes = {} if blind else {cid: j.evidence for cid, j in item.judge.items() if j.evidence}
        quotes |= {cid: e.evidence for cid, e in explanation.criteria.items() if e.evidence}
        return page(
            request, session, "item.html", status=status,
            item=item,
            question=station.view.questions[item.question_id],
            question_sha=station.view.question_shas[item.question_id],
            criteria=station.view.criteria(item.question_id),
            segments=highlight(item.answer, quotes),
            explanation=explanation,
            item_url=item_path(item.submission_id, item.question_id),
            explanation_url=item_path(item.submission_id, item.question_id, "/explanation"),
            prefill=prefill,
            blind=blind,
            calibration=blind and session.mode != "blind",
            blocking=sorted(blocking),
            mine=mine,
            version=max((e.seq for e in mine), default=0),  # the reviewer's last seq on the item
            form_id=uuid.uuid4().hex,
            error=error,
            filters=chosen if chosen is not None else filters(dict(request.query_params)),
            saved=request.query_params.get("saved", ""),
        )

    async def show_item(request: Request) -> Response:
        session = session_of(request)
        if session.reviewer is None:
            return redirect("/", session)
        item = find(request)
        if item is None:
            return message(request, session, 404, "No such item",
                           f"Round {station.view.round_id} has no item {request.path_params['rest']} to review.")
        return item_page(request, session, item)

    async def grade(request: Request) -> Response:
        session = session_of(request)
        fields = await checked_form(request, session)
        if isinstance(fields, Response):
            return fields
        if session.reviewer is None:
            return message(request, session, 401, "Signed out", "Sign in again; nothing was saved.")
        item = find(request)
        if item is None:
            return message(request, session, 404, "No such item",
                           "The form names an item this round does not have; nothing was saved.")
        chosen = filters(fields)
        try:
            parsed = station.parse_form(item, fields)
            if not station.store.has_form(parsed.form_id, session.reviewer):
                blocking = station.holders_blocking(item, session.reviewer)
                if blocking:
                    raise FormError(f"this item is assigned to {', '.join(sorted(blocking))}")
                # a calibration item is graded blind whatever the reviewer's mode: the log says so
                mode = "blind" if station.blind_for(item, session.mode) else session.mode
                station.save(item, session.reviewer, mode, parsed)
        except (FormError, StaleForm) as error:
            status = 409 if isinstance(error, StaleForm) else 400
            return item_page(request, session, item, status=status, error=f"{error}. Nothing was saved.",
                             chosen=chosen)
        return redirect("/next?" + urlencode(chosen | {"saved": f"{item.submission_id} / {item.question_id}"}),
                        session)

    async def login_form(request: Request) -> Response:
        session = session_of(request)
        return page(request, session, "login.html", token=request.query_params.get("token", ""))

    async def login(request: Request) -> Response:
        session = session_of(request)
        fields = await checked_form(request, session)
        if isinstance(fields, Response):
            return fields
        fresh = sessions.new(mode=session.mode)
        name = station.login(fields.get("token", ""), fresh.sid)
        if name is None:
            return message(request, session, 403, "Login link not valid",
                           "This login link is unknown or was used already. Ask for a new one "
                           "(gradeflow review add-reviewer NAME).")
        return redirect("/", Session(sid=fresh.sid, reviewer=name, mode=session.mode))

    async def logout(request: Request) -> Response:
        session = session_of(request)
        fields = await checked_form(request, session)
        if isinstance(fields, Response):
            return fields
        station.store.end_session(session.sid)
        return redirect("/", sessions.new())

    async def set_mode(request: Request) -> Response:
        session = session_of(request)
        fields = await checked_form(request, session)
        if isinstance(fields, Response):
            return fields
        mode = fields.get("mode", "")
        if mode not in MODES:
            return message(request, session, 400, "Unknown mode", f"Modes are {', '.join(MODES)}; nothing changed.")
        return redirect("/", Session(sid=session.sid, reviewer=session.reviewer, mode=mode))

    async def script(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _SCRIPTS:
            return Response("not found", status_code=404, headers=_HEADERS)
        return Response(_SCRIPTS[name], media_type="text/javascript", headers=_HEADERS)

    def explanation_json(explanation: ItemExplanation) -> Response:
        return JSONResponse({"state": explanation.state, "error": explanation.error,
                             "criteria": {cid: asdict(e) for cid, e in explanation.criteria.items()}},
                            headers=_HEADERS)

    async def explanation(request: Request) -> Response:
        """The item's explanations as JSON (the page polls it while they are generated)."""
        session = session_of(request)
        item = find(request, "/explanation")
        if session.reviewer is None or item is None:
            return JSONResponse({"error": "sign in" if item else "no such item"},
                                status_code=401 if session.reviewer is None else 404, headers=_HEADERS)
        return explanation_json(explanation_of(item, station.blind_for(item, session.mode)))

    async def retry_explanation(request: Request) -> Response:
        session = session_of(request)
        fields = await checked_form(request, session)
        if isinstance(fields, Response):
            return fields
        item = find(request, "/explanation")
        if (session.reviewer is None or item is None or station.explainer is None
                or station.blind_for(item, session.mode)):
            return JSONResponse({"error": "nothing to explain"}, status_code=400, headers=_HEADERS)
        return explanation_json(station.explainer.request(item, retry=True))

    async def health(request: Request) -> Response:
        """Liveness and the export's progress for anyone; the round's id and size only for a reviewer."""
        state: dict[str, object] = {"status": "ok", "exported_seq": station.exporter.exported_seq}
        if session_of(request).reviewer is not None:
            state |= {"round_id": station.view.round_id, "items": len(station.view.items)}
        return JSONResponse(state, headers=_HEADERS)

    async def broken_reviewers(request: Request, error: Exception) -> Response:
        return HTMLResponse(_ENV.get_template("message.html").render(
            session=sessions.new(), csrf="", round_id=station.view.round_id, modes=MODES,
            title="Reviewers file broken", text=f"{error} (fix the file; nothing was saved)."), status_code=500)

    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))]
    return Starlette(middleware=middleware, exception_handlers={AuthError: broken_reviewers}, routes=[
        Route("/", queue),
        Route("/next", next_item),
        Route("/item/{rest:path}", show_item, methods=["GET"]),
        Route("/item/{rest:path}", grade, methods=["POST"]),
        Route("/explanation/{rest:path}", explanation, methods=["GET"]),
        Route("/explanation/{rest:path}", retry_explanation, methods=["POST"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/mode", set_mode, methods=["POST"]),
        Route("/static/{name}", script),
        Route("/healthz", health),
    ])
