"""Restore forms: selective (which VMs, names, flavor, network and volume type mapping) and in-place."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, forms, messages
from openstack_dashboard.api import cinder, neutron, nova

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common

RESTORES_URL = "horizon:project:backup_restores:index"
KEEP = ""  # the choice that leaves a property as it was in the snapshot


def _choices(request: Any, what: str, fetch: Any) -> list[tuple[str, str]]:
    """Choices from another service; a missing service leaves only 'as in the snapshot'."""
    try:
        return [(KEEP, _("As in the snapshot")), *fetch()]
    except Exception:
        exceptions.handle(request, _("Unable to list %s.") % what, ignore=True)
        return [(KEEP, _("As in the snapshot"))]


def _vm_key(vm_id: str) -> str:
    return vm_id.replace("-", "_")


def _snapshot_networks(vms: list[dict[str, Any]]) -> list[str]:
    """Network ids recorded in the snapshot's VM definitions, when the definitions name them."""
    found: list[str] = []
    for vm in vms:
        for net in (vm.get("metadata") or {}).get("networks") or []:
            net_id = net.get("id") if isinstance(net, dict) else None
            if net_id and net_id not in found:
                found.append(net_id)
    return found


class _RestoreForm(forms.SelfHandlingForm):
    snapshot_id = forms.CharField(widget=forms.HiddenInput())
    name = forms.CharField(label=_("Restore name"), max_length=255, required=False)

    def add_vm_fields(self, with_names: bool) -> None:
        for vm in self.initial.get("vms", []):
            key = _vm_key(vm["id"])
            self.fields[f"include_{key}"] = forms.BooleanField(
                label=_("Restore %s") % (vm.get("name") or vm["id"]), required=False, initial=True
            )
            if with_names:
                self.fields[f"name_{key}"] = forms.CharField(
                    label=_("New name of %s") % (vm.get("name") or vm["id"]),
                    max_length=255,
                    required=False,
                    initial=vm.get("name") or "",
                )

    def chosen_vms(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return [vm for vm in self.initial.get("vms", []) if data.get(f"include_{_vm_key(vm['id'])}")]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.initial.get("vms") and not self.chosen_vms(data):
            raise forms.ValidationError(_("Choose at least one VM to restore."))
        return data

    def start(self, request: Any, data: dict[str, Any], restore_type: str, openstack: dict[str, Any]) -> Any:
        try:
            restore = workloadmgr.restore_create(
                request, data["snapshot_id"], restore_type, name=data["name"], openstack=openstack
            )
        except Exception as exc:
            # A refusal of the choices (400, e.g. a network without a mapping) keeps the form open.
            if common.refused_on_form(self, request, exc, ()):
                return False
            exceptions.handle(request, _("Unable to start the restore."), redirect=reverse(RESTORES_URL))
            return False
        messages.success(request, _('Restore "%s" started.') % common.restore_name(restore))
        return restore


class SelectiveRestoreForm(_RestoreForm):
    flavor = forms.ChoiceField(label=_("Flavor"), required=False)
    network = forms.ChoiceField(label=_("Map networks to"), required=False)
    volume_type = forms.ChoiceField(label=_("Volume type of restored volumes"), required=False)

    def __init__(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.add_vm_fields(with_names=True)
        self.flavors = {}
        try:
            self.flavors = {f.id: f for f in nova.flavor_list(request)}
        except Exception:
            exceptions.handle(request, _("Unable to list flavors."), ignore=True)
        self.fields["flavor"].choices = [(KEEP, _("As in the snapshot"))] + [
            (f.id, f"{f.name} ({f.vcpus} vCPU, {f.ram} MB)") for f in self.flavors.values()
        ]
        self.networks = {}
        self.fields["network"].choices = _choices(request, _("networks"), lambda: self._networks(request))
        self.fields["volume_type"].choices = _choices(
            request, _("volume types"), lambda: [(t.name, t.name) for t in cinder.volume_type_list(request)]
        )

    def _networks(self, request: Any) -> list[tuple[str, str]]:
        nets = neutron.network_list_for_tenant(request, request.user.project_id)
        self.networks = {n.id: n for n in nets}
        return [(n.id, n.name or n.id) for n in nets]

    def openstack_options(self, data: dict[str, Any]) -> dict[str, Any]:
        flavor = self.flavors.get(data.get("flavor") or "")
        instances = []
        for vm in self.chosen_vms(data):
            entry: dict[str, Any] = {"id": vm["id"], "include": True}
            new_name = data.get(f"name_{_vm_key(vm['id'])}")
            if new_name:
                entry["name"] = new_name
            if flavor is not None:
                entry["flavor"] = {
                    "vcpus": int(flavor.vcpus),
                    "ram": int(flavor.ram),
                    "disk": int(flavor.disk),
                    "ephemeral": int(getattr(flavor, "OS-FLV-EXT-DATA:ephemeral", 0) or 0),
                    "swap": int(flavor.swap or 0),
                }
            if data.get("volume_type"):
                entry["vdisks"] = [
                    {"id": d["id"], "new_volume_type": data["volume_type"]}
                    for d in vm.get("vdisks") or []
                    if isinstance(d, dict) and d.get("id")
                ]
            instances.append(entry)
        excluded = [
            {"id": vm["id"], "include": False}
            for vm in self.initial.get("vms", [])
            if vm not in self.chosen_vms(data)
        ]
        options: dict[str, Any] = {"instances": instances + excluded}
        target_id = data.get("network")
        if target_id:
            target = self.networks.get(target_id)
            target_net = {"id": target_id, "name": getattr(target, "name", "")}
            sources = _snapshot_networks(self.initial.get("vms", []))
            mappings = [{"snapshot_network": {"id": s}, "target_network": target_net} for s in sources]
            options["networks_mapping"] = {"networks": mappings or [{"target_network": target_net}]}
        return options

    def handle(self, request: Any, data: dict[str, Any]) -> Any:
        return self.start(request, data, "selective", self.openstack_options(data))


class InplaceRestoreForm(_RestoreForm):
    confirm = forms.BooleanField(
        label=_("I understand that the chosen VMs' disks are overwritten with the snapshot's data"),
        required=True,
    )

    def __init__(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.add_vm_fields(with_names=False)

    def handle(self, request: Any, data: dict[str, Any]) -> Any:
        chosen = {vm["id"] for vm in self.chosen_vms(data)}
        instances = [
            {"id": vm["id"], "include": vm["id"] in chosen, "restore_boot_disk": True}
            for vm in self.initial.get("vms", [])
        ]
        return self.start(request, data, "inplace", {"instances": instances})
