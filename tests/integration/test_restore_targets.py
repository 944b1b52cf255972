"""What a selective restore names in the cloud (flavors, volume types, networks, subnets) is looked up
in devcloud's Nova, Cinder and Neutron with the caller's token and the endpoints of its catalog, as the
API does before it queues a restore: what exists is found (Cinder's ``__DEFAULT__`` type included),
what does not is reported missing."""

from __future__ import annotations

import uuid

from t4o.common.context import RequestContext
from t4o.openstack.cloud import RestoreTargets
from t4o.openstack.nova import NovaCloud
from tests.fixtures.devcloud import Devcloud


def test_restore_targets_are_looked_up_with_the_callers_token(devcloud: Devcloud) -> None:
    conn = devcloud.connection("devcloud-demo")
    access = conn.session.auth.get_access(conn.session)
    ctx = RequestContext(
        auth_token=access.auth_token,
        project_id=access.project_id,
        service_catalog=access.service_catalog.catalog,
    )
    flavor = next(iter(conn.compute.flavors()))
    network = next(n for n in conn.network.networks() if n.subnet_ids)
    subnet = network.subnet_ids[0]
    gone_net, gone_subnet = str(uuid.uuid4()), str(uuid.uuid4())
    wanted = RestoreTargets(
        flavors=frozenset({flavor.name, flavor.id, "no-such-flavor"}),
        volume_types=frozenset({"__DEFAULT__", "no-such-type"}),
        networks=frozenset({network.id, gone_net}),
        subnets=frozenset({(network.id, subnet), (network.id, gone_subnet)}),
    )
    missing = NovaCloud("public", None).missing_targets(ctx, wanted)
    assert missing == RestoreTargets(
        flavors=frozenset({"no-such-flavor"}),
        volume_types=frozenset({"no-such-type"}),
        networks=frozenset({gone_net}),
        subnets=frozenset({(network.id, gone_subnet)}),
    )
