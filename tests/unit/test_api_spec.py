"""t4o.api.spec: the operation table, the OpenAPI document generated from it, and docs/openapi.yaml."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

from t4o.api import spec

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def test_operations_are_unique_and_have_handlers() -> None:
    ids = [op.operation_id for op in spec.OPERATIONS]
    assert len(ids) == len(set(ids))
    routes = [(op.method, op.full_path) for op in spec.OPERATIONS]
    assert len(routes) == len(set(routes))
    for op in spec.OPERATIONS:
        assert callable(op.handler), op.operation_id
        assert op.handler.__module__.startswith("t4o.api.handlers."), op.operation_id


def test_body_schemas_are_valid_json_schema() -> None:
    for op in spec.OPERATIONS:
        if op.body is not None:
            jsonschema.Draft202012Validator.check_schema(op.body)
        if op.response is not None:
            jsonschema.Draft202012Validator.check_schema(op.response)


def test_links_point_to_existing_operations() -> None:
    ids = {op.operation_id for op in spec.OPERATIONS}
    for op in spec.OPERATIONS:
        for target, _params in op.links.values():
            assert target in ids


def test_trilio_paths_are_present() -> None:
    paths = spec.openapi()["paths"]
    assert "post" in paths["/v1/{project_id}/workloads/{workload_id}"]  # snapshot
    assert "post" in paths["/v1/{project_id}/snapshots/{snapshot_id}"]  # restore
    assert "get" in paths["/v1/{project_id}/restores/{restore_id}/cancel"]


def test_docs_copy_is_current() -> None:
    """docs/openapi.yaml is regenerated with `workloadmgr-manage openapi --output docs/openapi.yaml`."""
    assert yaml.safe_load(DOC.read_text()) == spec.openapi()
