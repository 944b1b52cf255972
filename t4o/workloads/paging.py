"""The page a list call asks for (``limit``, ``marker``, ``sort_key``/``sort_dir``) and the keys each list
sorts by, for the REST layer, which reads them here rather than from the database layer."""

from __future__ import annotations

from typing import Any

from t4o.common import config
from t4o.db.api import SETTING_SORT_KEYS, SORT_KEYS, WORKLOAD_TYPE_SORT_KEYS, Page
from t4o.db.policy_api import NODE_SORT_KEYS, POLICY_SORT_KEYS, QUOTA_SORT_KEYS, RUN_SORT_KEYS

__all__ = [
    "NODE_SORT_KEYS",
    "POLICY_SORT_KEYS",
    "QUOTA_SORT_KEYS",
    "RUN_SORT_KEYS",
    "SETTING_SORT_KEYS",
    "SORT_KEYS",
    "WORKLOAD_TYPE_SORT_KEYS",
    "Page",
    "page",
]


def page(query: dict[str, Any], sort: tuple[str, str] = ("created_at", "desc")) -> Page:
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
