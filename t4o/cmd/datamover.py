"""Console script ``datamover``: the agent on a compute host, an RPC server on topic ``datamover``
addressed by the host's name (the name Nova reports as the server's ``OS-EXT-SRV-ATTR:host``)."""

from __future__ import annotations

import sys

from t4o.cmd import common
from t4o.common.config import CONF
from t4o.common.service import Service
from t4o.datamover import config as dm_config
from t4o.datamover.agent.manager import DatamoverAgent
from t4o.db import api as db


def main() -> None:
    dm_config.register_opts(CONF)
    common.setup(sys.argv[1:], "datamover")
    agent = DatamoverAgent(CONF)
    service = Service(CONF, "datamover", CONF.datamover.topic, [agent], heartbeat=db.service_heartbeat)
    try:
        service.start()
    except Exception as exc:  # RabbitMQ or the database unreachable: one clear line
        common.fail(f"datamover could not start: {exc}")
    common.wait_for_signal(service.stop)
