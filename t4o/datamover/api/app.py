"""datamover-api: REST front of the datamover agents, for services only (admin or service role).

    POST   /v2/transfers                          start a backup or restore of one VM's disks: 202
    GET    /v2/servers/{server_id}/host           the compute host a transfer of the server would run on
    GET    /v2/hosts/{host}/transfers/{id}        status and byte progress of a transfer
    DELETE /v2/hosts/{host}/transfers/{id}        cancel it: 202
    POST   /v2/mounts                             attach a snapshot's disks read-only to a running VM
    GET    /v2/hosts/{host}/mounts                the live mounts of a host
    GET    /v2/hosts/{host}/mounts/{id}           a mount, with the time of its last disk read
    DELETE /v2/hosts/{host}/mounts/{id}           detach its disks (dismount)

The API finds the VM's compute host (Nova's ``OS-EXT-SRV-ATTR:host``, read with the caller's token) and
hands the transfer or mount to that host's agent over RPC; the host is part of their address.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import flask
from oslo_config import cfg
from oslo_middleware import request_id
from oslo_policy import policy as oslo_policy

from t4o.common import errors, policy, rest, rest_auth
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.datamover.api.rpcapi import AgentAPI
from t4o.openstack.nova import NovaCloud

LOG = get_logger(__name__)
RULE = "datamover:api"
RULES = [
    oslo_policy.RuleDefault(
        RULE, "role:admin or role:service", description="Use the datamover API (services only)."
    )
]
HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
ID_RE = re.compile(r"^[0-9a-f-]{36}$")

_VAULT = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "minLength": 1},
        "password": {"type": ["string", "null"]},
        "require_mount": {"type": "boolean"},
        # An nfs target's server:/export, which the agent mounts at "url" when it is not mounted.
        "nfs_share": {"type": "string", "pattern": r"^[^-\s][^\s]*:/[^\s]*$", "maxLength": 1024},
        # An encrypted workload: the agent reads its Barbican secret through the owner's trust.
        "encryption": {
            "type": "object",
            "required": ["workload_id", "secret_ref", "trust_id"],
            "additionalProperties": False,
            "properties": {
                "workload_id": {"type": "string", "minLength": 1, "maxLength": 128},
                "secret_ref": {"type": "string", "minLength": 1, "maxLength": 255},
                "trust_id": {"type": "string", "minLength": 1, "maxLength": 64},
                "interface": {"enum": ["public", "internal", "admin"]},
            },
        },
    },
}
_REF = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:-]*/[A-Za-z0-9][A-Za-z0-9._:-]*$"}
_TARGET = {"type": "string", "pattern": r"^[a-z]{2,3}[a-z0-9]{1,4}$"}
# A guest hook (t4o.datamover.disks.guest_hooks): the words to run, or why the command did not parse.
_HOOK = {
    "type": ["object", "null"],
    "required": ["command"],
    "properties": {
        "command": {"type": "string", "maxLength": 4096},
        "argv": {"type": "array", "minItems": 1, "maxItems": 256, "items": {"type": "string"}},
        "error": {"type": "string"},
    },
}
_GUEST_HOOKS = {
    "type": ["object", "null"],
    "properties": {
        "pre_freeze": _HOOK,
        "post_thaw": _HOOK,
        "timeout": {"type": "integer", "minimum": 1, "maximum": 3600},
        "on_failure": {"enum": ["crash", "fail"]},
        "output_limit": {"type": "integer", "minimum": 1, "maximum": 1048576},
    },
}
TRANSFER = {
    "type": "object",
    "required": ["transfer"],
    "additionalProperties": False,
    "properties": {
        "transfer": {
            "type": "object",
            "required": ["kind", "server_id", "spec"],
            "additionalProperties": False,
            "properties": {
                "kind": {"enum": ["backup", "restore"]},
                "server_id": {"type": "string", "pattern": ID_RE.pattern},
                "spec": {"type": "object"},
            },
        }
    },
}
BACKUP_SPEC = {
    "type": "object",
    "required": ["vault", "snapshot_id", "workload_id", "checkpoint", "disk_id_prefix"],
    "properties": {
        "vault": _VAULT,
        "snapshot_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "workload_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "checkpoint": {"type": "string", "minLength": 1, "maxLength": 128},
        "parent_checkpoint": {"type": ["string", "null"]},
        "disk_id_prefix": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,100}$"},
        "parents": {"type": "object", "propertyNames": _TARGET, "additionalProperties": _REF},
        "disk_metadata": {"type": "object", "propertyNames": _TARGET},
        "volumes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["volume_id", "snapshot_id"],
                "properties": {
                    "volume_id": {"type": "string", "pattern": ID_RE.pattern},
                    "snapshot_id": {"type": "string", "pattern": ID_RE.pattern},
                    "parent": {"oneOf": [_REF, {"type": "null"}]},
                    "metadata": {"type": "object"},
                },
            },
        },
        "guest_hooks": _GUEST_HOOKS,
    },
}
RESTORE_SPEC = {
    "type": "object",
    "required": ["vault", "disks"],
    "properties": {
        "vault": _VAULT,
        "disks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["ref", "target"],
                "properties": {"ref": _REF, "target": _TARGET},
            },
        },
        "volumes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["ref", "volume_id"],
                "properties": {"ref": _REF, "volume_id": {"type": "string", "pattern": ID_RE.pattern}},
            },
        },
        "power_off": {"type": "boolean"},
        "restart": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "volumes": {"type": "array", "items": {"type": "string", "pattern": ID_RE.pattern}},
                "window": {"type": "number", "exclusiveMinimum": 0, "maximum": 14},
            },
        },
        "if_found": {"type": "boolean"},
    },
    # No disks: volumes only, written into their files (the server may still be building).
    "anyOf": [
        {"properties": {"disks": {"minItems": 1}}},
        {"required": ["volumes"], "properties": {"volumes": {"minItems": 1}}},
    ],
}

MOUNT = {
    "type": "object",
    "required": ["mount"],
    "additionalProperties": False,
    "properties": {
        "mount": {
            "type": "object",
            "required": ["id", "server_id", "spec"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "pattern": ID_RE.pattern},
                "server_id": {"type": "string", "pattern": ID_RE.pattern},
                "spec": {
                    "type": "object",
                    "required": ["vault", "disks"],
                    "additionalProperties": False,
                    "properties": {
                        "vault": _VAULT,
                        "disks": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 16,
                            "items": {
                                "type": "object",
                                "required": ["ref", "serial"],
                                "additionalProperties": False,
                                "properties": {
                                    "ref": _REF,
                                    "serial": {"type": "string", "pattern": r"^[A-Za-z0-9-]{1,20}$"},
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def register_policy() -> None:
    enforcer = policy.get_enforcer()
    if RULE not in enforcer.registered_rules:
        enforcer.register_defaults(RULES)


def list_rules() -> list[oslo_policy.RuleDefault]:
    return RULES


def _context() -> RequestContext:
    ctx: RequestContext = flask.g.context
    try:
        policy.get_enforcer().authorize(RULE, {}, ctx.to_policy_values(), do_raise=True)
    except oslo_policy.PolicyNotAuthorized:
        raise errors.Forbidden("The datamover API is for services only (admin or service role).") from None
    return ctx


def _check_address(host: str, item_id: str | None, kind: str = "transfer") -> None:
    if not HOST_RE.match(host):
        raise errors.BadRequest(f"Invalid host name {host[:80]!r}.")
    if item_id is not None and not ID_RE.match(item_id):
        raise errors.BadRequest(f"Invalid {kind} id {item_id[:80]!r}: a UUID is expected.")


def compute_host(ctx: RequestContext, server_id: str) -> str:
    """The compute host of the server, read from Nova with the caller's (service) token."""
    nova = NovaCloud.from_conf(cfg.CONF)
    with nova.reaching("compute"):
        status, host = nova.server_host(ctx, server_id)  # NotFound when missing
    if not host:
        raise errors.Conflict(f"Server {server_id} ({status}) is on no compute host.")
    return host


def create_flask_app(conf: cfg.ConfigOpts, agents: AgentAPI | None = None) -> flask.Flask:
    app = rest.create_app(
        "t4o.datamover.api", rest_auth.context_from_environ, rest_auth.PUBLIC_PATHS,
        failure="datamover-api failed to handle the request; see its log.",
    )  # fmt: skip
    agents = agents or AgentAPI(conf)
    register_policy()

    @app.get("/")
    def versions() -> Any:
        return {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": "/v2/"}]}]}

    @app.post("/v2/transfers")
    def create_transfer() -> Any:
        ctx = _context()
        req = rest.json_body(TRANSFER, where="body")["transfer"]
        rest.validate(req["spec"], BACKUP_SPEC if req["kind"] == "backup" else RESTORE_SPEC, "transfer/spec")
        host = compute_host(ctx, req["server_id"])
        spec = {**req["spec"], "domain": req["server_id"]}
        transfer_id = str(uuid.uuid4())
        view = agents.start_transfer(ctx, host, transfer_id, req["kind"], spec)
        LOG.info(
            "%s transfer %s of server %s sent to host %s", req["kind"], transfer_id, req["server_id"], host
        )
        resp = flask.jsonify({"transfer": {**view, "host": host, "server_id": req["server_id"]}})
        resp.status_code = 202
        return resp

    @app.get("/v2/servers/<server_id>/host")
    def show_server_host(server_id: str) -> Any:
        ctx = _context()
        if not ID_RE.match(server_id):
            raise errors.BadRequest(f"Invalid server id {server_id[:80]!r}: a UUID is expected.")
        return {"server": {"id": server_id, "host": compute_host(ctx, server_id)}}

    @app.get("/v2/hosts/<host>/transfers/<transfer_id>")
    def show_transfer(host: str, transfer_id: str) -> Any:
        ctx = _context()
        _check_address(host, transfer_id)
        view = agents.transfer_status(ctx, host, transfer_id)
        if view is None:
            raise errors.NotFound(
                f"Transfer {transfer_id} is unknown to the datamover agent on host {host} "
                "(it never started there, or the agent restarted and lost it)."
            )
        return {"transfer": {**view, "host": host}}

    @app.delete("/v2/hosts/<host>/transfers/<transfer_id>")
    def cancel_transfer(host: str, transfer_id: str) -> Any:
        ctx = _context()
        _check_address(host, transfer_id)
        view = agents.cancel_transfer(ctx, host, transfer_id)
        if view is None:
            raise errors.NotFound(f"Transfer {transfer_id} is unknown to the datamover agent on host {host}.")
        resp = flask.jsonify({"transfer": {**view, "host": host}})
        resp.status_code = 202
        return resp

    @app.post("/v2/mounts")
    def create_mount() -> Any:
        ctx = _context()
        req = rest.json_body(MOUNT, where="body")["mount"]
        host = compute_host(ctx, req["server_id"])
        view = agents.mount(ctx, host, req["id"], req["server_id"], req["spec"])
        LOG.info(
            "mount %s of %s into server %s done by host %s: devices %s",
            req["id"], ", ".join(d["ref"] for d in req["spec"]["disks"]), req["server_id"], host,
            ", ".join(d["device"] for d in view.get("disks", [])),
        )  # fmt: skip
        return {"mount": {**view, "host": host}}

    @app.get("/v2/hosts/<host>/mounts")
    def list_mounts(host: str) -> Any:
        ctx = _context()
        _check_address(host, None)
        return {"mounts": [{**v, "host": host} for v in agents.list_mounts(ctx, host)]}

    @app.get("/v2/hosts/<host>/mounts/<mount_id>")
    def show_mount(host: str, mount_id: str) -> Any:
        ctx = _context()
        _check_address(host, mount_id, "mount")
        view = agents.mount_status(ctx, host, mount_id)
        if view is None:
            raise errors.NotFound(
                f"Mount {mount_id} is unknown to the datamover agent on host {host} "
                "(never mounted there, or dismounted and forgotten)."
            )
        return {"mount": {**view, "host": host}}

    @app.delete("/v2/hosts/<host>/mounts/<mount_id>")
    def delete_mount(host: str, mount_id: str) -> Any:
        ctx = _context()
        _check_address(host, mount_id, "mount")
        view = agents.dismount(ctx, host, mount_id)
        if view is None:
            raise errors.NotFound(f"Mount {mount_id} is unknown to the datamover agent on host {host}.")
        LOG.info("mount %s dismounted by host %s", mount_id, host)
        return {"mount": {**view, "host": host}}

    return app


def create_app(conf: cfg.ConfigOpts) -> Any:
    return request_id.RequestId(rest_auth.wrap(create_flask_app(conf), conf))
