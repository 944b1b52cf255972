"""OpenStackClient plugin: ``openstack workload ...`` (entry point group ``openstack.cli.extension``)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from t4o.client import Client
from t4o.client.http import noauth_project

API_NAME = "workload"
API_VERSION_OPTION = "os_workload_api_version"
DEFAULT_API_VERSION = "1"
API_VERSIONS = ("1",)

# Auth plugins that carry an explicit endpoint instead of a catalog (all-in-one's noauth).
_ENDPOINT_AUTH = ("none", "admin_token", "noauth", "token_endpoint")


def make_client(instance: Any) -> Client:
    """The t4o client of an osc-lib ClientManager (authenticated lazily, endpoint from the catalog)."""
    config = instance._cli_options.config
    override = config.get("workloads_endpoint_override")
    project_id = None
    fixed_endpoint = config.get("auth_type") in _ENDPOINT_AUTH
    if fixed_endpoint:
        project_id = noauth_project((config.get("auth") or {}).get("token"))
    return Client.from_session(
        instance.session,
        endpoint_override=override,
        interface=instance.interface,
        region_name=instance.region_name,
        project_id=project_id,
        keystone=not fixed_endpoint,
    )


def build_option_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--os-workload-api-version",
        metavar="<workload-api-version>",
        default=os.environ.get("OS_WORKLOAD_API_VERSION"),
        help="T4O workloadmgr API version, default 1 (env: OS_WORKLOAD_API_VERSION)",
    )
    parser.add_argument(
        "--os-workloads-endpoint-override",
        dest="workloads_endpoint_override",
        metavar="<url>",
        default=os.environ.get("OS_WORKLOADS_ENDPOINT_OVERRIDE"),
        help="URL of the workloadmgr API instead of the catalog's 'workloads' endpoint "
        "(env: OS_WORKLOADS_ENDPOINT_OVERRIDE)",
    )
    return parser
