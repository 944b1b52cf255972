"""A selective restore of a VM with two Cinder volumes in a real browser: demo leaves one volume out in
the dashboard's selective restore form and puts the other in a Cinder zone, watches the restore finish,
and opens its page: the created server and the one restored volume are listed with links that open
Horizon's own pages of them, and the volume left out is named as such. Cinder (openstacksdk) then holds
exactly one volume from that restore, named after its original and the snapshot, with the original's
name and id in its metadata, in the chosen zone. A zone Cinder does not list is refused by the API with
400 naming the field before anything is queued.

The VM, its volumes, its workload and the full snapshot are made through the APIs (the dashboard's own
workload and snapshot forms are walked through in test_dashboard.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from demo.services import T4OServices
from tests.fixtures.devcloud import Devcloud
from tests.integration.test_restore_without_source import Leftovers

JOB_TIMEOUT = 600_000  # ms: a restore of a tiny server and two 1 GiB volumes on this machine
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
SNAPSHOT_NAME = "e2e two volumes"


@dataclass
class Story:
    tag: str
    server_id: str
    server_name: str
    kept: Any  # the volume the restore brings back
    left_out: Any  # the volume the form leaves out
    snapshot_id: str
    left: Leftovers
    api: Callable[..., Any]


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _no_error_page(page: Any) -> None:
    body = page.inner_text("body")
    assert "Something went wrong" not in body and "Server Error" not in body, body[:500]


@pytest.fixture(scope="module")
def story(devcloud: Devcloud, workloadmgr: T4OServices) -> Iterator[Story]:
    """A server of project demo with two attached volumes, its workload and a full snapshot."""
    left = Leftovers(devcloud.connection("devcloud-demo"))
    conn = left.conn
    token, project = str(conn.auth_token), str(conn.current_project_id)
    tag = f"e2e-2vol-{uuid.uuid4().hex[:6]}"

    def api(method: str, path: str, **kwargs: Any) -> Any:
        return workloadmgr.request(method, path, token, project, **kwargs)

    try:
        flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
        image = conn.image.find_image("devcloud-tiny", ignore_missing=False)
        server = conn.compute.create_server(name=tag, flavor_id=flavor.id, image_id=image.id, networks="none")
        left.servers.append(server.id)
        volumes = []
        for role in ("data", "logs"):
            vol = conn.block_storage.create_volume(size=1, name=f"{tag}-{role}")
            left.volumes.append(vol.id)
            volumes.append(vol)
        conn.compute.wait_for_server(server, wait=300)
        for vol in volumes:
            conn.block_storage.wait_for_status(vol, "available", wait=120)
            conn.compute.create_volume_attachment(server.id, volume_id=vol.id)
            conn.block_storage.wait_for_status(vol, "in-use", wait=120)
        wl = api(
            "POST", "/workloads", json={"workload": {"name": tag, "instances": [{"instance-id": server.id}]}}
        )["workload"]
        snap = api(
            "POST", f"/workloads/{wl['id']}", params={"full": "1"}, json={"snapshot": {"name": SNAPSHOT_NAME}}
        )["snapshot"]
        job = workloadmgr.wait_job("snapshot", snap["id"], token, project)
        assert job["status"] == "available", job.get("error_msg")
        kept, dropped = (conn.block_storage.get_volume(v.id) for v in volumes)
        yield Story(tag, str(server.id), tag, kept, dropped, str(snap["id"]), left, api)
    finally:
        left.remove()


def test_a_cinder_zone_cinder_does_not_list_is_refused_naming_the_field(story: Story) -> None:
    vdisks = [{"id": story.kept.id, "availability_zone": "t4o-no-such-zone"}]
    options = {
        "restore_type": "selective",
        "openstack": {"instances": [{"id": story.server_id, "vdisks": vdisks}]},
    }
    with pytest.raises(RuntimeError) as refused:
        story.api("POST", f"/snapshots/{story.snapshot_id}", json={"restore": {"options": options}})
    text = str(refused.value)
    assert "answered 400" in text, text
    assert (
        "options.openstack.instances[0].vdisks[0].availability_zone: Cinder has no availability zone "
        "t4o-no-such-zone for new volumes"
    ) in text
    assert not story.api("GET", "/restores", params={"snapshot_id": story.snapshot_id})["restores"]


def test_selective_restore_leaves_a_volume_out_and_its_page_links_what_it_made(
    browser_as: Callable[[str], Any], horizon: str, devcloud: Devcloud, story: Story
) -> None:
    conn = story.left.conn
    zones = sorted(
        z.name for z in conn.block_storage.availability_zones() if (z.state or {}).get("available")
    )
    assert zones, "Cinder lists no availability zone"
    zone = zones[-1]
    page = browser_as("devcloud-demo")

    # The snapshot's page names each disk's volume and offers the restores in its header.
    page.goto(horizon + f"/project/backup_snapshots/{story.snapshot_id}/")
    page.wait_for_selector("#snapshot_vms")
    disks = page.inner_text("body")
    assert story.kept.name in disks and story.left_out.name in disks
    shot(page, "40-snapshot-two-volumes")

    # The form lists both volumes by name; one is left out (Horizon styles the box: its label takes the
    # click), the other goes to a zone Cinder lists.
    page.goto(horizon + "/project/backup_snapshots/")
    page.click(f"#snapshots__row__{story.snapshot_id} .dropdown-toggle")
    page.click(f"#snapshots__row_{story.snapshot_id}__action_selective_restore")
    vkey = lambda vol: f"{story.server_id}_{vol.id}".replace("-", "_")  # noqa: E731
    dropped, kept = f"#id_volume_{vkey(story.left_out)}", f"#id_volume_{vkey(story.kept)}"
    page.wait_for_selector(dropped, state="attached")
    form = page.inner_text(".modal")
    assert f"Restore volume {story.kept.name} (" in form and f"Restore volume {story.left_out.name} (" in form
    assert page.is_checked(dropped) and page.is_checked(kept)
    page.click(f'label[for="id_volume_{vkey(story.left_out)}"]')
    assert not page.is_checked(dropped) and page.is_checked(kept)
    page.select_option(f"#id_volume_zone_{vkey(story.kept)}", zone)
    page.fill("#id_name", "e2e leave logs out")
    shot(page, "41-selective-restore-volumes")
    page.click(".modal-footer .btn-primary")
    page.wait_for_url("**/project/backup_restores/")
    [restore] = story.api("GET", "/restores", params={"snapshot_id": story.snapshot_id})["restores"]
    row = f'#restores tr[data-object-id="{restore["id"]}"]'
    page.wait_for_selector(
        f"{row} td:has-text('Available'), {row} td:has-text('Error'), {row} td:has-text('Cancelled')",
        timeout=JOB_TIMEOUT,
    )
    job = story.api("GET", f"/restores/{restore['id']}")["restore"]
    story.left.adopt(job)
    assert job["status"] == "available", job.get("error_msg")
    [instance] = job["instances"]
    day = str(story.api("GET", f"/snapshots/{story.snapshot_id}")["snapshot"]["created_at"])[:10]
    server_name = f"{story.server_name} (restored {SNAPSHOT_NAME} {day})"
    volume_name = f"{story.kept.name} (restored {SNAPSHOT_NAME} {day})"

    # Cinder: exactly one volume from this restore, the kept one's, renamed, traced back, in the zone.
    made = [
        v
        for v in conn.block_storage.volumes(details=True)
        if (v.metadata or {}).get("t4o_restore_id") == restore["id"]
    ]
    assert len(made) == 1, [(v.name, v.metadata) for v in made]
    [volume] = made
    assert volume.name == volume_name
    assert volume.metadata["t4o_original_name"] == story.kept.name
    assert volume.metadata["t4o_original_id"] == story.kept.id
    assert volume.metadata["t4o_snapshot_id"] == story.snapshot_id
    assert volume.availability_zone == zone
    assert [a["server_id"] for a in volume.attachments] == [instance["id"]]
    assert instance["volumes_left_out"] == [story.left_out.id]
    assert not any(
        (v.metadata or {}).get("t4o_original_id") == story.left_out.id
        for v in conn.block_storage.volumes(details=True)
    ), "the volume left out was restored after all"

    # The restore's page: the server and the volume, each a link to Horizon's page of it; the volume left
    # out by name.
    page.goto(horizon + f"/project/backup_restores/{restore['id']}/")
    table = page.locator("table.restored_server")
    table.wait_for()
    assert server_name in table.locator("caption").inner_text()
    server_link = table.get_by_role("link", name=server_name, exact=True)
    volume_link = table.get_by_role("link", name=volume_name, exact=True)
    server_href, volume_href = server_link.get_attribute("href"), volume_link.get_attribute("href")
    assert server_href == f"/project/instances/{instance['id']}/"
    assert volume_href == f"/project/volumes/{volume.id}/"
    left_out = page.inner_text(".volumes_left_out")
    assert story.left_out.name in left_out and story.kept.name not in left_out, left_out
    choices = page.inner_text(f"#restore_choices__{story.server_id}")
    assert f"{story.left_out.name}" in choices and "left out" in choices, choices
    assert f"in zone {zone}" in choices, choices
    shot(page, "42-restore-detail")
    _no_error_page(page)

    # Each link opens Horizon's own page of the object, under its new name.
    for href, name in ((server_href, server_name), (volume_href, volume_name)):
        page.goto(horizon + f"/project/backup_restores/{restore['id']}/")
        page.get_by_role("link", name=name, exact=True).first.click()
        page.wait_for_url(f"**{href}")
        page.wait_for_selector(".page-header")
        assert name in page.inner_text(".page-header"), page.inner_text(".page-header")
        assert "t4o_original_name" in page.inner_text("body")  # Horizon shows where it came from
        _no_error_page(page)
    shot(page, "43-restored-volume")
