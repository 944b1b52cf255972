"""Command base classes: one place that turns client errors into one-line CLI errors, and output helpers."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from typing import Any

from keystoneauth1 import exceptions as ksa_exc
from openstack import exceptions as sdk_exc
from osc_lib import exceptions as osc_exc
from osc_lib.cli import format_columns
from osc_lib.command import command

from t4o.client import Client, ClientError
from t4o.client.http import translate


class _AuthNeeded:
    """Stands in for a command when authentication is triggered from inside take_action."""

    auth_required = True


class ClientCommandMixin:
    """Runs :meth:`act` with the API client; errors become ``CommandError`` (one line, no traceback).

    Commands declare ``auth_required = False`` so that the shell does not authenticate before
    take_action; authentication happens here instead, where its failures get a helpful message.
    """

    auth_required = False
    app: Any
    # Options naming projects (a value or a list): names become IDs through Keystone before act().
    project_options: tuple[str, ...] = ()

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        raise NotImplementedError

    def _in_our_words(self, message: str) -> str:
        """Hints name `openstack workload ...` commands; a program with other names maps them."""
        for theirs, ours in getattr(self.app, "command_hints", {}).items():
            message = message.replace(theirs, ours)
        return message

    def client(self) -> Client:
        try:
            self.app.prepare_to_run_command(_AuthNeeded())
        except (osc_exc.CommandError, sdk_exc.ConfigException) as err:
            # openstacksdk's and osc-lib's checks of the auth options ("Missing value auth-url required ...")
            raise ClientError(
                f"Cannot authenticate: {err}. Set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME, "
                "choose a cloud of clouds.yaml with --os-cloud, or give --os-endpoint and --os-token "
                "(plus --os-auth-type admin_token when OS_* variables are set)."
            ) from err
        return self.app.client_manager.workload

    def _resolve_projects(self, client: Client, args: argparse.Namespace) -> None:
        for name in self.project_options:
            value = getattr(args, name, None)
            if isinstance(value, str):
                setattr(args, name, client.projects.id_of(value))
            elif isinstance(value, list):
                setattr(args, name, [client.projects.id_of(v) for v in value])

    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        try:
            client = self.client()
            self._resolve_projects(client, parsed_args)
            return self.act(client, parsed_args)
        except ClientError as err:
            raise osc_exc.CommandError(self._in_our_words(str(err))) from err
        except ksa_exc.ClientException as err:
            raise osc_exc.CommandError(str(translate(err))) from err
        except (OSError, ValueError) as err:
            raise osc_exc.CommandError(str(err)) from err


class Command(ClientCommandMixin, command.Command):
    pass


class Lister(ClientCommandMixin, command.Lister):
    pass


class ShowOne(ClientCommandMixin, command.ShowOne):
    pass


def act_on_each(names: list[str], noun: str, action: Any, plural: str | None = None) -> None:
    """Run ``action(name)`` for every name; report every failure in one error at the end."""
    failures = []
    for name in names:
        try:
            action(name)
        except ClientError as err:
            failures.append((name, str(err)))
    if len(failures) == 1 and len(names) == 1:
        raise ClientError(failures[0][1])
    if failures:
        details = "; ".join(f"{n}: {e}" for n, e in failures)
        raise ClientError(f"{len(failures)} of {len(names)} {plural or noun + 's'} not deleted: {details}")


def formattable(value: Any) -> Any:
    """Nested values as osc-lib columns: readable in tables, still structured in json/yaml."""
    if isinstance(value, dict):
        return format_columns.DictColumn(value)
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return format_columns.ListDictColumn(value)
        return format_columns.ListColumn(value)
    return value


def show(resource: dict[str, Any], hidden: Iterable[str] = ()) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """(columns, values) of one resource for a ShowOne command, fields sorted by name."""
    keys = tuple(sorted(k for k in resource if k not in set(hidden)))
    return keys, tuple(formattable(resource[k]) for k in keys)


def rows(
    resources: Sequence[dict[str, Any]], fields: Sequence[str], headers: Sequence[str]
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    return tuple(headers), [tuple(formattable(r.get(f)) for f in fields) for r in resources]


def key_value(text: str) -> tuple[str, str]:
    """argparse type of ``KEY=VALUE`` options."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def boolean(text: str) -> bool:
    """argparse type of true/false values (Trilio's CLI takes ``--database_only True``)."""
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_wait_options(parser: argparse.ArgumentParser, kind: str) -> None:
    parser.add_argument(
        "--wait",
        action="store_true",
        help=f"Wait until the {kind} finishes, showing a progress bar (percent, bytes, rate); exit non-zero "
        f"with the {kind}'s error message when it fails or is cancelled.",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="With --wait: give up waiting after this many seconds (the job keeps running); default: none.",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="With --wait: seconds between two progress polls (default 1).",
    )


def add_paging_options(
    parser: argparse.ArgumentParser, noun: str, one: str | None = None, key: str = "ID"
) -> None:
    """--limit and --marker of a paged list of ``noun`` (plural; ``one``: its singular if not noun[:-1]);
    the marker is the ``key`` of the last item seen."""
    parser.add_argument(
        "--limit",
        type=int,
        metavar="<count>",
        help=f"Show at most this many {noun} (one page of the API); default: all of them",
    )
    parser.add_argument(
        "--marker",
        metavar=f"<{key.lower()}>",
        help=f"Start after the {one or noun[:-1]} with this {key} (the last one of the previous page)",
    )


def paging(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in (("limit", args.limit), ("marker", args.marker)) if v is not None}
