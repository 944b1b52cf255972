"""Console script ``datamover``: the agent on a compute host, an RPC server on topic ``datamover``
addressed by the host's name (the name Nova reports as the server's ``OS-EXT-SRV-ATTR:host``)."""

from __future__ import annotations

from t4o.cmd import services
from t4o.common.config import CONF
from t4o.common.service import Service
from t4o.datamover import config as dm_config
from t4o.datamover.agent.manager import DatamoverAgent

BINARY = "datamover"


def build() -> Service:
    agent = DatamoverAgent(CONF)
    agent.mounts.restore()  # serve again the snapshot mounts of this host before taking requests
    agent.clear_abandoned()  # end backup jobs and drop checkpoints an agent killed mid-transfer left
    return services.service(BINARY, CONF.datamover.topic, agent)


def main() -> None:
    dm_config.register_opts(CONF)
    services.run(BINARY, build)
