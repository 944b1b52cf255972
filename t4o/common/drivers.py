"""Implementations chosen by configuration: an option names an entry point of a group.

- ``cloud_driver = NAME``: the entry point ``NAME`` of ``t4o.clouds``, a :class:`t4o.openstack.cloud.Cloud`
  class (the product installs ``nova``).
- ``workflow_driver = NAME``: the entry points ``NAME.snapshot`` and ``NAME.restore`` of ``t4o.workflows``,
  the job workflows (the product installs ``datamover``).

A name that no installed distribution registers, or that two register, is a configuration error found when
a service starts: the choice is never left to the order in which distributions are found.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from oslo_config import cfg

CLOUDS = "t4o.clouds"
WORKFLOWS = "t4o.workflows"
WORKFLOW_KINDS = ("snapshot", "restore")


class DriverNotFound(cfg.Error):
    """The option names no single installed entry point."""


def find(group: str, name: str, option: str) -> metadata.EntryPoint:
    """The one entry point ``name`` of ``group``; ``option`` is named in the error otherwise."""
    found = list(metadata.entry_points(group=group, name=name))
    if len(found) == 1:
        return found[0]
    if found:
        dists = ", ".join(sorted(ep.dist.name if ep.dist else "?" for ep in found))
        raise DriverNotFound(f"{option}: the entry point {name} of {group} is registered by {dists}")
    known = ", ".join(sorted({ep.name for ep in metadata.entry_points(group=group)})) or "none"
    raise DriverNotFound(f"{option}: no entry point {name} in {group} (installed: {known})")


def load(group: str, name: str, option: str) -> Any:
    return find(group, name, option).load()


def workflow_name(driver: str, kind: str) -> str:
    return f"{driver}.{kind}"


def check(conf: cfg.ConfigOpts) -> None:
    """Fail at start-up on a driver option that names nothing installed."""
    find(CLOUDS, conf.cloud_driver, f"cloud_driver = {conf.cloud_driver}")
    for kind in WORKFLOW_KINDS:
        name = workflow_name(conf.workflow_driver, kind)
        find(WORKFLOWS, name, f"workflow_driver = {conf.workflow_driver}")
