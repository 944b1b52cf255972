"""Restore forms: selective (per VM: include, name, flavor, network; per volume: include, volume type,
Cinder availability zone) and in-place."""

from __future__ import annotations

import re
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, forms, messages
from openstack_dashboard.api import cinder, neutron, nova

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common

RESTORES_URL = "horizon:project:backup_restores:index"
KEEP = ""  # the choice that leaves a property as it was in the snapshot


def _vm_key(vm_id: str) -> str:
    return vm_id.replace("-", "_")


def _volume_key(volume_id: str) -> str:
    return volume_id.replace("-", "_")


def volume_type_text(name: str | None) -> str:
    """A volume type as people read it: Cinder's ``__DEFAULT__`` is 'Default'."""
    if not name or name == "__DEFAULT__":
        return str(_("Default"))
    return name


def _definition(vm: dict[str, Any]) -> dict[str, Any]:
    return vm.get("metadata") if isinstance(vm.get("metadata"), dict) else {}


def _ports(vm: dict[str, Any]) -> list[dict[str, Any]]:
    """The VM's recorded ports (its NICs) with an id."""
    return [p for p in _definition(vm).get("ports") or [] if isinstance(p, dict) and p.get("id")]


def _boot_volume(vm: dict[str, Any]) -> str | None:
    boot = _definition(vm).get("boot") or {}
    return boot.get("volume_id") if boot.get("source") == "volume" else None


def _volumes(vm: dict[str, Any]) -> list[dict[str, Any]]:
    """The VM's volumes in the snapshot: id, name, device, size, type; the boot volume first."""
    definition = _definition(vm)
    recorded = {
        v.get("id"): v
        for v in [*(definition.get("volumes") or []), *(definition.get("detached_volumes") or [])]
        if isinstance(v, dict)
    }
    out = []
    for disk in vm.get("vdisks") or []:
        volume_id = disk.get("volume_id") if isinstance(disk, dict) else None
        if not volume_id:
            continue
        record = recorded.get(volume_id) or {}
        out.append(
            {
                "id": volume_id,
                "name": record.get("name") or "",
                "device": disk.get("target") or disk.get("device") or "",
                "size": disk.get("size"),
                "volume_type": record.get("volume_type"),
                "boot": volume_id == _boot_volume(vm),
            }
        )
    return sorted(out, key=lambda v: not v["boot"])


def _flavor_text(flavor: Any) -> str:
    return (
        f"{flavor.name} ({flavor.vcpus} vCPU, {common.size(int(flavor.ram) * 2**20)}, {flavor.disk} GiB disk)"
    )


# The API's field paths of one VM's options, and the form field each lands on.
API_VM_FIELD = re.compile(r"options\.openstack\.instances\[(\d+)\]\.(flavor|nics|vdisks\[(\d+)\])")


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

    def field_of(self, text: str, openstack: dict[str, Any]) -> str | None:
        """The form field an API refusal of ``openstack`` names, if any."""
        return None

    def start(self, request: Any, data: dict[str, Any], restore_type: str, openstack: dict[str, Any]) -> Any:
        try:
            restore = workloadmgr.restore_create(
                request, data["snapshot_id"], restore_type, name=data["name"], openstack=openstack
            )
        except Exception as exc:
            # A refusal of the choices (400, e.g. a network without a mapping) keeps the form open, with
            # the message on the field it names when there is one.
            field = self.field_of(str(exc), openstack)
            if isinstance(exc, workloadmgr.WorkloadmgrError) and exc.status == 400 and field in self.fields:
                self.add_error(field, str(exc))
                return False
            if common.refused_on_form(self, request, exc, ()):
                return False
            exceptions.handle(request, _("Unable to start the restore."), redirect=reverse(RESTORES_URL))
            return False
        messages.success(request, _('Restore "%s" started.') % common.restore_name(restore))
        return restore


class SelectiveRestoreForm(_RestoreForm):
    """Per VM: include, new name, flavor, the network its NICs join; per volume: include, type and zone."""

    def __init__(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.flavors: dict[str, Any] = {}
        try:
            self.flavors = {f.id: f for f in nova.flavor_list(request)}
        except Exception:
            exceptions.handle(request, _("Unable to list flavors."), ignore=True)
        self.networks: dict[str, Any] = {}
        networks_failed = False
        try:
            self.networks = {
                n.id: n for n in neutron.network_list_for_tenant(request, request.user.project_id)
            }
        except Exception:
            networks_failed = True
            exceptions.handle(request, _("Unable to list networks."), ignore=True)
        self.volume_types: list[tuple[str, str]] = []
        try:
            self.volume_types = [(t.name, volume_type_text(t.name)) for t in cinder.volume_type_list(request)]
        except Exception:
            exceptions.handle(request, _("Unable to list volume types."), ignore=True)
        # Cinder's zones open to new volumes; none listed (or not allowed to list): no zone to choose.
        self.volume_zones: list[str] = []
        try:
            self.volume_zones = sorted(
                str(z.zoneName)
                for z in cinder.availability_zone_list(request)
                if getattr(z, "zoneName", None)
                and (getattr(z, "zoneState", None) or {}).get("available", True)
            )
        except Exception:
            exceptions.handle(request, _("Unable to list the volume availability zones."), ignore=True)
        for vm in self.initial.get("vms", []):
            self._add_vm(vm, networks_failed)

    def _add_vm(self, vm: dict[str, Any], networks_failed: bool) -> None:
        key, label = _vm_key(vm["id"]), vm.get("name") or vm["id"]
        self.fields[f"include_{key}"] = forms.BooleanField(
            label=_("Restore VM %s") % label, required=False, initial=True
        )
        self.fields[f"name_{key}"] = forms.CharField(
            label=_("New name of %s") % label,
            max_length=255,
            required=False,
            help_text=_("Empty: the original name followed by the snapshot's name and date."),
        )
        was = _definition(vm).get("flavor") or {}
        keep = _("As in the snapshot")
        if was.get("name"):
            keep = _("As in the snapshot (%s)") % was["name"]
        self.fields[f"flavor_{key}"] = forms.ChoiceField(
            label=_("Flavor of %s") % label,
            required=False,
            choices=[(KEEP, keep)] + [(f.id, _flavor_text(f)) for f in self.flavors.values()],
        )
        self._add_network(vm, key, label, networks_failed)
        for volume in _volumes(vm):
            vkey = f"{key}_{_volume_key(volume['id'])}"
            text = volume["name"] or volume["id"]
            if volume["device"]:
                text = f"{text} ({volume['device']}, {common.size(volume['size'])})"
            if not volume["boot"]:
                self.fields[f"volume_{vkey}"] = forms.BooleanField(
                    label=_("Restore volume %s") % text, required=False, initial=True
                )
            keep = _("As in the snapshot (%s)") % volume_type_text(volume["volume_type"])
            self.fields[f"volume_type_{vkey}"] = forms.ChoiceField(
                label=_("Volume type of %s") % text,
                required=False,
                choices=[(KEEP, keep), *self.volume_types],
                help_text=_("%s boots from this volume: it is always restored.") % label
                if volume["boot"]
                else "",
            )
            if self.volume_zones:
                self.fields[f"volume_zone_{vkey}"] = forms.ChoiceField(
                    label=_("Availability zone of %s") % text,
                    required=False,
                    choices=[(KEEP, _("Cinder's default zone"))] + [(z, z) for z in self.volume_zones],
                )

    def _add_network(self, vm: dict[str, Any], key: str, label: str, failed: bool) -> None:
        """The network the VM's NICs join; when there is none to choose, the only choice says why."""
        ports = _ports(vm)
        recreate = _("The snapshot's networks (reused, or re-created when gone)")
        if not ports:
            choices = [(KEEP, _("None: %s had no network interface in the snapshot") % label)]
        elif failed:
            choices = [(KEEP, _("The snapshot's networks: the project's networks could not be listed"))]
        elif not self.networks:
            choices = [(KEEP, _("The snapshot's networks: the project has no network to choose"))]
        else:
            choices = [(KEEP, recreate)] + [(n.id, _network_text(n)) for n in self.networks.values()]
        self.fields[f"network_{key}"] = forms.ChoiceField(
            label=_("Network of %s") % label,
            required=False,
            choices=choices,
            help_text=_("Each of its %d network interface(s) joins this network.") % len(ports)
            if ports
            else "",
            disabled=len(choices) == 1,
        )

    def _instance(self, vm: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        key = _vm_key(vm["id"])
        entry: dict[str, Any] = {"id": vm["id"], "include": True}
        if data.get(f"name_{key}"):
            entry["name"] = data[f"name_{key}"]
        if data.get(f"flavor_{key}"):
            entry["flavor"] = {"id": data[f"flavor_{key}"]}
        target = data.get(f"network_{key}")
        if target and _ports(vm):
            entry["nics"] = [{"id": p["id"], "network": {"id": target}} for p in _ports(vm)]
        vdisks = []
        for volume in _volumes(vm):
            vkey = f"{key}_{_volume_key(volume['id'])}"
            choice: dict[str, Any] = {"id": volume["id"]}
            if not volume["boot"] and not data.get(f"volume_{vkey}"):
                choice["include"] = False
            else:
                if data.get(f"volume_type_{vkey}"):
                    choice["new_volume_type"] = data[f"volume_type_{vkey}"]
                if data.get(f"volume_zone_{vkey}"):
                    choice["availability_zone"] = data[f"volume_zone_{vkey}"]
            if len(choice) > 1:
                vdisks.append(choice)
        if vdisks:
            entry["vdisks"] = vdisks
        return entry

    def openstack_options(self, data: dict[str, Any]) -> dict[str, Any]:
        chosen = self.chosen_vms(data)
        instances = [self._instance(vm, data) for vm in chosen]
        instances += [
            {"id": vm["id"], "include": False} for vm in self.initial.get("vms", []) if vm not in chosen
        ]
        options: dict[str, Any] = {"instances": instances}
        # A VM whose NICs keep the snapshot's networks: they are reused, or re-created when gone.
        if any(_ports(vm) and "nics" not in entry for vm, entry in zip(chosen, instances, strict=False)):
            options["restore_topology"] = True
        return options

    def field_of(self, text: str, openstack: dict[str, Any]) -> str | None:
        match = API_VM_FIELD.search(text)
        instances = openstack.get("instances") or []
        if match is None or int(match.group(1)) >= len(instances):
            return None
        entry = instances[int(match.group(1))]
        key = _vm_key(entry["id"])
        if match.group(2) == "flavor":
            return f"flavor_{key}"
        if match.group(2) == "nics":
            return f"network_{key}"
        vdisks = entry.get("vdisks") or []
        index = int(match.group(3))
        if index >= len(vdisks):
            return None
        vkey = f"{key}_{_volume_key(vdisks[index]['id'])}"
        if "new_volume_type" in text:
            return f"volume_type_{vkey}"
        return f"volume_zone_{vkey}" if "availability_zone" in text else f"volume_{vkey}"

    def handle(self, request: Any, data: dict[str, Any]) -> Any:
        return self.start(request, data, "selective", self.openstack_options(data))


def _network_text(network: Any) -> str:
    """'private (10.0.0.0/24)': the name, and the subnets' CIDRs when Neutron gave them."""
    cidrs = [getattr(s, "cidr", None) for s in getattr(network, "subnets", None) or []]
    cidrs = [c for c in cidrs if c]
    name = network.name or network.id
    return f"{name} ({', '.join(cidrs)})" if cidrs else name


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
