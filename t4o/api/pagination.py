"""OpenStack-style pagination of the list calls: ``limit``, ``marker``, ``sort_key``/``sort_dir`` in
(t4o.workloads.paging turns them into a page), ``<resource>_links`` with a ``next`` href out (present only
when the page is full)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import flask

from t4o.common import errors
from t4o.workloads.paging import Page


def links(resource: str, items: list[dict[str, Any]], page: Page, marker_key: str = "id") -> dict[str, Any]:
    """``{resource}_links`` with the next page's href when this page is full, else nothing; the next
    page's marker is the ``marker_key`` of this page's last item."""
    if page.limit is None or len(items) < page.limit or not items:
        return {}
    args = {k: v for k, v in flask.request.args.items() if k not in ("limit", "marker")}
    args.update(limit=str(page.limit), marker=items[-1][marker_key])
    return {f"{resource}_links": [{"rel": "next", "href": f"{flask.request.base_url}?{urlencode(args)}"}]}


def listing(key: str, items: list[dict[str, Any]], page: Page, marker_key: str = "id") -> dict[str, Any]:
    """A list response: the items under ``key`` and, when the page is full, the next page's link."""
    return {key: items, **links(key, items, page, marker_key)}


def check_limit(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise errors.BadRequest(f"Query parameter limit must be a positive integer, not {raw!r}.") from exc
    if value < 1:
        raise errors.BadRequest(f"Query parameter limit must be a positive integer, not {raw!r}.")
    return value
