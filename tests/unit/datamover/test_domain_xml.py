import xml.etree.ElementTree as ET

from t4o.datamover.disks.domain_xml import (
    DiskSpec,
    backup_xml,
    checkpoint_xml,
    has_guest_agent_channel,
    parse_disks,
)

DOMAIN = """<domain type='kvm'><name>vm</name><devices>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
    <source file='/var/lib/nova/instances/x/disk'/><target dev='vda' bus='virtio'/></disk>
  <disk type='block' device='disk'><driver name='qemu' type='raw'/>
    <source dev='/dev/sdb'/><target dev='vdb' bus='virtio'/></disk>
  <disk type='network' device='disk'><source protocol='rbd' name='volumes/v1'/><target dev='vdc'/></disk>
  <disk type='file' device='cdrom'><source file='/tmp/config.iso'/><target dev='hda'/></disk>
  <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
</devices></domain>"""


def test_parse_disks_keeps_disks_only() -> None:
    assert parse_disks(DOMAIN) == [
        DiskSpec("vda", "/var/lib/nova/instances/x/disk", "file", "qcow2"),
        DiskSpec("vdb", "/dev/sdb", "block", "raw"),
        DiskSpec("vdc", "volumes/v1", "network", "raw"),
    ]


def test_guest_agent_channel() -> None:
    assert has_guest_agent_channel(DOMAIN)
    assert not has_guest_agent_channel("<domain><devices/></domain>")


def test_checkpoint_uses_bitmaps_on_selected_qcow2_disks_only() -> None:
    disks = parse_disks(DOMAIN)
    root = ET.fromstring(checkpoint_xml("snap-1", disks, {"vda", "vdb"}))
    assert root.findtext("name") == "snap-1"
    modes = {d.get("name"): d.get("checkpoint") for d in root.iter("disk")}
    assert modes == {"vda": "bitmap", "vdb": "no", "vdc": "no"}


def test_backup_xml_incremental_for_bitmap_disks_full_for_the_rest() -> None:
    disks = parse_disks(DOMAIN)
    root = ET.fromstring(backup_xml("/run/x/nbd.sock", disks, {"vda", "vdb"}, "/run/x", "snap-1"))
    assert root.get("mode") == "pull"
    assert root.find("server").attrib == {"transport": "unix", "socket": "/run/x/nbd.sock"}
    by_name = {d.get("name"): d for d in root.iter("disk")}
    assert by_name["vda"].get("backupmode") == "incremental" and by_name["vda"].get("incremental") == "snap-1"
    assert by_name["vdb"].get("backupmode") == "full" and by_name["vdb"].get("incremental") is None
    assert by_name["vdc"].get("backup") == "no"
    assert by_name["vda"].find("scratch").get("file") == "/run/x/scratch-vda.qcow2"


def test_backup_xml_full() -> None:
    root = ET.fromstring(backup_xml("/s", parse_disks(DOMAIN), {"vda"}, "/d", None))
    assert [d.get("backupmode") for d in root.iter("disk") if d.get("backup") == "yes"] == ["full"]
