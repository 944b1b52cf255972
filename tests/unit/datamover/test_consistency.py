from unittest import mock

import libvirt

from t4o.datamover.disks.consistency import Consistency, GuestFreeze

WITH_AGENT = "<domain><devices><channel><target name='org.qemu.guest_agent.0'/></channel></devices></domain>"


def fake_domain(xml: str = WITH_AGENT, active: bool = True) -> mock.Mock:
    dom = mock.Mock(spec=libvirt.virDomain)
    dom.name.return_value = "vm"
    dom.isActive.return_value = active
    dom.XMLDesc.return_value = xml
    dom.fsFreeze.return_value = 2
    return dom


def test_freeze_and_thaw_when_the_agent_answers() -> None:
    dom = fake_domain()
    with GuestFreeze(dom, timeout=3) as g:
        assert g.consistency == Consistency.FS_FROZEN
        dom.fsThaw.assert_not_called()
    dom.agentSetResponseTimeout.assert_called_once_with(3, 0)
    dom.fsThaw.assert_called_once()


def test_agent_not_answering_means_crash_consistent() -> None:
    dom = fake_domain()
    err = libvirt.libvirtError("Guest agent is not responding")
    dom.fsFreeze.side_effect = err
    message = "Guest agent is not responding"
    with mock.patch.object(err, "get_error_message", return_value=message), GuestFreeze(dom) as g:
        pass
    assert g.consistency == Consistency.CRASH
    assert "not responding" in g.reason
    dom.fsThaw.assert_not_called()


def test_no_channel_no_freeze_attempt() -> None:
    dom = fake_domain("<domain><devices/></domain>")
    with GuestFreeze(dom) as g:
        pass
    assert g.consistency == Consistency.CRASH and "no guest agent channel" in g.reason
    dom.fsFreeze.assert_not_called()


def test_failed_thaw_is_logged_not_raised() -> None:
    dom = fake_domain()
    dom.fsThaw.side_effect = libvirt.libvirtError("agent gone")
    with GuestFreeze(dom):
        pass
    dom.fsThaw.assert_called_once()
