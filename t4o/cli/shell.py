"""Standalone ``workloadmgr`` command with Trilio's command names, on osc-lib like ``openstack``.

Authentication is OpenStackClient's: clouds.yaml (--os-cloud), OS_* variables, or --os-endpoint with
--os-token (all-in-one: ``--os-endpoint http://127.0.0.1:8780/v1/<project> --os-token user:<project>``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cliff import complete
from cliff.commandmanager import CommandManager
from osc_lib import clientmanager, shell
from osc_lib.api import auth

from t4o import __version__
from t4o.cli import commands, osc_plugin


class WorkloadClientManager(clientmanager.ClientManager):
    workload = clientmanager.ClientCache(osc_plugin.make_client)


class Completion(complete.CompleteCommand):
    """Print a shell completion script: eval "$(workloadmgr completion bash)\""""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "shell_name",
            nargs="?",
            choices=sorted(self._formatters.names()),
            metavar="<shell>",
            help="Shell to complete in: bash (default) or none (a plain list of commands)",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        if parsed_args.shell_name:
            parsed_args.shell = parsed_args.shell_name
        return super().take_action(parsed_args)


class WorkloadmgrShell(shell.OpenStackShell):
    # The client's hints name OpenStackClient commands; here they read as workloadmgr's.
    command_hints = {
        f"`openstack workload {osc}": f"`workloadmgr {ours}"
        for osc, ours in (
            ("file search show ", "file-search-show "),
            ("snapshot list", "snapshot-list"),
            ("snapshot show ", "snapshot-show "),
            ("restore list", "restore-list"),
            ("restore show ", "restore-show "),
            ("setting list", "setting-list"),
            ("policy list", "policy-list"),
            ("quota list", "project-allowed-quota-list"),
            ("node list", "workload-get-nodes"),
            ("type list", "workload-type-list"),
            ("list", "workload-list"),
        )
    }

    def __init__(self) -> None:
        manager = CommandManager("t4o.workloadmgr")
        for name, cls in commands.WORKLOADMGR_COMMANDS.items():
            manager.add_command(name, cls)
        manager.add_command("completion", Completion)
        super().__init__(
            description="T4O backup and recovery of OpenStack workloads (Trilio workloadmgr command names)",
            version=__version__,
            command_manager=manager,
            deferred_help=True,
        )
        self.api_version = {osc_plugin.API_NAME: osc_plugin.DEFAULT_API_VERSION}

    def build_option_parser(
        self, description: str | None, version: str | None, argparse_kwargs: dict[str, Any] | None = None
    ) -> argparse.ArgumentParser:
        parser = super().build_option_parser(description, version, argparse_kwargs)
        parser = osc_plugin.build_option_parser(parser)
        return auth.build_auth_plugins_option_parser(parser)

    def _final_defaults(self) -> None:
        super()._final_defaults()
        # As `openstack` does: an endpoint and a token mean token auth against that endpoint.
        self._auth_type = "admin_token" if self.options.endpoint and self.options.token else "password"

    def initialize_app(self, argv: list[str]) -> None:
        super().initialize_app(argv)
        self.client_manager = WorkloadClientManager(
            cli_options=self.cloud, api_version=self.api_version, pw_func=shell.prompt_for_password
        )


def main(argv: list[str] | None = None) -> int:
    return WorkloadmgrShell().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
