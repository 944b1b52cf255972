"""File recovery in the client and CLI, module by module: the VM and disk found in a snapshot record,
option parsing, where a download goes, the tar end-of-archive check, response headers, the streaming
writer's checks and the transfer bar."""

from __future__ import annotations

import argparse
import io
import tarfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests

from t4o.cli import files
from t4o.cli.progress import TransferBar
from t4o.client import AmbiguousName, ClientError, IncompleteDownload
from t4o.client.files import Download, TarEnd, filename_of, range_header

SNAP = {
    "id": "s1",
    "instances": [
        {"id": "vm1", "name": "web", "vdisks": [{"target": "vda", "ref": "d/1"}, {"target": "vdb"}]},
        {"id": "vm2", "name": "db", "vdisks": [{"volume_id": "vol-9", "ref": "d/2"}]},
        {"id": "vm3", "name": "db", "vdisks": []},
    ],
}


def test_locate_vm_and_disk() -> None:
    one = {"id": "s1", "instances": SNAP["instances"][:1]}
    assert files.locate(one, None, None) == ("vm1", "vda")
    assert files.locate(one, None, "vdb") == ("vm1", "vdb")
    assert files.locate(SNAP, "web", None) == ("vm1", "vda")
    assert files.locate(SNAP, "vm2", None) == ("vm2", "vol-9")
    with pytest.raises(ClientError, match=r"^Snapshot s1 has 3 VMs \(vm1 \(web\), vm2 \(db\), vm3 \(db\)\): "
                       r"choose one with --vm\.$"):  # fmt: skip
        files.locate(SNAP, None, None)
    with pytest.raises(AmbiguousName, match=r"2 VMs of snapshot s1 are named 'db' \(vm2, vm3\)"):
        files.locate(SNAP, "db", None)
    with pytest.raises(ClientError, match="has no VM 'ghost'; its VMs: vm1 "):
        files.locate(SNAP, "ghost", None)
    with pytest.raises(ClientError, match=r"^VM vm3 of snapshot s1 has no disks recorded\.$"):
        files.locate(SNAP, "vm3", None)
    with pytest.raises(ClientError, match=r"^Snapshot s2 has no VMs\.$"):
        files.locate({"id": "s2", "instances": []}, None, None)


def _parse(cls: type, argv: list[str]) -> argparse.Namespace:
    return cls(mock.Mock(), mock.Mock()).get_parser("x").parse_args(argv)


def test_arguments() -> None:
    args = _parse(files.BrowseSnapshot, ["snap", "--vm-id", "v", "--disk", "vdb", "--partition", "2"])
    assert (args.snapshot, args.vm, args.disk, args.path, args.partition, args.volumes) == (
        "snap", "v", "vdb", "/", "2", False
    )  # fmt: skip
    args = _parse(files.BrowseSnapshot, ["snap", "--vm_id", "v", "--partition", "vg0/root", "--volumes"])
    assert (args.vm, args.partition, args.volumes) == ("v", "vg0/root", True)
    args = _parse(files.DownloadSnapshot, ["snap", "--vm", "v", "--path", "/etc", "-o", "-"])
    assert (args.vm, args.disk, args.path, args.output) == ("v", None, "/etc", "-")
    with pytest.raises(SystemExit):  # --path is required
        _parse(files.DownloadSnapshot, ["snap"])
    for bad in ("x", "1/2/3", "/lv", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            files.partition(bad)


def test_target_of(tmp_path: Path) -> None:
    assert files.target_of(None, "hosts") == (Path("hosts"), False)
    assert files.target_of(str(tmp_path), "etc.tar") == (tmp_path / "etc.tar", False)
    assert files.target_of(str(tmp_path / "h"), "hosts") == (tmp_path / "h", True)


def test_mtime_text() -> None:
    assert files.mtime_text(1_700_000_000) == "2023-11-14T22:13:20Z"
    assert files.mtime_text(None) is None


def _tar(members: dict[str, bytes], long_name: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("top")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(("top/" + "n" * 150 + "/" if long_name else "top/") + name)
            info.size = len(data)
            info.pax_headers = {"comment": "x" * 700}  # a pax record longer than a block
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("piece", [1, 100, 512, 4096, 1 << 20])
def test_tar_end_is_found_in_any_pieces(piece: int) -> None:
    data = _tar({"a": b"x" * 1000, "b": b"", "c": bytes(2048)}, long_name=True)
    end = TarEnd()
    for i in range(0, len(data), piece):
        end.feed(data[i : i + piece])
    assert end.complete and not end.damaged


def test_tar_end_missing_when_cut() -> None:
    data = _tar({"a": b"x" * 1000, "zeros": bytes(4096)})
    # cut anywhere before the end-of-archive blocks: never complete, even inside a file of zeros
    marker = data.index(bytes(4096)) + 4096 + 1024  # past the zero file and the 2 end blocks
    for cut in (0, 511, 512, 1500, data.index(bytes(4096)) + 2048, marker - 513):
        end = TarEnd()
        end.feed(data[:cut])
        assert not end.complete, cut
    end = TarEnd()
    end.feed(b"\xff" * 512)
    assert end.damaged.startswith("a damaged tar header")


def test_range_and_filename() -> None:
    assert range_header(None, None) is None
    assert range_header(10, None) == "bytes=10-"
    assert range_header(None, 5) == "bytes=0-4"
    assert range_header(100, 1) == "bytes=100-100"
    with pytest.raises(ValueError):
        range_header(-1, None)
    with pytest.raises(ValueError):
        range_header(0, 0)
    assert filename_of("attachment; filename=\"a_b\"; filename*=UTF-8''a%20b", "x") == "a b"
    assert filename_of('attachment; filename="etc.tar"', "x") == "etc.tar"
    assert filename_of("attachment; filename*=UTF-8''..%2F..%2Fpasswd", "x") == "passwd"
    assert filename_of('attachment; filename=".."', "x") == "x"
    assert filename_of(None, "fallback") == "fallback"


class FakeResponse:
    def __init__(self, chunks: list[Any], headers: dict[str, str], status: int = 200) -> None:
        self.chunks, self.headers, self.status_code = chunks, headers, status
        self.closed = False

    def iter_content(self, chunk_size: int) -> Any:
        for c in self.chunks:
            if isinstance(c, Exception):
                raise c
            yield c

    def close(self) -> None:
        self.closed = True


def test_download_writes_and_checks_the_length() -> None:
    headers = {"Content-Length": "6", "Content-Disposition": 'attachment; filename="f"'}
    seen: list[tuple[int, int | None]] = []
    out = io.BytesIO()
    with Download(FakeResponse([b"abc", b"def"], headers), "/x/f") as d:
        assert d.write_to(out, lambda n, t: seen.append((n, t))) == 6
    assert out.getvalue() == b"abcdef" and seen == [(3, 6), (6, 6)] and d.filename == "f"

    short = Download(FakeResponse([b"abc"], headers), "/x/f")
    with pytest.raises(
        IncompleteDownload, match=r"^The download of /x/f stopped after 3 of 6 bytes: the answer"
    ):
        short.write_to(io.BytesIO())
    broken = Download(FakeResponse([b"abc", requests.exceptions.ChunkedEncodingError("x")], headers), "/x/f")
    with pytest.raises(IncompleteDownload, match=r"after 3 of 6 bytes: the connection broke") as err:
        broken.write_to(io.BytesIO())
    assert err.value.received == 3


def test_download_of_a_directory_needs_the_tar_end() -> None:
    data = _tar({"a": b"hello"})
    tar_headers = {
        "Content-Type": "application/x-tar",
        "Content-Disposition": 'attachment; filename="top.tar"',
    }
    d = Download(FakeResponse([data[:700], data[700:]], tar_headers), "/top")
    assert d.is_directory and d.expected is None and d.write_to(io.BytesIO()) == len(data)
    cut = Download(FakeResponse([data[:1024]], tar_headers), "/top")
    with pytest.raises(
        IncompleteDownload, match="stopped after 1024 bytes: the tar stream has no end-of-archive"
    ):
        cut.write_to(io.BytesIO())


def test_range_answer_gives_the_file_size() -> None:
    d = Download(FakeResponse([], {"Content-Length": "10", "Content-Range": "bytes 5-14/100"}, 206), "/f")
    assert (d.expected, d.file_size, d.filename) == (10, 100, "f")


def test_transfer_bar() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = TransferBar(stream, "big.bin", tty=True, width=200, clock=lambda: now[0])
    now[0] = 1.0
    assert bar.render(512 * 1024, 1024 * 1024) == (
        "big.bin [###############...............]  50%  512.0 KiB/1.0 MiB  512.0 KiB/s"
    )
    assert bar.render(2048, None) == "big.bin  2.0 KiB  2.0 KiB/s"
    bar.update(1, 1024 * 1024)
    bar.update(2, 1024 * 1024)  # within the redraw interval: not drawn
    assert stream.getvalue().count("\r") == 1
    bar.update(1024 * 1024, 1024 * 1024)
    bar.finish()  # the last state is drawn, then the line ends
    assert stream.getvalue().endswith("100%  1.0 MiB/1.0 MiB  1.0 MiB/s\n")
    quiet = io.StringIO()
    off = TransferBar(quiet, "f", tty=False)
    off.update(5, 10)
    off.finish()
    assert quiet.getvalue() == ""
