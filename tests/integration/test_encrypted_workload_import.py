"""An encrypted workload brought back from the backup target on devcloud: demo's VM snapshotted with a key
wrapped by demo's Barbican secret, the workload's rows deleted from T4O's database (its backups kept),
then imported by the cloud admin. Without access to the secret the import reports the workload as not
imported, naming the secret, and inserts nothing; once demo grants the admin read access to the secret
(a Barbican ACL) it comes in, and demo restores it byte for byte against the test's model of the disk.

Before that, the create-time check: a secret demo cannot read, one that does not exist and one too short
to wrap a key are each refused with 400 naming the secret, and no workload is created; after it, rotating
to the short one is refused the same way."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import requests

from demo.guest import write_guest
from demo.services import T4OServices
from tests.fixtures.barbican import make_secret
from tests.fixtures.devcloud import Devcloud
from tests.integration.disk_model import DiskModel, disk_sha256
from tests.integration.test_snapshot_restore import domain_disk_path

MiB = 1 << 20


def grant_read(owner: Any, secret: str, user_id: str) -> None:
    """The secret's read ACL given to ``user_id`` (the project's members keep their access)."""
    url = f"{owner.endpoint_for('key-manager').rstrip('/')}/v1/secrets/{secret}/acl"
    body = {"read": {"users": [user_id], "project-access": True}}
    resp = owner.session.put(url, json=body, raise_exc=False)
    assert resp.status_code in (200, 201), resp.text


def test_an_admin_imports_an_encrypted_workload_with_access_to_its_secret(
    devcloud: Devcloud, t4o_services: T4OServices, tmp_path: Path
) -> None:
    demo, other, admin = (devcloud.connection(f"devcloud-{n}") for n in ("demo", "other", "admin"))
    token, project = demo.auth_token, demo.current_project_id
    admin_token, admin_project = admin.auth_token, admin.current_project_id
    tag = uuid.uuid4().hex[:8]
    payload = os.urandom(32)
    secret = make_secret(demo, payload, f"t4o-imp-{tag}")
    foreign = make_secret(other, os.urandom(32), f"t4o-imp-foreign-{tag}")
    short = make_secret(demo, b"0123456789", f"t4o-imp-short-{tag}")
    flavor = demo.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = demo.image.find_image("devcloud-tiny", ignore_missing=False)
    server = demo.compute.create_server(
        name=f"t4o-imp-vm-{tag}", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    created: list[str] = [server.id]

    def api(method: str, path: str, **kw: Any) -> Any:
        return t4o_services.request(method, path, token, project, **kw)

    def as_admin(method: str, path: str, **kw: Any) -> Any:
        return t4o_services.request(method, path, admin_token, admin_project, **kw)

    def workload_body(name: str, ref: str) -> dict[str, Any]:
        instances = [{"instance-id": server.id}]
        return {"workload": {"name": name, "instances": instances, "encryption": True, "secret_uuid": ref}}

    try:
        demo.compute.wait_for_server(server, wait=300)

        # Create-time check: the caller must be able to read the secret, and it must be able to wrap a key.
        for bad, reason in (
            (foreign, "cannot be read"),
            (str(uuid.uuid4()), "does not exist"),
            (short, "holds 10 bytes"),
        ):
            resp = requests.post(
                f"{t4o_services.url}/v1/{project}/workloads",
                json=workload_body(f"imp-bad-{tag}", bad),
                headers={"X-Auth-Token": token},
                timeout=60,
            )
            message = resp.json().get("badRequest", {}).get("message", "")
            assert resp.status_code == 400 and bad in message and reason in message, resp.text
        assert not [w for w in api("GET", "/workloads")["workloads"] if w["name"] == f"imp-bad-{tag}"]

        disk = domain_disk_path(devcloud, server.id, "vda")
        model = DiskModel.of(disk, tmp_path)
        model.write(MiB, write_guest(devcloud.libvirt_uri, server.id, MiB, 2 * MiB, seed=17))
        wl = api("POST", "/workloads", json=workload_body(f"imp-{tag}", secret))["workload"]
        snap = api("POST", f"/workloads/{wl['id']}", json={"snapshot": {"name": "imp"}})["snapshot"]
        job = t4o_services.wait_job("snapshot", snap["id"], token, project)
        assert job["status"] == "available", job["error_msg"]

        # The database loses the workload; its backups stay on the target.
        api("DELETE", f"/workloads/{wl['id']}", params={"database_only": "True"})
        resp = requests.get(
            f"{t4o_services.url}/v1/{project}/workloads/{wl['id']}",
            headers={"X-Auth-Token": token},
            timeout=60,
        )
        assert resp.status_code == 404

        # The admin cannot read demo's secret: listed as encrypted with the reason, not imported.
        body = {"workload_ids": [wl["id"]]}
        listed = {w["id"]: w for w in as_admin("GET", "/workloads/get_list/import_workloads")["workloads"]}
        assert listed[wl["id"]]["encrypted"] and secret in listed[wl["id"]]["error"]
        report = as_admin("POST", "/workloads/import_workloads", json=body)["workloads"]
        assert report["imported_workloads"] == [] and report["updated_workloads"] == []
        (failed,) = report["failed_workloads"]
        assert failed["id"] == wl["id"] and secret in failed["error"], failed
        resp = requests.get(
            f"{t4o_services.url}/v1/{project}/workloads/{wl['id']}",
            headers={"X-Auth-Token": token},
            timeout=60,
        )
        assert resp.status_code == 404  # nothing half-imported

        # demo shares the secret with the admin (read ACL): the import brings it in with its snapshot.
        grant_read(demo, secret, admin.current_user_id)
        report = as_admin("POST", "/workloads/import_workloads", json=body)["workloads"]
        assert report["failed_workloads"] == [], report
        (imported,) = report["imported_workloads"]
        assert imported["id"] == wl["id"] and imported["snapshots"] == [snap["id"]], imported
        back = api("GET", f"/workloads/{wl['id']}")["workload"]
        assert (back["name"], back["encryption"], back["secret_uuid"]) == (f"imp-{tag}", True, secret)

        # demo restores the imported snapshot: the new VM's disk holds the model's bytes.
        restore = api(
            "POST", f"/snapshots/{snap['id']}", json={"restore": {"options": {"restore_type": "oneclick"}}}
        )
        job = t4o_services.wait_job("restore", restore["restore"]["id"], token, project)
        assert job["status"] == "available", job["error_msg"]
        new_ids = [i["id"] for i in job.get("instances") or [] if i["id"] != server.id]
        created += new_ids
        assert new_ids
        assert disk_sha256(domain_disk_path(devcloud, new_ids[0], "vda"), tmp_path) == model.sha256()

        # Rotation is checked like creation: a secret too short to wrap the key is refused, naming it.
        resp = requests.put(
            f"{t4o_services.url}/v1/{project}/workloads/{wl['id']}",
            json={"workload": {"secret_uuid": short}},
            headers={"X-Auth-Token": token},
            timeout=60,
        )
        assert resp.status_code == 400 and short in resp.text and "holds 10 bytes" in resp.text, resp.text
        assert api("GET", f"/workloads/{wl['id']}")["workload"]["secret_uuid"] == secret
    finally:
        for sid in created:
            demo.compute.delete_server(sid, ignore_missing=True)
        for s in (secret, short):
            demo.key_manager.delete_secret(s, ignore_missing=True)
        other.key_manager.delete_secret(foreign, ignore_missing=True)
