"""The Horizon plugin in a real browser: demo protects a real server, snapshots it and restores it in one
click, watching progress without reloading; other sees none of it; admin sees it in Backups-Admin.

The tests run in order and share what demo created (``story``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.services import T4OServices
from tests.fixtures.devcloud import Devcloud

JOB_TIMEOUT = 600_000  # ms: a snapshot or restore of a tiny server on this machine
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def story() -> dict[str, str]:
    return {"workload": f"e2e-workload-{uuid.uuid4().hex[:6]}"}


@pytest.fixture(scope="module", autouse=True)
def _restored_servers_removed(devcloud: Devcloud, demo_server: Any) -> Iterator[None]:
    """Servers a restore made (named after the original) go away with the test's own server."""
    yield
    conn = devcloud.connection("devcloud-demo")
    for server in conn.compute.servers():
        if server.name.startswith(demo_server.name) and server.id != demo_server.id:
            conn.compute.delete_server(server.id, ignore_missing=True)


def _mark_page(page: Any) -> None:
    """A marker that only survives while the page is not reloaded."""
    page.evaluate("window.t4oNoReload = true")


def _not_reloaded(page: Any) -> bool:
    return bool(page.evaluate("window.t4oNoReload === true"))


def _no_error_page(page: Any) -> None:
    body = page.inner_text("body")
    assert "Something went wrong" not in body and "Server Error" not in body, body[:500]


def _wait_finished(page: Any, row: str) -> str:
    """Waits until the row's status is final (Horizon refreshes it in place); returns the row's text."""
    page.wait_for_selector(
        f"{row} td:has-text('Available'), {row} td:has-text('Error'), {row} td:has-text('Cancelled')",
        timeout=JOB_TIMEOUT,
    )
    text = page.inner_text(row)
    assert "Available" in text, f"the job did not succeed: {text}"
    return text


def _submit_modal(page: Any) -> None:
    page.click(".modal-footer .btn-primary")


def test_demo_protects_snapshots_and_restores(
    browser_as: Callable[[str], Any],
    horizon: str,
    workloadmgr: T4OServices,
    demo_server: Any,
    story: dict[str, str],
) -> None:
    page = browser_as("devcloud-demo")
    page.goto(horizon + "/project/workloads/")
    page.wait_for_selector("text=Backups")
    shot(page, "01-workloads-empty")

    # Create a workload from the real server with the instance picker; no schedule.
    page.click("#workloads__action_create")
    page.wait_for_selector("#id_name")
    page.fill("#id_name", story["workload"])
    page.check(f'input[name="instances"][value="{demo_server.id}"]')
    page.click('label[for="id_schedule_enabled"]')  # Horizon styles the box: its label takes the click
    assert not page.is_checked("#id_schedule_enabled")
    page.select_option("#id_interval", "12 hr")
    shot(page, "02-create-workload")
    _submit_modal(page)
    row = f'#workloads tr[data-display="{story["workload"]}"]'
    page.wait_for_selector(f"{row} td:has-text('Available')", timeout=JOB_TIMEOUT)
    story["workload_id"] = page.get_attribute(row, "data-object-id")
    assert demo_server.name in page.inner_text(row)
    shot(page, "03-workloads")

    # Snapshot now, full; the snapshot's row on the workload's page refreshes until it is available.
    page.click(f"#workloads__row_{story['workload_id']}__action_snapshot")
    page.wait_for_selector("#id_name")
    page.click(
        'label[for="id_snapshot_type_1"]'
    )  # "Full"; Horizon styles the radio: its label takes the click
    assert page.is_checked('input[name="snapshot_type"][value="full"]')
    page.fill("#id_name", "e2e full")
    shot(page, "04-snapshot-now")
    _submit_modal(page)
    page.wait_for_url(f"**/project/workloads/{story['workload_id']}/")
    _mark_page(page)
    snap_row = "#snapshots tbody tr[data-object-id]"
    page.wait_for_selector(snap_row)
    story["snapshot_id"] = page.get_attribute(snap_row, "data-object-id")
    header = "#summary tbody tr[data-object-id]"
    assert "Running" in page.inner_text(header)
    text = _wait_finished(page, snap_row)
    assert _not_reloaded(page), "the snapshot's status must refresh without reloading the page"
    assert "100%" in text
    assert story["workload"] in text, f"the refreshed row must name its workload: {text}"
    # The header (status, last snapshot, size) refreshes in place too, and stops once the workload is idle.
    # Horizon polls rows of class "warning" (a status that is not final) and leaves the others be.
    page.wait_for_selector(f"{header}:not(.warning) td:has-text('Available')", timeout=JOB_TIMEOUT)
    header_text = page.inner_text(header)
    assert "Never" not in header_text and "1 (" in header_text, header_text
    assert _not_reloaded(page), "the header must refresh without reloading the page"
    shot(page, "05-workload-detail")

    # The snapshot's details: its VM and disks.
    page.goto(horizon + f"/project/backup_snapshots/{story['snapshot_id']}/")
    page.wait_for_selector("#snapshot_vms")
    assert demo_server.id in page.inner_text("#snapshot_vms")
    shot(page, "06-snapshot-detail")

    # The selective restore form offers the VM with its flavors and networks (not submitted here).
    page.goto(horizon + "/project/backup_snapshots/")
    page.click(f"#snapshots__row__{story['snapshot_id']} .dropdown-toggle")
    page.click(f"#snapshots__row_{story['snapshot_id']}__action_selective_restore")
    vm_flavor = "#id_flavor_" + demo_server.id.replace("-", "_")
    page.wait_for_selector(vm_flavor)
    assert page.locator(f"{vm_flavor} option").count() > 1
    shot(page, "07-selective-restore")
    page.goto(horizon + "/project/backup_snapshots/")

    # One-click restore, confirmed; its progress refreshes in place until it completes.
    page.click(f"#snapshots__row_{story['snapshot_id']}__action_oneclick_restore")
    page.wait_for_selector(".modal .btn-danger")
    shot(page, "08-oneclick-confirm")
    page.click(".modal .btn-danger")
    page.wait_for_url("**/project/backup_restores/")
    _mark_page(page)
    restore_row = "#restores tbody tr[data-object-id]"
    page.wait_for_selector(restore_row)
    text = _wait_finished(page, restore_row)
    assert _not_reloaded(page), "the restore's progress must refresh without reloading the page"
    assert "100%" in text
    shot(page, "09-restores")
    _no_error_page(page)


def test_other_sees_none_of_it(browser_as: Callable[[str], Any], horizon: str, story: dict[str, str]) -> None:
    assert "snapshot_id" in story, "runs after demo's story"
    page = browser_as("devcloud-other")
    empty = {
        "workloads": "No items to display.",
        "backup_snapshots": "No snapshots yet.",  # with a hint of how to take the first one
        "backup_restores": "No restores yet.",
    }
    for panel, message in empty.items():
        page.goto(horizon + f"/project/{panel}/")
        page.wait_for_selector(f"text={message}")
        assert story["workload"] not in page.inner_text("#content_body, body")
    shot(page, "10-other-workloads")
    # Demo's workload by its URL: a Horizon message, not an error page.
    page.goto(horizon + f"/project/workloads/{story['workload_id']}/")
    page.wait_for_selector(".alert-danger")
    _no_error_page(page)
    shot(page, "11-other-denied")


def test_admin_sees_it_in_backups_admin(
    browser_as: Callable[[str], Any], horizon: str, story: dict[str, str]
) -> None:
    assert "snapshot_id" in story, "runs after demo's story"
    page = browser_as("devcloud-admin")
    page.goto(horizon + "/admin/backup_workloads/")
    row = f'#admin_workloads tr[data-display="{story["workload"]}"]'
    page.wait_for_selector(row)
    assert "demo" in page.inner_text(row)
    shot(page, "12-admin-workloads")
    page.goto(horizon + "/admin/backup_usage/")
    page.wait_for_selector("#usage_chart")
    assert "demo" in page.inner_text("#usage_table")
    shot(page, "13-admin-usage")
    page.goto(horizon + "/admin/backup_settings/")
    page.wait_for_selector("#scheduler_state")
    assert "On" in page.inner_text("#scheduler_state")
    shot(page, "14-admin-settings")
    _no_error_page(page)


def test_admin_policies_quotas_and_nodes(
    browser_as: Callable[[str], Any], horizon: str, devcloud: Devcloud, story: dict[str, str]
) -> None:
    assert "snapshot_id" in story, "runs after demo's story"
    demo_project = devcloud.connection("devcloud-demo").current_project_id
    page = browser_as("devcloud-admin")

    # A workload policy: created, then assigned to project demo.
    story["policy"] = f"e2e-gold-{uuid.uuid4().hex[:6]}"
    page.goto(horizon + "/admin/backup_policies/")
    page.click("#policies__action_create")
    page.wait_for_selector("#id_name")
    page.fill("#id_name", story["policy"])
    page.fill("#id_description", "Every 4 hours, keep 7, a full one every 6")
    page.select_option("#id_interval", "4 hr")
    page.fill("#id_retention_policy_value", "7")
    page.fill("#id_fullbackup_interval", "6")
    shot(page, "15-admin-create-policy")
    _submit_modal(page)
    row = f'#policies tr[data-display="{story["policy"]}"]'
    page.wait_for_selector(row)
    policy_id = page.get_attribute(row, "data-object-id")
    page.click(f"#policies__row_{policy_id}__action_assign")
    page.wait_for_selector(f'input[name="projects"][value="{demo_project}"]')
    page.check(f'input[name="projects"][value="{demo_project}"]')
    shot(page, "16-admin-assign-policy")
    _submit_modal(page)
    page.wait_for_selector(f"{row} td:has-text('demo')")
    text = page.inner_text(row)
    assert "4 hr" in text and "7 snapshots" in text and "every 6 snapshots" in text, text
    shot(page, "17-admin-policies")

    # Quotas of project demo: set, then shown with demo's usage (one workload so far).
    page.goto(horizon + "/admin/backup_quotas/")
    page.click(f"#projects__row_{demo_project}__action_edit")
    page.wait_for_selector("#id_project_id", state="attached")
    page.get_by_label("Workloads allowed", exact=True).fill("5")
    page.get_by_label("Workloads high watermark", exact=True).fill("4")
    page.get_by_label("Snapshots allowed", exact=True).fill("50")
    page.get_by_label("Storage allowed (GiB)", exact=True).fill("10")
    shot(page, "18-admin-edit-quotas")
    _submit_modal(page)
    page.wait_for_url(f"**/admin/backup_quotas/{demo_project}/")
    workloads_row = "#quotas tr[data-display='Workloads']"
    page.wait_for_selector(workloads_row)
    text = page.inner_text(workloads_row)
    assert "5" in text and "4" in text and "1 (20%)" in text, text
    assert "Not set (unlimited)" in page.inner_text("#quotas tr[data-display='VMs']")
    shot(page, "19-admin-quotas")

    # Nodes: every T4O service with its state; the workloads worker is disabled, then enabled again.
    page.goto(horizon + "/admin/backup_nodes/")
    worker = '#nodes tr[data-object-id^="workloadmgr-workloads@"]'
    page.wait_for_selector(worker)
    assert "Up" in page.inner_text(worker) and "Enabled" in page.inner_text(worker)
    # The services with a heartbeat: scheduler, workloads worker, datamover.
    assert page.locator("#nodes tbody tr[data-object-id]").count() >= 3
    shot(page, "20-admin-nodes")
    page.click(f'{worker} button[id$="__action_disable"]')
    page.click(".modal .btn-danger")
    page.wait_for_selector(f"{worker} td:has-text('Disabled')")
    shot(page, "21-admin-node-disabled")
    page.click(f'{worker} button[id$="__action_enable"]')
    page.wait_for_selector(f"{worker} td:has-text('Enabled')")
    _no_error_page(page)


def test_demo_can_choose_the_assigned_policy(
    browser_as: Callable[[str], Any],
    horizon: str,
    devcloud: Devcloud,
    demo_server: Any,
    story: dict[str, str],
) -> None:
    """Demo protects the server the one-click restore made with the policy admin assigned to project demo."""
    assert "policy" in story, "runs after admin assigned a policy"
    page = browser_as("devcloud-demo")
    page.goto(horizon + "/project/workloads/")
    page.click("#workloads__action_create")
    page.wait_for_selector("#id_policy")
    assert story["policy"] in page.inner_text("#id_policy")
    assert page.is_visible("#id_interval")
    page.select_option("#id_policy", label=story["policy"])
    assert not page.is_visible("#id_interval") and not page.is_visible("#id_retention_policy_value")
    assert page.is_visible("#id_start_time")  # the workload keeps its start time
    name = f"e2e-policy-workload-{uuid.uuid4().hex[:6]}"
    page.fill("#id_name", name)
    conn = devcloud.connection("devcloud-demo")
    restored = [s.id for s in conn.compute.servers(name=demo_server.name) if s.id != demo_server.id]
    assert restored, "the one-click restore's server"
    page.check(f'input[name="instances"][value="{restored[0]}"]')
    shot(page, "22-create-workload-policy")
    _submit_modal(page)
    row = f'#workloads tr[data-display="{name}"]'
    page.wait_for_selector(f"{row} td:has-text('Available')", timeout=JOB_TIMEOUT)
    text = page.inner_text(row)
    assert "4 hr" in text and "keep 7" in text, f"the policy's schedule: {text}"
    shot(page, "23-workloads-with-policy")
    _no_error_page(page)
