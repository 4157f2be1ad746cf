"""A reviewer driving the station over HTTP, the way a browser would: cookies, CSRF, forms, redirects.

Works with Starlette's TestClient (in process) and with an httpx.Client against a real server.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import unquote

import httpx

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_RADIO = re.compile(r'<input type="radio" name="c:([^"]+)" value="([^"]+)"( checked)?')


@dataclass(frozen=True)
class ItemForm:
    """The grade form of an item page as rendered."""

    path: str
    hidden: dict[str, str]
    allowed: dict[str, list[str]]
    checked: dict[str, str]

    @property
    def item(self) -> tuple[str, str]:
        _, _, sid, qid = self.path.split("/")
        return (sid, qid)

    @property
    def item_key(self) -> tuple[str, str]:
        """The item's ids, unquoted from its URL."""
        return (unquote(self.item[0]), unquote(self.item[1]))


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def parse_item(path: str, page: str) -> ItemForm:
    allowed: dict[str, list[str]] = {}
    checked: dict[str, str] = {}
    for cid, value, is_checked in _RADIO.findall(page):
        allowed.setdefault(html.unescape(cid), []).append(value)
        if is_checked:
            checked[html.unescape(cid)] = value
    start = page.index('id="grade-form"')
    return ItemForm(path=path, hidden=hidden_fields(page[start:]), allowed=allowed, checked=checked)


class ReviewerClient:
    """One reviewer's browser session."""

    def __init__(self, client: httpx.Client):
        self.client = client

    def login(self, token: str) -> httpx.Response:
        page = self.client.get("/login", params={"token": token})
        fields = hidden_fields(page.text)
        return self.client.post("/login", data={"csrf": fields["csrf"], "token": token}, follow_redirects=True)

    def csrf(self) -> str:
        return hidden_fields(self.client.get("/").text)["csrf"]

    def open(self, path: str) -> ItemForm:
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        return parse_item(path, page.text)

    def open_next(self, **filters: str) -> ItemForm | None:
        """Follow /next to the next item; None when the queue is empty."""
        response = self.client.get("/next", params=filters, follow_redirects=False)
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        if not location.startswith("/item/"):
            return None
        return self.open(location.split("?")[0])

    def submit(self, form: ItemForm, points: dict[str, str] | None = None, **fields: str) -> httpx.Response:
        """Post the form with the given points (default: what the page pre-filled, else each criterion's max)."""
        chosen = {cid: values[-1] for cid, values in form.allowed.items()} | form.checked | (points or {})
        data = form.hidden | {f"c:{cid}": value for cid, value in chosen.items()} | fields
        return self.client.post(form.path, data=data, follow_redirects=False)
