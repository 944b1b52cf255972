"""OpenStack-style pagination of the list calls: ``limit``, ``marker``, ``sort_key``/``sort_dir`` in,
``<resource>_links`` with a ``next`` href out (present only when the page is full)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import flask

from t4o.common import config, errors
from t4o.db.api import SORT_KEYS, Page


def query(sort_keys: Sequence[str], marker_length: int = 36) -> dict[str, dict[str, Any]]:
    """Query parameters of a paginated list (merged into the spec's operations)."""
    return {
        "limit": {"type": "integer", "minimum": 1},
        "marker": {"type": "string", "maxLength": marker_length},
        "sort_key": {"type": "string", "enum": list(sort_keys)},
        "sort_dir": {"type": "string", "enum": ["asc", "desc"]},
    }


# The lists of workloads, snapshots and restores.
QUERY = query(SORT_KEYS)

LINKS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["rel", "href"],
        "properties": {"rel": {"type": "string"}, "href": {"type": "string"}},
    },
}


def page_from_query(query: dict[str, Any], sort: tuple[str, str] = ("created_at", "desc")) -> Page:
    """The page asked for, in ``sort`` (key, direction) order unless the query names another; a limit
    above [api] max_page_size is lowered to it, as Nova does."""
    config.ensure_registered()
    conf = config.CONF.api
    limit = min(query.get("limit") or conf.default_page_size, conf.max_page_size)
    return Page(
        limit=limit,
        marker=query.get("marker") or None,
        sort_key=query.get("sort_key") or sort[0],
        sort_dir=query.get("sort_dir") or sort[1],
    )


def links(resource: str, items: list[dict[str, Any]], page: Page, marker_key: str = "id") -> dict[str, Any]:
    """``{resource}_links`` with the next page's href when this page is full, else nothing; the next
    page's marker is the ``marker_key`` of this page's last item."""
    if page.limit is None or len(items) < page.limit or not items:
        return {}
    args = {k: v for k, v in flask.request.args.items() if k not in ("limit", "marker")}
    args.update(limit=str(page.limit), marker=items[-1][marker_key])
    return {f"{resource}_links": [{"rel": "next", "href": f"{flask.request.base_url}?{urlencode(args)}"}]}


def check_limit(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise errors.BadRequest(f"Query parameter limit must be a positive integer, not {raw!r}.") from exc
    if value < 1:
        raise errors.BadRequest(f"Query parameter limit must be a positive integer, not {raw!r}.")
    return value
