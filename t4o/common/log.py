"""Logging helpers: one logger per module through oslo.log."""

from __future__ import annotations

from oslo_log import log as logging


def get_logger(name: str) -> logging.BaseLoggerAdapter:
    return logging.getLogger(name)
