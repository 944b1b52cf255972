"""Nova (compute): servers, their volume attachments, flavors and keypairs; and NovaCloud, the control
plane's instance checks, made with the same calls."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import quote

import openstack
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from openstack import exceptions as sdk_exc
from openstack.connection import Connection

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.openstack import endpoints, keystone
from t4o.openstack.cinder import BlockStorage
from t4o.openstack.cloud import Cloud, RestoreTargets, Server
from t4o.openstack.neutron import Networking
from t4o.openstack.resources import find_or_none, plain
from t4o.openstack.waits import CloudStepFailed, fault_message, wait_for_status

LOG = get_logger(__name__)


def endpoint_from_catalog(
    catalog: list[dict[str, Any]], service_type: str, interface: str, region: str | None
) -> str | None:
    """The URL of a service in a Keystone catalog: v3 entries (interface + url) or the v2 form
    (publicURL, internalURL, adminURL) that keystonemiddleware puts in X-Service-Catalog."""
    for service in catalog:
        if service.get("type") != service_type:
            continue
        for ep in service.get("endpoints", []):
            if region is not None and ep.get("region") not in (region, None):
                continue
            if ep.get("interface") == interface and ep.get("url"):
                return ep["url"]
            if ep.get(f"{interface}URL"):
                return ep[f"{interface}URL"]
    return None


@dataclass(frozen=True)
class ServerInfo:
    """A server as Nova shows it to its project."""

    id: str
    name: str
    status: str
    project_id: str
    compute_host: str | None = None
    fault: str | None = None
    image_id: str | None = None
    key_name: str | None = None
    flavor: dict[str, Any] = field(default_factory=dict)  # embedded in the server (microversion >= 2.47)
    security_groups: frozenset[str] = frozenset()  # names
    volume_ids: tuple[str, ...] = ()  # attached Cinder volumes
    document: dict[str, Any] = field(default_factory=dict)  # every field, as JSON


@dataclass(frozen=True)
class FlavorInfo:
    """A flavor the project can use, with what a restore compares: its sizes."""

    id: str
    name: str
    vcpus: int
    ram: int  # MiB
    disk: int  # GiB
    ephemeral: int = 0
    swap: int = 0

    def sizes(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in FLAVOR_SIZES}


FLAVOR_SIZES = ("vcpus", "ram", "disk", "ephemeral", "swap")


def _flavor_info(f: Any) -> FlavorInfo:
    # Nova shows a flavor without swap as swap "" in older microversions.
    return FlavorInfo(
        str(f.id), f.name or "", int(f.vcpus or 0), int(f.ram or 0), int(f.disk or 0),
        int(f.ephemeral or 0), int(f.swap or 0),
    )  # fmt: skip


@dataclass(frozen=True)
class Attachment:
    volume_id: str
    device: str  # '/dev/vdb'; '' when Nova does not say

    @property
    def target(self) -> str:
        """The disk's name in the domain ('vdb')."""
        return self.device.rsplit("/", 1)[-1]


class Compute:
    """Nova calls over one openstacksdk connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._api = conn.compute

    def server(self, server_id: str) -> ServerInfo | None:
        """The server, or None when it does not exist (or the id is not one Nova accepts)."""
        try:
            srv = self._api.get_server(server_id)
        except (sdk_exc.NotFoundException, sdk_exc.BadRequestException):
            return None
        return ServerInfo(
            id=srv.id,
            name=srv.name or "",
            status=srv.status or "",
            project_id=srv.project_id or "",
            compute_host=srv.compute_host,
            fault=fault_message(srv),
            image_id=(srv.image or {}).get("id"),
            key_name=srv.key_name,
            flavor=dict(srv.flavor or {}),
            security_groups=frozenset(g["name"] for g in srv.security_groups or [] if g.get("name")),
            volume_ids=tuple(v["id"] for v in srv.attached_volumes or [] if v.get("id")),
            document=plain(srv),
        )

    def get_server(self, server_id: str) -> ServerInfo:
        found = self.server(server_id)
        if found is None:
            raise errors.NotFound(f"Server {server_id} not found.")
        return found

    def current_project_id(self) -> str:
        return str(self._conn.current_project_id)

    def attachments(self, server_id: str) -> list[Attachment]:
        return [Attachment(a.volume_id, a.device or "") for a in self._api.volume_attachments(server_id)]

    def attach_volume(self, server_id: str, volume_id: str) -> Attachment:
        att = self._api.create_volume_attachment(server_id, volume=volume_id)
        return Attachment(volume_id, att.device or "")

    def detach_volume(self, server_id: str, volume_id: str) -> None:
        self._api.delete_volume_attachment(server_id, volume_id, ignore_missing=True)

    def flavor_id(self, name_or_id: str) -> str | None:
        found = find_or_none(self._api.find_flavor, name_or_id)
        return None if found is None else str(found.id)

    def flavor_document(self, server: ServerInfo) -> dict[str, Any]:
        """The server's flavor: the copy embedded in the server, completed from Nova's flavor."""
        embedded = server.flavor
        name = embedded.get("original_name") or embedded.get("name")
        found = find_or_none(self._api.find_flavor, name) if name else None
        if found is None and embedded.get("id"):
            with contextlib.suppress(sdk_exc.NotFoundException):
                found = self._api.get_flavor(embedded["id"])
        return {
            "id": found.id if found else embedded.get("id"),
            "name": name or (found.name if found else None),
            "vcpus": embedded.get("vcpus", found.vcpus if found else None),
            "ram": embedded.get("ram", found.ram if found else None),
            "disk": embedded.get("disk", found.disk if found else None),
            "ephemeral": embedded.get("ephemeral", found.ephemeral if found else 0) or 0,
            "swap": embedded.get("swap", found.swap if found else 0) or 0,
            "extra_specs": embedded.get("extra_specs", (found.extra_specs if found else None) or {}),
            "is_public": found.is_public if found else None,
        }

    def flavor(self, name_or_id: str) -> FlavorInfo | None:
        found = find_or_none(self._api.find_flavor, name_or_id)
        return None if found is None else _flavor_info(found)

    def flavors(self) -> list[FlavorInfo]:
        """Every flavor the project can use (public ones and private ones it was given)."""
        return [_flavor_info(f) for f in self._api.flavors(details=True)]

    def create_flavor(
        self, name: str, sizes: dict[str, int], extra_specs: dict[str, str], project_id: str
    ) -> FlavorInfo:
        """A private flavor the project is given access to (Nova does not give it to the creator's
        project by itself); needs the right to manage flavors (admin by Nova's default policy)."""
        flavor = self._api.create_flavor(name=name, is_public=False, **sizes)
        try:
            self._api.flavor_add_tenant_access(flavor, project_id)
            if extra_specs:
                self._api.create_flavor_extra_specs(flavor, extra_specs)
        except BaseException:
            self.delete_flavor(flavor.id)
            raise
        return _flavor_info(flavor)

    def delete_flavor(self, flavor_id: str) -> None:
        self._api.delete_flavor(flavor_id, ignore_missing=True)

    def server_group_document(self, group_id: str) -> dict[str, Any] | None:
        try:
            group = self._api.get_server_group(group_id)
        except sdk_exc.NotFoundException:
            return None
        return plain(group, ("id", "name", "policy", "policies", "rules"))

    def server_group_id(self, name_or_id: str) -> str | None:
        """The project's server group of this id, else the first of this name; None when there is none."""
        groups = list(self._api.server_groups())
        found = next((g for g in groups if g.id == name_or_id), None) or next(
            (g for g in groups if g.name == name_or_id), None
        )
        return None if found is None else str(found.id)

    def create_server_group(self, name: str, policy: str, rules: dict[str, Any] | None = None) -> str:
        """A server group of this policy (affinity, anti-affinity, soft-...); ``rules`` (e.g.
        max_server_per_host) need compute API 2.64."""
        fields: dict[str, Any] = {"name": name, "policy": policy}
        if rules:
            fields["rules"] = rules
        return str(self._api.create_server_group(**fields).id)

    def delete_server_group(self, group_id: str) -> None:
        self._api.delete_server_group(group_id, ignore_missing=True)

    def keypair_document(self, name: str) -> dict[str, Any] | None:
        try:
            kp = self._api.get_keypair(name)
        except sdk_exc.NotFoundException:
            return None
        return {"name": kp.name, "public_key": kp.public_key, "type": kp.type}

    def keypair_exists(self, name: str) -> bool:
        return find_or_none(self._api.find_keypair, name) is not None

    def create_keypair(self, name: str, public_key: str) -> None:
        self._api.create_keypair(name=name, public_key=public_key)

    def delete_keypair(self, name: str) -> None:
        self._api.delete_keypair(name, ignore_missing=True)

    def create_server(self, name: str, flavor_id: str, image_id: str | None, **optional: Any) -> str:
        """A server on the given Neutron ports, in NIC order, or without any (``networks='none'``) when
        there are none; ``optional``: key_name, metadata, availability_zone, security_groups (names or ids;
        Nova applies them only to ports it creates itself, so they are left out when ports are given: the
        ports carry their groups), port_ids, server_group_id (the scheduler hint ``group``), boot_volume_id
        (the server boots from that volume instead of an image; ``image_id`` is then None). None values are
        left out. Returns its id at once (it is still building)."""
        fields = {k: v for k, v in optional.items() if v is not None}
        port_ids = fields.pop("port_ids", None) or []
        networks: str | list[dict[str, str]] = [{"port": p} for p in port_ids] or "none"
        if port_ids:
            fields.pop("security_groups", None)
        group = fields.pop("server_group_id", None)
        if group is not None:
            fields["scheduler_hints"] = {"group": group}
        if "security_groups" in fields:
            fields["security_groups"] = [{"name": g} for g in fields["security_groups"]]
        boot_volume = fields.pop("boot_volume_id", None)
        if boot_volume is not None:
            fields["block_device_mapping"] = [
                {
                    "boot_index": 0,
                    "uuid": boot_volume,
                    "source_type": "volume",
                    "destination_type": "volume",
                    "delete_on_termination": False,
                }
            ]
        elif image_id is None:
            raise ValueError("a server needs an image or a boot volume")
        if image_id is not None:
            fields["image_id"] = image_id
        server = self._api.create_server(name=name, flavor_id=flavor_id, networks=networks, **fields)
        return str(server.id)

    def wait_server(self, server_id: str, status: str, timeout: float) -> ServerInfo:
        """Until the server is in ``status``; an ERROR fails at once with Nova's fault."""
        return wait_for_status(f"server {server_id}", lambda: self.server(server_id), {status}, timeout)

    def stop(self, server_id: str, timeout: float, wait: bool = True) -> bool:
        """Shut the server off; True when it was running (so it is started again afterwards). Without
        ``wait``, only ask: Nova's stop is under way (its task state is set) when this returns."""
        if self.get_server(server_id).status == "SHUTOFF":
            return False
        try:
            self._api.stop_server(server_id)
        except sdk_exc.ConflictException:
            # Nova's own stop, of a domain it found off, may be under way: wait for that one. Any other
            # conflict (a locked server, another task) is the caller's error.
            if self._api.get_server(server_id).task_state != "powering-off":
                raise
            LOG.info("server %s: a stop is under way already; waiting for it", server_id)
        if wait:
            self.wait_server(server_id, "SHUTOFF", timeout)
        return True

    def start(self, server_id: str, timeout: float) -> None:
        self._api.start_server(server_id)
        self.wait_server(server_id, "ACTIVE", timeout)

    def delete_server(self, server_id: str, timeout: float) -> None:
        """Delete the server and wait until Nova has removed it."""
        try:
            server = self._api.get_server(server_id)
        except sdk_exc.NotFoundException:
            return
        self._api.delete_server(server, ignore_missing=True)
        try:
            self._api.wait_for_delete(server, interval=1, wait=int(timeout))
        except sdk_exc.ResourceTimeout:
            raise CloudStepFailed(f"server {server_id} was not deleted within {timeout:.0f} s") from None


class NovaCloud(Cloud):
    """The control plane's instance checks, with the caller's token on the compute endpoint of its
    catalog (no token exchange: the API answers before Keystone would)."""

    def __init__(self, interface: str, region: str | None) -> None:
        self.interface = interface
        self.region = region

    @classmethod
    def from_conf(cls, conf: Any) -> NovaCloud:
        return cls(endpoints.interface(conf), endpoints.region(conf))

    @contextlib.contextmanager
    def reaching(self, service_type: str) -> Iterator[None]:
        """Connection failures to the catalog endpoint as ServiceUnavailable, naming the interface
        chosen (a wrong ``[clients] endpoint_type`` shows as an address nothing answers on)."""
        try:
            yield
        except (ks_exc.ConnectFailure, ks_exc.ConnectTimeout) as exc:
            region = f" of region {self.region}" if self.region else ""
            raise errors.ServiceUnavailable(
                f"The {self.interface} {service_type} endpoint{region} cannot be reached ([clients] "
                f"endpoint_type = {self.interface}): {exc}"
            ) from None

    def _token_session(self, context: RequestContext, service_type: str, purpose: str) -> tuple[str, Any]:
        """The endpoint of ``service_type`` in the token's catalog and a session with the caller's token;
        BadRequest naming ``purpose`` when the catalog has no such endpoint or there is no token."""
        url = endpoint_from_catalog(context.service_catalog, service_type, self.interface, self.region)
        if not url or not context.auth_token:
            missing = f"The token's service catalog has no {service_type} endpoint to {purpose}."
            raise errors.BadRequest(missing)
        return url, ks_session.Session(auth=token_endpoint.Token(url, context.auth_token))

    def connection(self, context: RequestContext) -> Connection:
        _, sess = self._token_session(context, "compute", "check instances")
        # The newest microversion both sides speak: servers then embed their flavor's details.
        return openstack.connection.Connection(session=sess, region_name=self.region)

    def compute(self, context: RequestContext) -> Compute:
        return Compute(self.connection(context))

    def server_host(self, context: RequestContext, server_id: str) -> tuple[str, str | None]:
        """The server's status and compute host (None until Nova has placed it), in one GET with the
        caller's token. datamover-api asks this before every transfer, and a restore asks it again and
        again while Nova places a new server: a new openstacksdk connection would first fetch Nova's
        version document each time, a second round trip to nova-api. NotFound when there is no such
        server (or the id is not one Nova accepts)."""
        url, sess = self._token_session(context, "compute", "find servers")
        resp = sess.get(f"{url.rstrip('/')}/servers/{quote(server_id, safe='')}", raise_exc=False)
        if resp.status_code in (400, 404):
            raise errors.NotFound(f"Server {server_id} not found.")
        if resp.status_code >= 400:
            raise errors.ServiceUnavailable(
                f"Nova answered {resp.status_code} to the read of server {server_id}: {resp.text[:200]}"
            )
        server = resp.json().get("server") or {}
        return str(server.get("status") or ""), server.get("OS-EXT-SRV-ATTR:host") or None

    def find_servers(self, context: RequestContext, server_ids: list[str]) -> dict[str, Server | None]:
        compute = self.compute(context)
        out: dict[str, Server | None] = {}
        for sid in server_ids:
            with self.reaching("compute"):
                srv = compute.server(sid)
            # An admin token sees other projects' servers by id: only the caller's own project counts.
            if srv is None or (srv.project_id and srv.project_id != context.project_id):
                out[sid] = None
                continue
            out[sid] = Server(srv.id, srv.name, srv.project_id, srv.status, volume_ids=list(srv.volume_ids))
        return out

    def server_definition(self, context: RequestContext, server_id: str) -> dict[str, Any]:
        compute = self.compute(context)
        with self.reaching("compute"):
            definition = dict(compute.get_server(server_id).document)
            definition["volumes"] = [
                {"id": a.volume_id, "device": a.device} for a in compute.attachments(server_id)
            ]
        return definition

    def missing_identities(
        self, context: RequestContext, project_ids: set[str], user_ids: set[str]
    ) -> tuple[set[str], set[str]]:
        _, sess = self._token_session(context, "identity", "look up users")
        identity = openstack.connection.Connection(session=sess, region_name=self.region).identity
        with self.reaching("identity"):
            return keystone.missing_identities(cast(keystone.IdentityV3, identity), project_ids, user_ids)

    def _service(self, context: RequestContext, *types: str) -> Connection | None:
        """A connection to the first of these service types the token's catalog has, else None."""
        for service_type in types:
            url = endpoint_from_catalog(context.service_catalog, service_type, self.interface, self.region)
            if url and context.auth_token:
                sess = ks_session.Session(auth=token_endpoint.Token(url, context.auth_token))
                return openstack.connection.Connection(session=sess, region_name=self.region)
        return None

    def missing_targets(self, context: RequestContext, wanted: RestoreTargets) -> RestoreTargets:
        """Looked up with the caller's token; a service the catalog lacks is not checked."""
        flavors, types, networks, subnets = set(), set(), set(), set()
        if wanted.flavors and (conn := self._service(context, "compute")) is not None:
            compute = Compute(conn)
            flavors = {f for f in wanted.flavors if compute.flavor(f) is None}
        zones: set[str] = set()
        if (wanted.volume_types or wanted.volume_zones) and (
            conn := self._service(context, *VOLUME_SERVICES)
        ) is not None:
            cinder = BlockStorage(conn)
            types = {t for t in wanted.volume_types if not cinder.volume_type_exists(t)}
            listed = cinder.availability_zones() if wanted.volume_zones else None
            if listed is not None:  # not listed to this caller: the restore fails on a wrong zone instead
                zones = set(wanted.volume_zones - listed)
        if (wanted.networks or wanted.subnets) and (conn := self._service(context, "network")) is not None:
            neutron = Networking(conn)
            found = {n: neutron.find_network(n) for n in wanted.networks | {n for n, _ in wanted.subnets}}
            networks = {n for n, ref in found.items() if ref is None}
            for network, subnet in wanted.subnets:
                ref = found[network]
                if ref is not None and subnet not in {s.id for s in neutron.subnets_of(ref.id)}:
                    subnets.add((network, subnet))
        return RestoreTargets(
            frozenset(flavors), frozenset(types), frozenset(networks), frozenset(subnets), frozenset(zones)
        )


VOLUME_SERVICES = ("block-storage", "volumev3", "volume")
