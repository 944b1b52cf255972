"""Console script workloadmgr-manage: database schema, Keystone registration, the OpenAPI document.

workloadmgr-manage [--config-file F] db sync | db version
workloadmgr-manage [--config-file F] keystone register --url URL [--internal-url U] [--admin-url U]
                    [--datamover-url URL [--datamover-internal-url U] [--datamover-admin-url U]] [--region R]
workloadmgr-manage openapi [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import sys

import yaml

from t4o.api.spec import openapi
from t4o.cmd import common
from t4o.common.config import CONF
from t4o.db import session
from t4o.openstack import keystone


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workloadmgr-manage", description="T4O control plane administration")
    p.add_argument("--config-file", action="append", default=[], help="oslo.config file (repeatable)")
    # --config-file is accepted after the command too (where oslo services' users put it).
    conf = argparse.ArgumentParser(add_help=False)
    conf.add_argument("--config-file", action="append", default=argparse.SUPPRESS, help="oslo.config file")
    sub = p.add_subparsers(dest="area", required=True)
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    db.add_parser("sync", help="create or upgrade the schema to the newest version", parents=[conf])
    db.add_parser("version", help="print the schema version", parents=[conf])
    ks = sub.add_parser("keystone", help="Keystone catalog").add_subparsers(dest="action", required=True)
    reg = ks.add_parser(
        "register",
        help="register service types 'workloads' (and 'datamover') with public, internal and admin endpoints",
        parents=[conf],
    )
    reg.add_argument(
        "--url", required=True, help="endpoint URL, e.g. http://127.0.0.1:8780/v1/%%(project_id)s"
    )
    reg.add_argument("--internal-url", help="internal endpoint of 'workloads' (default: --url)")
    reg.add_argument("--admin-url", help="admin endpoint of 'workloads' (default: --url)")
    reg.add_argument(
        "--datamover-url", help="also register 'datamover' (datamover-api), e.g. http://127.0.0.1:8784/v2"
    )
    reg.add_argument(
        "--datamover-internal-url", help="internal endpoint of 'datamover' (default: --datamover-url)"
    )
    reg.add_argument("--datamover-admin-url", help="admin endpoint of 'datamover' (default: --datamover-url)")
    reg.add_argument("--region", default="RegionOne")
    reg.add_argument(
        "--os-cloud", default=None, help="clouds.yaml entry of an admin (default: OS_* variables)"
    )
    oa = sub.add_parser("openapi", help="write the OpenAPI document")
    oa.add_argument("--output", default="-", help="file to write (.json or .yaml), '-' for stdout")
    return p


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.area == "openapi":
        doc = openapi()
        if args.output.endswith((".yaml", ".yml")):
            text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        else:
            text = json.dumps(doc, indent=2) + "\n"
        if args.output == "-":
            sys.stdout.write(text)
        else:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(text)
        return
    conf_args = [a for f in args.config_file for a in ("--config-file", f)]
    common.setup(conf_args, "workloadmgr-manage")
    if args.area == "db":
        try:
            if args.action == "sync":
                session.sync()
                print(f"database at revision {session.current_revision(CONF.database.connection)}")
            else:
                print(session.current_revision(CONF.database.connection) or "empty")
        except Exception as exc:
            common.fail(f"database {args.action} failed: {exc}")
    elif args.area == "keystone":
        wanted = [("workloads", args.url, args.internal_url, args.admin_url)]
        if args.datamover_url:
            wanted.append(
                ("datamover", args.datamover_url, args.datamover_internal_url, args.datamover_admin_url)
            )
        for service_type, url, internal, admin in wanted:
            others = {k: v for k, v in (("internal", internal), ("admin", admin)) if v}
            try:
                sid = keystone.register_service(url, args.region, args.os_cloud, service_type, others)
            except Exception as exc:
                common.fail(f"keystone registration of {service_type} failed: {exc}")
            print(f"service type '{service_type}' ({sid}) registered at {url}")
