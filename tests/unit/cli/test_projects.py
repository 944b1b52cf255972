"""Project names to IDs through Keystone (the identity adapter mocked out)."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from keystoneauth1 import exceptions as ksa_exc

from t4o.client import exceptions as exc
from t4o.client.projects import ProjectResolver


def answer(status: int, body: Any = None) -> mock.Mock:
    return mock.Mock(status_code=status, json=mock.Mock(return_value=body))


def resolver(*answers: Any) -> tuple[ProjectResolver, mock.Mock]:
    identity = mock.Mock()
    identity.get.side_effect = list(answers)
    res = ProjectResolver(mock.Mock(), keystone=True)
    res._identity = identity
    return res, identity


def test_an_id_keystone_knows_stays() -> None:
    res, identity = resolver(answer(200, {"project": {"id": "abc"}}))
    assert res.id_of("abc") == "abc" and identity.get.call_count == 1


def test_a_name_becomes_its_id() -> None:
    res, identity = resolver(answer(404), answer(200, {"projects": [{"id": "p-1", "name": "demo"}]}))
    assert res.id_of("demo") == "p-1"
    assert identity.get.call_args.kwargs["params"] == {"name": "demo"}


def test_unknown_forbidden_or_unreachable_keeps_the_value() -> None:
    assert resolver(answer(404), answer(200, {"projects": []}))[0].id_of("x") == "x"
    assert resolver(answer(403), answer(403))[0].id_of("x") == "x"
    assert resolver(ksa_exc.EndpointNotFound())[0].id_of("x") == "x"


def test_same_name_in_two_domains_is_ambiguous() -> None:
    res, _ = resolver(answer(404), answer(200, {"projects": [{"id": "a"}, {"id": "b"}]}))
    with pytest.raises(exc.AmbiguousName, match=r"2 projects are named 'demo' \(a, b\)"):
        res.id_of("demo")


def test_without_keystone_nothing_is_asked() -> None:
    res = ProjectResolver(mock.Mock(), keystone=False)
    res._identity = mock.Mock()
    assert res.id_of("demo") == "demo" and not res._identity.get.called
