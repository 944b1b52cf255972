"""Guest hooks on the agent's side: guest-exec through a scripted agent, and what a pre hook's result
means for the freeze (the real guest agent: tests/functional/datamover/test_guest_agent.py)."""

from __future__ import annotations

import base64
import json
from typing import Any
from unittest import mock

import libvirt
import pytest

from t4o.datamover.disks import guest_hooks as gh
from t4o.datamover.disks.consistency import Consistency, GuestFreeze

WITH_AGENT = "<domain><devices><channel><target name='org.qemu.guest_agent.0'/></channel></devices></domain>"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Agent:
    """qemu-guest-agent as libvirt's qemuAgentCommand answers: guest-exec gives a pid, guest-exec-status
    says "not exited" ``polls`` times, then gives ``final``."""

    def __init__(self, final: dict[str, Any] | None = None, polls: int = 0, error: str = "") -> None:
        self.final = final if final is not None else {"exited": True, "exitcode": 0}
        self.polls = polls
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def __call__(self, dom: Any, command: str, timeout: int) -> str:
        cmd = json.loads(command)
        self.calls.append(cmd)
        assert 1 <= timeout <= gh.AGENT_CALL_TIMEOUT
        if self.error:
            err = libvirt.libvirtError(self.error)
            err.get_error_message = lambda: self.error
            raise err
        if cmd["execute"] == "guest-exec":
            return json.dumps({"return": {"pid": 42}})
        assert cmd == {"execute": "guest-exec-status", "arguments": {"pid": 42}}
        if self.polls:
            self.polls -= 1
            return json.dumps({"return": {"exited": False}})
        return json.dumps({"return": self.final})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(agent: Agent, hook: gh.Hook | None = None, timeout: float = 10, limit: int = 4096) -> gh.HookResult:
    clock = Clock()
    hook = hook or gh.Hook("sh -c 'flush'", ("sh", "-c", "flush"))
    return gh.run_in_guest(mock.Mock(), gh.PRE_FREEZE, hook, timeout, limit, agent, clock, clock.sleep)


def test_a_hook_that_succeeds_gives_its_output() -> None:
    agent = Agent({"exited": True, "exitcode": 0, "out-data": b64("flushed\n"), "err-data": b64("note\n")})
    result = run(agent)
    assert agent.calls[0] == {
        "execute": "guest-exec",
        "arguments": {"path": "sh", "arg": ["-c", "flush"], "capture-output": True},
    }
    assert (result.status, result.exit_code, result.stdout, result.stderr) == ("ok", 0, "flushed\n", "note\n")
    assert result.summary() == "pre-freeze hook ran (exit code 0)"


def test_a_non_zero_exit_or_a_signal_fails_the_hook() -> None:
    result = run(Agent({"exited": True, "exitcode": 3, "err-data": b64("first\nlock held\n")}))
    assert (result.status, result.exit_code) == ("failed", 3)
    assert result.summary() == "pre-freeze hook failed (exit code 3: lock held)"
    killed = run(Agent({"exited": True, "signal": 9}))
    assert killed.status == "failed" and killed.summary() == "pre-freeze hook failed (killed by signal 9)"


def test_output_is_cut_to_its_last_bytes() -> None:
    out = "x" * 100 + "the end\n"
    result = run(
        Agent({"exited": True, "exitcode": 0, "out-data": b64(out), "out-truncated": False}), limit=10
    )
    assert result.stdout == "x" * 2 + "the end\n" and result.stdout_truncated
    assert not result.stderr_truncated
    # qemu-guest-agent cut it already
    cut = run(Agent({"exited": True, "exitcode": 0, "out-data": b64("a"), "out-truncated": True}))
    assert cut.stdout == "a" and cut.stdout_truncated


def test_a_hook_that_runs_too_long_times_out() -> None:
    agent = Agent(polls=1000)
    result = run(agent, timeout=3)
    assert result.status == "timed-out"
    assert result.reason == "did not end within 3 s (it may still run in the guest)"
    assert 3 <= result.duration_seconds < 4.5  # the timeout, plus one poll on a loaded machine
    # polls slow down: a few dozen, not thousands
    assert len(agent.calls) < 20


def test_an_agent_error_or_a_bad_command_is_an_error() -> None:
    result = run(Agent(error="Guest agent is not responding"))
    assert (result.status, result.reason) == ("error", "guest agent: Guest agent is not responding")
    bad = run(Agent(), gh.Hook("sh -c 'x", error="No closing quotation"))
    assert (bad.status, bad.reason) == ("error", "invalid command: No closing quotation")
    garbled = run(Agent({"exited": True, "exitcode": 0, "out-data": "!!notbase64"}))
    assert garbled.status == "ok" and garbled.stdout == "" and garbled.stdout_truncated


@pytest.mark.parametrize(
    ("status", "on_failure", "freeze", "fail", "reason"),
    [
        ("ok", "crash", True, "", ""),
        ("ok", "fail", True, "", ""),
        ("failed", "crash", False, "", "pre-freeze hook failed (exit code 1): the guest was not frozen"),
        ("timed-out", "crash", False, "", "pre-freeze hook timed-out: slow: the guest was not frozen"),
        ("error", "crash", False, "", "pre-freeze hook error: slow: the guest was not frozen"),
        (
            "failed",
            "fail",
            False,
            "pre-freeze hook failed (exit code 1); the snapshot fails as asked (t4o_hook_failure: fail)",
            "",
        ),
    ],
)
def test_what_the_pre_hook_means_for_the_freeze(
    status: str, on_failure: str, freeze: bool, fail: str, reason: str
) -> None:
    result = gh.HookResult("pre_freeze", "c", status, exit_code=1, reason="slow")
    assert gh.after_pre_hook(result, on_failure) == gh.PreHookOutcome(freeze, fail, reason)
    assert gh.after_pre_hook(None, on_failure) == gh.PreHookOutcome(True)


def test_the_spec_from_the_workflow() -> None:
    assert gh.HookSpec.from_spec(None) is None
    assert gh.HookSpec.from_spec({"timeout": 5, "pre_freeze": None}) is None
    spec = gh.HookSpec.from_spec(
        {"pre_freeze": {"command": "a b", "argv": ["a", "b"], "source": "vm"}, "on_failure": "fail"}
    )
    assert spec is not None
    assert spec.pre_freeze == gh.Hook("a b", ("a", "b"))
    assert (spec.post_thaw, spec.timeout, spec.on_failure) == (None, 60, "fail")
    odd = gh.HookSpec.from_spec({"post_thaw": {"command": ""}, "on_failure": "whatever"})
    assert odd is not None and odd.post_thaw == gh.Hook("", (), "empty command") and odd.on_failure == "crash"


# -- around the freeze ----------------------------------------------------------------------------------


def fake_domain(xml: str = WITH_AGENT, active: bool = True) -> mock.Mock:
    dom = mock.Mock(spec=libvirt.virDomain)
    dom.name.return_value = "vm"
    dom.isActive.return_value = active
    dom.XMLDesc.return_value = xml
    dom.fsFreeze.return_value = 1
    return dom


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each hook's status by its command; records the order of hooks, freeze and thaw."""
    events: list[str] = []

    def run_in_guest(dom: Any, phase: str, hook: gh.Hook, timeout: float, limit: int) -> gh.HookResult:
        events.append(phase)
        status, _, code = hook.command.partition(":")
        return gh.HookResult(phase, hook.command, status, exit_code=int(code or 0))

    monkeypatch.setattr(gh, "run_in_guest", run_in_guest)
    return events


def spec(pre: str | None, post: str | None = "ok", on_failure: str = "crash") -> gh.HookSpec:
    hook = lambda text: gh.Hook(text, ("x",)) if text else None  # noqa: E731
    return gh.HookSpec(hook(pre), hook(post), 10, on_failure)


def traced(dom: mock.Mock, events: list[str]) -> None:
    def freeze(*args: Any) -> int:
        events.append("freeze")
        return 1

    dom.fsFreeze.side_effect = freeze
    dom.fsThaw.side_effect = lambda *args: events.append("thaw")


def test_hooks_go_around_the_freeze(scripted: list[str]) -> None:
    dom = fake_domain()
    traced(dom, scripted)
    with GuestFreeze(dom, hooks=spec("ok")) as g:
        assert g.consistency == Consistency.FS_FROZEN
    assert scripted == ["pre_freeze", "freeze", "thaw", "post_thaw"]
    assert [r.status for r in g.hook_results] == ["ok", "ok"]


def test_a_failed_pre_hook_means_no_freeze_and_the_post_hook_still_runs(scripted: list[str]) -> None:
    dom = fake_domain()
    traced(dom, scripted)
    with GuestFreeze(dom, hooks=spec("failed:2")) as g:
        pass
    assert scripted == ["pre_freeze", "post_thaw"]
    assert g.consistency == Consistency.CRASH
    assert g.reason == "pre-freeze hook failed (exit code 2): the guest was not frozen"


def test_a_failed_pre_hook_can_fail_the_backup(scripted: list[str]) -> None:
    dom = fake_domain()
    traced(dom, scripted)
    freeze = GuestFreeze(dom, hooks=spec("timed-out", on_failure="fail"))
    with pytest.raises(gh.HookFailed, match="domain vm: pre-freeze hook timed-out"), freeze:
        pytest.fail("the block must not run")
    # the post hook ran once, even though __exit__ is called again by a try/finally caller
    freeze.__exit__(None, None, None)
    assert scripted == ["pre_freeze", "post_thaw"]


def test_hooks_without_a_guest_agent_cannot_run(scripted: list[str]) -> None:
    with GuestFreeze(fake_domain("<domain><devices/></domain>"), hooks=spec("ok")) as g:
        pass
    assert scripted == []
    assert [(r.status, r.reason) for r in g.hook_results] == [
        ("error", "the domain has no guest agent channel"),
        ("error", "the domain has no guest agent channel"),
    ]
    with pytest.raises(gh.HookFailed, match="no guest agent channel; the snapshot fails"):
        GuestFreeze(fake_domain("<domain><devices/></domain>"), hooks=spec("ok", None, "fail")).__enter__()


def test_hooks_without_a_freeze(scripted: list[str]) -> None:
    dom = fake_domain()
    with GuestFreeze(dom, hooks=spec(None), freeze=False) as g:
        pass
    dom.fsFreeze.assert_not_called()
    assert scripted == ["post_thaw"] and g.reason == "quiesce not requested"
