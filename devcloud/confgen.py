"""Writes the configuration files of every service under state/etc (regenerated on each `up`)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from devcloud import layout as L
from devcloud import ovn

Sections = dict[str, dict[str, str | int | bool]]


def _ini(sections: Sections) -> str:
    out: list[str] = []
    for name, values in sections.items():
        out.append(f"[{name}]")
        for key, value in values.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            out.append(f"{key} = {value}")
        out.append("")
    return "\n".join(out)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _auth(user: str) -> dict[str, str | int | bool]:
    """Keystone password credentials of a service user (for authtoken and service-to-service calls)."""
    return {
        "auth_type": "password",
        "auth_url": f"http://{L.HOST}:5000",
        "www_authenticate_uri": f"http://{L.HOST}:5000",
        "username": user,
        "password": L.SERVICE_PASSWORD,
        "user_domain_name": "Default",
        "project_name": "service",
        "project_domain_name": "Default",
        "region_name": L.REGION,
    }


def _client_auth(user: str) -> dict[str, str | int | bool]:
    auth = _auth(user)
    del auth["www_authenticate_uri"]
    return auth


def _common(name: str) -> dict[str, str | int | bool]:
    return {
        "debug": False,
        "use_stderr": True,
        "transport_url": L.TRANSPORT_URL,
        "state_path": str(L.DATA / name),
        "host": "devcloud",
    }


def _lock(name: str) -> dict[str, str | int | bool]:
    return {"lock_path": str(L.DATA / name / "locks")}


def mount_point(base: Path, share: str) -> Path:
    """The directory os-brick and nova use for an NFS share: <base>/<md5 of the share>."""
    return base / hashlib.md5(share.encode()).hexdigest()


def _rootwrap(project: str) -> None:
    filters = L.VENV / "etc" / project / "rootwrap.d"
    exec_dirs = f"{L.SHIMS},{L.VENV_BIN},/sbin,/usr/sbin,/bin,/usr/bin,/usr/local/bin,/usr/local/sbin"
    text = _ini(
        {
            "DEFAULT": {
                "filters_path": f"{filters},{L.VENV / 'etc' / 'os-brick' / 'rootwrap.d'}",
                "exec_dirs": exec_dirs,
                "use_syslog": False,
                "syslog_log_level": "ERROR",
            }
        }
    )
    _write(L.ETC / project / "rootwrap.conf", text)


def keystone() -> None:
    kdir = L.DATA / "keystone"
    _write(
        L.ETC / "keystone" / "keystone.conf",
        _ini(
            {
                "DEFAULT": {"debug": False, "use_stderr": True},
                "database": {"connection": L.db_url("keystone")},
                "token": {"provider": "fernet", "expiration": 14400},
                "fernet_tokens": {"key_repository": str(kdir / "fernet-keys")},
                "fernet_receipts": {"key_repository": str(kdir / "fernet-receipts")},
                "credential": {"key_repository": str(kdir / "credential-keys")},
            }
        ),
    )


def glance() -> None:
    gdir = L.DATA / "glance"
    paste = L.ETC / "glance" / "glance-api-paste.ini"
    _write(paste, (L.VENV / "etc" / "glance" / "glance-api-paste.ini").read_text())
    conf = {
        "DEFAULT": {
            "debug": False,
            "use_stderr": True,
            "enabled_backends": "fs:file",
            "transport_url": L.TRANSPORT_URL,
        },
        "database": {"connection": L.db_url("glance")},
        "glance_store": {"default_backend": "fs"},
        "fs": {"filesystem_store_datadir": str(gdir / "images")},
        "os_glance_staging_store": {"filesystem_store_datadir": str(gdir / "staging")},
        "os_glance_tasks_store": {"filesystem_store_datadir": str(gdir / "tasks")},
        "keystone_authtoken": _auth("glance"),
        "paste_deploy": {"flavor": "keystone", "config_file": str(paste)},
        "oslo_concurrency": _lock("glance"),
        "oslo_policy": {"enforce_new_defaults": True, "enforce_scope": True},
    }
    _write(L.ETC / "glance" / "glance-api.conf", _ini(conf))


def placement() -> None:
    conf = {
        "DEFAULT": {"debug": False, "use_stderr": True},
        "placement_database": {"connection": L.db_url("placement")},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": _auth("placement"),
    }
    _write(L.ETC / "placement" / "placement.conf", _ini(conf))


def nova() -> None:
    ndir = L.DATA / "nova"
    paste = L.ETC / "nova" / "api-paste.ini"
    _write(paste, (L.VENV / "etc" / "nova" / "api-paste.ini").read_text())
    _rootwrap("nova")
    driver = "libvirt.LibvirtDriver" if L.COMPUTE_DRIVER == "libvirt" else "fake.FakeDriver"
    conf: Sections = {
        "DEFAULT": {
            **_common("nova"),
            "my_ip": L.HOST,
            "compute_driver": driver,
            "instances_path": str(L.INSTANCES_DIR),
            "rootwrap_config": str(L.ETC / "nova" / "rootwrap.conf"),
            "osapi_compute_workers": 1,
            "metadata_workers": 1,
            "reserved_host_memory_mb": 512,
            "heal_instance_info_cache_interval": -1,
            "instance_usage_audit": False,
            "resume_guests_state_on_host_boot": True,
            # The tiny image has no OS to answer an ACPI shutdown: do not wait the default 60 s for it.
            "shutdown_timeout": 3,
            # Neutron (OVN) reports a port ACTIVE once ovn-controller has claimed it; nova starts the
            # guest only after that event, and fails the boot rather than start it unwired.
            "vif_plugging_is_fatal": True,
            "vif_plugging_timeout": 60,
        },
        "api": {"auth_strategy": "keystone"},
        "api_database": {"connection": L.db_url("nova_api")},
        "database": {"connection": L.db_url("nova")},
        "keystone_authtoken": _auth("nova"),
        "placement": _client_auth("placement"),
        "neutron": {**_client_auth("neutron"), "default_floating_pool": "public"},
        "cinder": {**_client_auth("cinder"), "os_region_name": L.REGION},
        "glance": {"region_name": L.REGION},
        "service_user": {**_client_auth("nova"), "send_service_user_token": True},
        "scheduler": {"discover_hosts_in_cells_interval": 10, "workers": 1},
        "conductor": {"workers": 1},
        "libvirt": {
            "virt_type": "qemu",
            "connection_uri": L.libvirt_uri(),
            "cpu_mode": "none",
            "nfs_mount_point_base": str(L.NOVA_MNT_BASE),
            "live_migration_uri": "qemu+ssh://%s/system",
        },
        "vnc": {"enabled": False},
        "spice": {"enabled": False},
        "serial_console": {"enabled": False},
        "wsgi": {"api_paste_config": str(paste)},
        "oslo_concurrency": _lock("nova"),
        "oslo_messaging_notifications": {"driver": "noop"},
        "os_vif_ovs": {"ovsdb_connection": f"tcp:{L.HOST}:{ovn.OVSDB_PORT}"},
        "compute": {"cpu_shared_set": ""},
        "image_cache": {"manager_interval": -1},
    }
    # The placement client reads its endpoint from the catalog; the section must not carry authtoken keys.
    _write(L.ETC / "nova" / "nova.conf", _ini(conf))
    ndir.mkdir(parents=True, exist_ok=True)
    for host in L.compute_hosts()[1:]:
        _nova_compute(host)


def _nova_compute(host: str) -> None:
    """What an extra compute host changes over nova.conf: its name, its libvirtd, its state. my_ip and
    instances_path stay the same, which makes Nova treat the instances path as shared between the hosts.
    The lock path stays shared too: both hosts fetch images into the same _base cache."""
    suffix = L.host_suffix(host)
    state = L.DATA / f"nova{suffix}"
    state.mkdir(parents=True, exist_ok=True)
    conf: Sections = {
        "DEFAULT": {"host": host, "state_path": str(state)},
        "libvirt": {"connection_uri": L.libvirt_uri(host)},
    }
    _write(L.ETC / "nova" / f"nova{suffix}.conf", _ini(conf))


def cinder() -> None:
    _rootwrap("cinder")
    paste = L.ETC / "cinder" / "api-paste.ini"
    _write(paste, (L.VENV / "etc" / "cinder" / "api-paste.ini").read_text())
    shares = L.ETC / "cinder" / "nfs_shares"
    _write(shares, L.NFS_SHARE + "\n")
    conf: Sections = {
        "DEFAULT": {
            **_common("cinder"),
            "my_ip": L.HOST,
            "auth_strategy": "keystone",
            "osapi_volume_listen": L.HOST,
            "osapi_volume_workers": 1,
            "api_paste_config": str(paste),
            "resource_query_filters_file": str(L.VENV / "etc" / "cinder" / "resource_filters.json"),
            "rootwrap_config": str(L.ETC / "cinder" / "rootwrap.conf"),
            "enabled_backends": "nfs",
            "default_volume_type": "__DEFAULT__",
            "backup_driver": "cinder.backup.drivers.posix.PosixBackupDriver",
            "backup_posix_path": str(L.DATA / "cinder-backups"),
            "backup_workers": 1,
            "glance_api_servers": f"http://{L.HOST}:9292",
            "volume_usage_audit_period": "hour",
        },
        "database": {"connection": L.db_url("cinder")},
        "keystone_authtoken": _auth("cinder"),
        "nova": {**_client_auth("nova"), "interface": "public"},
        "service_user": {**_client_auth("cinder"), "send_service_user_token": True},
        "nfs": {
            "volume_driver": "cinder.volume.drivers.nfs.NfsDriver",
            "volume_backend_name": "nfs",
            "nfs_shares_config": str(shares),
            "nfs_mount_point_base": str(L.CINDER_MNT_BASE),
            "nfs_sparsed_volumes": True,
            "nfs_snapshot_support": True,
            "nfs_qcow2_volumes": False,
            "nas_secure_file_operations": False,
            "nas_secure_file_permissions": False,
        },
        "oslo_concurrency": _lock("cinder"),
        "coordination": {"backend_url": f"file://{L.DATA / 'cinder' / 'coordination'}"},
        "oslo_messaging_notifications": {"driver": "noop"},
    }
    _write(L.ETC / "cinder" / "cinder.conf", _ini(conf))


def neutron() -> None:
    paste = L.ETC / "neutron" / "api-paste.ini"
    _write(paste, (L.VENV / "etc" / "neutron" / "api-paste.ini").read_text())
    _rootwrap("neutron")
    conf: Sections = {
        "DEFAULT": {
            **_common("neutron"),
            "bind_host": L.HOST,
            "core_plugin": "ml2",
            # OVN's L3 plugin: routers are OVN logical routers (no L3 agent).
            "service_plugins": "ovn-router",
            "auth_strategy": "keystone",
            "api_paste_config": str(paste),
            "api_workers": 1,
            "rpc_workers": 1,
            "rpc_state_report_workers": 0,
            # Nova waits for network-vif-plugged (port ACTIVE once ovn-controller claims it) before it
            # starts a guest.
            "notify_nova_on_port_status_changes": True,
            "notify_nova_on_port_data_changes": True,
            "allow_overlapping_ips": True,
        },
        "database": {"connection": L.db_url("neutron")},
        "keystone_authtoken": _auth("neutron"),
        "nova": _client_auth("nova"),
        "oslo_concurrency": _lock("neutron"),
        "agent": {"root_helper": f"sudo neutron-rootwrap {L.ETC / 'neutron' / 'rootwrap.conf'}"},
        "oslo_messaging_notifications": {"driver": "noop"},
    }
    _write(L.ETC / "neutron" / "neutron.conf", _ini(conf))
    ml2: Sections = {
        "ml2": {
            # vxlan: networks made before devcloud ran OVN (OVN binds those too).
            "type_drivers": "flat,vlan,vxlan,geneve",
            "tenant_network_types": "geneve",
            "mechanism_drivers": "ovn",
            "extension_drivers": "port_security",
            "overlay_ip_version": 4,
        },
        "ml2_type_flat": {"flat_networks": "public"},
        "ml2_type_vxlan": {"vni_ranges": "1:1000"},
        # OVN needs at least 38 bytes of Geneve header for its metadata.
        "ml2_type_geneve": {"vni_ranges": "1:65536", "max_header_size": 38},
        "securitygroup": {"enable_security_group": True},
        "ovn": {
            "ovn_nb_connection": ovn.NB_CONNECTION,
            "ovn_sb_connection": ovn.SB_CONNECTION,
            # DHCP is OVN's own (native, answered by ovn-controller); no metadata agent runs.
            "ovn_metadata_enabled": False,
            "enable_distributed_floating_ip": False,
            "ovsdb_connection_timeout": 30,
        },
    }
    _write(L.ETC / "neutron" / "plugins" / "ml2" / "ml2_conf.ini", _ini(ml2))


BARBICAN_HOME = L.DATA / "barbican"


def _barbican_kek() -> str:
    """simple_crypto's key-encryption key: made once and kept beside the database it protects (a new
    key would leave every stored secret unreadable)."""
    path = BARBICAN_HOME / "simple-crypto-kek"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
        tmp.chmod(0o600)
        tmp.rename(path)
    return path.read_text().strip()


def barbican() -> None:
    """Barbican with the simple_crypto plugin. Its modules each parse the default configuration files
    (~/.barbican/barbican.conf first) at import, so the process runs with HOME = BARBICAN_HOME, whose
    .barbican is this configuration directory."""
    bdir = L.ETC / "barbican"
    paste = bdir / "barbican-api-paste.ini"
    # The shipped file names /etc/barbican for its health check and audit map: point them here.
    text = (L.VENV / "etc" / "barbican" / "barbican-api-paste.ini").read_text()
    _write(paste, text.replace("/etc/barbican/", f"{bdir}/"))
    conf: Sections = {
        "DEFAULT": {
            "debug": False,
            "use_stderr": True,
            "host_href": f"http://{L.HOST}:9311",
            "transport_url": L.TRANSPORT_URL,
        },
        "database": {"connection": L.db_url("barbican")},
        "keystone_authtoken": _auth("barbican"),
        "secretstore": {"enabled_secretstore_plugins": "store_crypto"},
        "crypto": {"enabled_crypto_plugins": "simple_crypto"},
        "simple_crypto_plugin": {"kek": _barbican_kek()},
        "oslo_policy": {"enforce_new_defaults": True, "enforce_scope": True},
        "oslo_messaging_notifications": {"driver": "noop"},
    }
    _write(bdir / "barbican.conf", _ini(conf))
    link = BARBICAN_HOME / ".barbican"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(bdir)


def shims() -> None:
    """`sudo` (we are root: just run it) and a `mount` that turns the loopback NFS share into a bind mount."""
    L.SHIMS.mkdir(parents=True, exist_ok=True)
    sudo = L.SHIMS / "sudo"
    sudo.write_text(
        '#!/bin/sh\n# devcloud runs as root: privsep and rootwrap call sudo, which adds nothing.\nexec "$@"\n'
    )
    mount = L.SHIMS / "mount"
    mount.write_text(
        f"""#!/bin/bash
# devcloud: 'mount -t nfs[4] [-o opts] {L.HOST}:/dir /mnt' becomes a bind mount of /dir (no NFS server).
if [[ " $* " == *" -t nfs"* ]]; then
  args=("$@"); n=${{#args[@]}}
  src=${{args[$((n-2))]}}; dst=${{args[$((n-1))]}}
  exec /bin/mount --bind "${{src#{L.HOST}:}}" "$dst"
fi
exec /bin/mount "$@"
"""
    )
    mount_nfs = L.SHIMS / "mount.nfs"
    mount_nfs.write_text(
        "#!/bin/sh\n# devcloud: drivers look for an NFS client; 'mount.nfs host:/dir /mnt' is a bind mount.\n"
        f'[ $# -lt 2 ] && exit 0\nexec /bin/mount --bind "${{1#{L.HOST}:}}" "$2"\n'
    )
    for p in (sudo, mount, mount_nfs):
        p.chmod(0o755)


def write_all() -> None:
    for d in (
        L.ETC,
        L.LOGS,
        L.RUN,
        L.DATA,
        L.VOLUMES_DIR,
        L.CINDER_MNT_BASE,
        L.NOVA_MNT_BASE,
        L.INSTANCES_DIR,
    ):
        d.mkdir(parents=True, exist_ok=True)
    for name in ("keystone", "glance", "nova", "cinder", "neutron", "placement", "barbican"):
        (L.DATA / name / "locks").mkdir(parents=True, exist_ok=True)
    shims()
    keystone()
    glance()
    placement()
    nova()
    cinder()
    neutron()
    barbican()
