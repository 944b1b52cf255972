"""File recovery in the Snapshots panel: a snapshot disk's directories, its volumes, and downloads."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any
from unittest import mock

import requests
from django.urls import reverse
from openstack_dashboard.test import helpers
from requests.packages.urllib3.connection import HTTPConnection

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content.snapshots import views
from t4o_dashboard.tests import base, data
from t4o_dashboard.tests.test_api import _response

DETAIL = reverse("horizon:project:backup_snapshots:detail", args=["sn-1"])
BROWSE = reverse("horizon:project:backup_snapshots:browse", args=["sn-1", data.VM1, "vda"])
DOWNLOAD = reverse("horizon:project:backup_snapshots:download", args=["sn-1", data.VM1, "vda"])

VOLUMES = [
    {
        "partition": 1,
        "start": 1048576,
        "size": 536870912,
        "filesystem": "ext4",
        "table": "gpt",
        "name": "boot",
    },
    {"partition": 2, "start": 537919488, "size": 1073741824, "filesystem": "xfs", "table": "gpt", "name": ""},
]


def listing(
    path: str = "/etc", partition: int = 1, volumes: list[Any] | None = None
) -> workloadmgr.FileListing:
    base = path.rstrip("/")
    return workloadmgr.FileListing(
        {
            "path": path,
            "partition": partition,
            "filesystem": "ext4",
            "volumes": VOLUMES if volumes is None else volumes,
            "entries": [
                {"name": "hosts", "path": f"{base}/hosts", "type": "file", "size": 1536, "mode": "0644",
                 "mtime": 1764140400, "uid": 0, "gid": 0, "link_target": None},
                {"name": "ssh", "path": f"{base}/ssh", "type": "directory", "size": 4096, "mode": "0755",
                 "mtime": 1764140400, "uid": 0, "gid": 0, "link_target": None},
                {"name": "mtab", "path": f"{base}/mtab", "type": "symlink", "size": 19, "mode": "0777",
                 "mtime": 1764140400, "uid": 0, "gid": 0, "link_target": "../proc/self/mounts"},
            ],
        }
    )  # fmt: skip


def upstream(body: list[bytes], headers: dict[str, str]) -> mock.Mock:
    resp = mock.Mock()
    resp.headers = headers
    resp.iter_content.return_value = iter(body)
    return resp


class SnapshotDetailBrowseLinkTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("snapshot_get", "restore_list", "workload_get", "mounted_list")})
    def test_detail_links_each_disk_to_its_files(self) -> None:
        self.mock_mounted_list.return_value = []
        self.mock_snapshot_get.return_value = data.snapshot()
        self.mock_restore_list.return_value = []
        self.mock_workload_get.return_value = data.workload()
        res = self.client.get(DETAIL)
        self.assertContains(res, f'href="{BROWSE}"')
        self.assertContains(res, "Browse files")

    @helpers.create_mocks({workloadmgr: ("snapshot_get", "restore_list", "workload_get")})
    def test_no_browse_link_while_the_snapshot_runs(self) -> None:
        self.mock_snapshot_get.return_value = data.snapshot(status="executing")
        self.mock_restore_list.return_value = []
        self.mock_workload_get.return_value = data.workload()
        res = self.client.get(DETAIL)
        self.assertNotContains(res, "Browse files")


class BrowseViewTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("snapshot_browse", "snapshot_get")})
    def test_entries_breadcrumb_and_links(self) -> None:
        self.mock_snapshot_browse.return_value = listing("/etc", partition=1)
        self.mock_snapshot_get.return_value = data.snapshot()
        res = self.client.get(BROWSE + "?path=/etc/&partition=1")
        self.assertTemplateUsed(res, "t4o_dashboard/snapshot_browse.html")
        self.mock_snapshot_browse.assert_called_once_with(
            helpers.IsHttpRequest(), "sn-1", data.VM1, "vda", "/etc", "1"
        )
        page = res.content.decode()
        self.assertContains(res, "Files of web: vda")
        # The breadcrumb: / and etc, each a link to its directory.
        crumbs = page.split('id="files_breadcrumb"')[1].split("</ol>")[0]
        self.assertIn(f'href="{BROWSE}?path=%2F&amp;partition=1">/</a>', crumbs)
        self.assertIn(f'href="{BROWSE}?path=%2Fetc&amp;partition=1">etc</a>', crumbs)
        # A directory's name links into it; a file's does not; .. goes up.
        self.assertContains(res, f'<a href="{BROWSE}?path=%2Fetc%2Fssh&amp;partition=1">ssh</a>', html=True)
        self.assertNotContains(res, f"{BROWSE}?path=%2Fetc%2Fhosts")
        self.assertContains(res, f'<a href="{BROWSE}?path=%2F&amp;partition=1">..</a>', html=True)
        # Sizes in IEC units, mode, time, link target, type.
        self.assertContains(res, "1.5 KiB")
        self.assertContains(res, "0644")
        self.assertContains(res, "2025-11-26 07:00:00")
        self.assertContains(res, "../proc/self/mounts")
        self.assertContains(res, "fa-folder-o")
        # Downloads: a file as it is, a directory as a tar; none for a symlink or ..
        self.assertContains(res, f'href="{DOWNLOAD}?path=%2Fetc%2Fhosts&amp;partition=1"')
        self.assertContains(res, f'href="{DOWNLOAD}?path=%2Fetc%2Fssh&amp;partition=1"')
        self.assertContains(res, "Download (tar)")
        self.assertNotContains(res, f"{DOWNLOAD}?path=%2Fetc%2Fmtab")
        self.assertNotContains(res, f"{DOWNLOAD}?path=%2F&amp;")

    @helpers.create_mocks({workloadmgr: ("snapshot_browse", "snapshot_get")})
    def test_root_has_no_parent_row(self) -> None:
        self.mock_snapshot_browse.return_value = listing("/", partition=1)
        self.mock_snapshot_get.return_value = data.snapshot()
        res = self.client.get(BROWSE)
        self.mock_snapshot_browse.assert_called_once_with(
            helpers.IsHttpRequest(), "sn-1", data.VM1, "vda", "/", None
        )
        self.assertNotContains(res, ">..</a>")
        self.assertContains(res, 'id="download_directory"')
        self.assertContains(res, f'href="{DOWNLOAD}?path=%2F&amp;partition=1"')  # / as root.tar
        # The volume the API chose (partition 1) is kept in the links.
        self.assertContains(res, f"{BROWSE}?path=%2Fssh&amp;partition=1")

    @helpers.create_mocks({workloadmgr: ("snapshot_browse", "snapshot_get")})
    def test_volume_selector_with_filesystem_and_size(self) -> None:
        self.mock_snapshot_browse.return_value = listing("/", partition=2)
        self.mock_snapshot_get.return_value = data.snapshot()
        res = self.client.get(BROWSE + "?partition=2")
        self.assertContains(res, 'id="volume_selector"')
        self.assertContains(res, '<option value="1">Partition 1: ext4, 512.0 MiB (boot)</option>', html=True)
        self.assertContains(res, '<option value="2" selected>Partition 2: xfs, 1.0 GiB</option>', html=True)

    @helpers.create_mocks({workloadmgr: ("snapshot_browse", "snapshot_get")})
    def test_one_volume_has_no_selector(self) -> None:
        self.mock_snapshot_browse.return_value = listing(
            "/", partition=0, volumes=[{"partition": 0, "size": 1, "filesystem": "ext4"}]
        )
        self.mock_snapshot_get.return_value = data.snapshot()
        res = self.client.get(BROWSE)
        self.assertNotContains(res, 'id="volume_selector"')

    @helpers.create_mocks({workloadmgr: ("snapshot_browse", "snapshot_get")})
    def test_missing_path_is_a_message_on_the_page(self) -> None:
        self.mock_snapshot_browse.side_effect = workloadmgr.WorkloadmgrNotFound("/nope is not there", 404)
        self.mock_snapshot_get.return_value = data.snapshot()
        res = self.client.get(BROWSE + "?path=/nope")
        self.assertEqual(200, res.status_code)
        self.assertMessageCount(res, error=1)
        self.assertContains(res, 'id="files_breadcrumb"')
        self.assertNotContains(res, 'id="download_directory"')
        self.assertNotContains(res, "Traceback")

    @helpers.create_mocks({workloadmgr: ("snapshot_browse", "snapshot_get")})
    def test_unsupported_filesystem_is_a_message(self) -> None:
        self.mock_snapshot_browse.side_effect = data.api_error(
            "Partition 2 holds swap, not a filesystem", 409
        )
        self.mock_snapshot_get.side_effect = data.api_error("down", 503)
        res = self.client.get(BROWSE + "?partition=2")
        self.assertEqual(200, res.status_code)
        self.assertMessageCount(res, error=1)
        self.assertContains(res, "Partition 2 holds swap, not a filesystem")  # the API's text
        self.assertContains(res, f"Files of {data.VM1}: vda")  # without the snapshot, the VM's id


class DownloadViewTests(base.TestCase):
    @helpers.create_mocks({workloadmgr: ("snapshot_download",)})
    def test_file_is_streamed_with_its_headers(self) -> None:
        resp = upstream(
            [b"127.0.0.1 ", b"localhost\n"],
            {
                "Content-Type": "application/octet-stream",
                "Content-Length": "20",
                "Content-Disposition": 'attachment; filename="hosts"',
            },
        )
        self.mock_snapshot_download.return_value = resp
        res = self.client.get(DOWNLOAD + "?path=/etc/hosts&partition=1")
        self.assertTrue(res.streaming)
        self.assertEqual(b"127.0.0.1 localhost\n", b"".join(res.streaming_content))
        self.assertEqual("application/octet-stream", res["Content-Type"])
        self.assertEqual("20", res["Content-Length"])
        self.assertEqual('attachment; filename="hosts"', res["Content-Disposition"])
        self.mock_snapshot_download.assert_called_once_with(
            helpers.IsHttpRequest(), "sn-1", data.VM1, "vda", "/etc/hosts", "1"
        )
        resp.iter_content.assert_called_once_with(64 * 1024)
        res.close()
        resp.close.assert_called_once_with()

    @helpers.create_mocks({workloadmgr: ("snapshot_download",)})
    def test_directory_is_a_tar_without_length(self) -> None:
        self.mock_snapshot_download.return_value = upstream(
            [b"tar-bytes"],
            {"Content-Type": "application/x-tar", "Content-Disposition": 'attachment; filename="etc.tar"'},
        )
        res = self.client.get(DOWNLOAD + "?path=/etc")
        self.assertEqual(b"tar-bytes", b"".join(res.streaming_content))
        self.assertEqual("application/x-tar", res["Content-Type"])
        self.assertFalse(res.has_header("Content-Length"))
        self.assertEqual('attachment; filename="etc.tar"', res["Content-Disposition"])

    @helpers.create_mocks({workloadmgr: ("snapshot_download",)})
    def test_error_goes_back_to_the_directory_with_a_message(self) -> None:
        self.mock_snapshot_download.side_effect = data.api_error("Snapshot sn-1 is executing", 409)
        res = self.client.get(DOWNLOAD + "?path=/etc/hosts&partition=1")
        self.assertRedirectsNoFollow(res, BROWSE + "?path=%2Fetc&partition=1")
        self.assertMessageCount(error=1)

    @helpers.create_mocks({workloadmgr: ("snapshot_download",)})
    def test_missing_file_goes_back_with_a_message(self) -> None:
        self.mock_snapshot_download.side_effect = workloadmgr.WorkloadmgrNotFound("No /etc/nope", 404)
        res = self.client.get(DOWNLOAD + "?path=/etc/nope")
        self.assertRedirectsNoFollow(res, BROWSE + "?path=%2Fetc")
        self.assertMessageCount(error=1)


class FilesApiTests(base.TestCase):
    @mock.patch.object(requests, "request")
    def test_browse_url_and_query(self, request: mock.Mock) -> None:
        body = {
            "path": "/etc",
            "partition": 1,
            "entries": [{"name": "h", "path": "/etc/hosts", "type": "file"}],
        }
        request.return_value = _response(200, json.dumps({"browse": body}).encode())
        found = workloadmgr.snapshot_browse(self.request, "sn-1", data.VM1, "vda", "/etc", 1)
        self.assertEqual(
            ("/etc", 1, ["/etc/hosts"]), (found.path, found.partition, [e.path for e in found.entries])
        )
        method, url = request.call_args.args
        self.assertEqual(
            ("GET", f"{base.WORKLOADS_URL}/snapshots/sn-1/vms/{data.VM1}/disks/vda/browse"), (method, url)
        )
        self.assertEqual({"path": "/etc", "partition": "1"}, request.call_args.kwargs["params"])
        workloadmgr.snapshot_browse(self.request, "sn-1", data.VM1, "vg/lv")
        self.assertTrue(request.call_args.args[1].endswith("/disks/vg%2Flv/browse"))
        self.assertEqual({"path": "/"}, request.call_args.kwargs["params"])

    @mock.patch.object(requests, "request")
    def test_download_is_streamed_with_the_token(self, request: mock.Mock) -> None:
        request.return_value = _response(200, b"bytes")
        request.return_value._content_consumed = True  # the body is there already, not on a socket
        resp = workloadmgr.snapshot_download(self.request, "sn-1", data.VM1, "vda", "/etc/hosts", "2")
        self.assertEqual(b"bytes", b"".join(resp.iter_content(3)))
        kwargs = request.call_args.kwargs
        self.assertTrue(kwargs["stream"])
        self.assertEqual(self.token.id, kwargs["headers"]["X-Auth-Token"])
        self.assertEqual({"path": "/etc/hosts", "partition": "2"}, kwargs["params"])
        self.assertTrue(request.call_args.args[1].endswith("/disks/vda/download"))

    @mock.patch.object(requests, "request")
    def test_download_errors_carry_the_api_text(self, request: mock.Mock) -> None:
        request.return_value = _response(409, b'{"conflictingRequest": {"code": 409, "message": "swap"}}')
        with self.assertRaises(workloadmgr.WorkloadmgrError) as ctx:
            workloadmgr.snapshot_download(self.request, "sn-1", data.VM1, "vda", "/x")
        self.assertEqual("swap", str(ctx.exception))
        request.return_value = _response(404, b'{"itemNotFound": {"code": 404, "message": "no /x"}}')
        with self.assertRaises(workloadmgr.WorkloadmgrNotFound):
            workloadmgr.snapshot_download(self.request, "sn-1", data.VM1, "vda", "/x")


class StreamTests(base.TestCase):
    def test_a_broken_upstream_ends_the_body_and_is_closed(self) -> None:
        resp = mock.Mock()

        def pieces(size: int) -> Any:
            yield b"first"
            raise requests.exceptions.ChunkedEncodingError("connection reset")

        resp.iter_content.side_effect = pieces
        stream = views._Stream(resp)
        self.assertEqual([b"first"], list(stream))
        stream.close()
        resp.close.assert_called_once_with()


class _SlowFile(http.server.BaseHTTPRequestHandler):
    """Sends a file's first piece, then the rest only once the test says so."""

    release = threading.Event()
    released: list[bool] = []
    seen: list[tuple[str, str]] = []
    BODY = bytes(range(256)) * 1024  # 256 KiB

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("X-Auth-Token", "")))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.send_header("Content-Disposition", 'attachment; filename="big.bin"')
        self.end_headers()
        self.wfile.write(self.BODY[:65536])
        self.wfile.flush()
        self.released.append(self.release.wait(10))
        self.wfile.write(self.BODY[65536:])

    def log_message(self, *args: Any) -> None:
        pass


class DownloadThroughHttpTests(base.TestCase):
    """The download view with the real HTTP client against a local server: the browser's response starts
    while the API still sends, so the file is never read whole first."""

    def test_streams_while_the_api_still_sends(self) -> None:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowFile)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/project"
        # Horizon's test case refuses real connections; this one is to the local server only.
        real_connect = mock.patch.object(HTTPConnection, "connect", self._real_conn_request)
        with real_connect, mock.patch.object(workloadmgr, "_endpoint", return_value=endpoint):
            res = self.client.get(DOWNLOAD + "?path=/big.bin&partition=1")
            self.assertEqual([], _SlowFile.released)  # the view answered before the API's body was all sent
            _SlowFile.release.set()
            body = b"".join(res.streaming_content)
        res.close()
        self.assertEqual(_SlowFile.BODY, body)
        self.assertEqual([True], _SlowFile.released)
        self.assertEqual(str(len(_SlowFile.BODY)), res["Content-Length"])
        self.assertEqual('attachment; filename="big.bin"', res["Content-Disposition"])
        path, token = _SlowFile.seen[0]
        self.assertEqual(
            f"/v1/project/snapshots/sn-1/vms/{data.VM1}/disks/vda/download?path=%2Fbig.bin&partition=1", path
        )
        self.assertEqual(self.token.id, token)
