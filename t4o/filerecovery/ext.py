"""ext2, ext3 and ext4 through ``debugfs`` (e2fsprogs), read-only, on a file at any offset.

Why debugfs: it reads any ext* feature set (extents, inline data, htree directories, 64-bit,
metadata checksums) without a kernel mount or root, opens a filesystem inside a partitioned disk
with the unix I/O manager's ``file?offset=N`` option, and answers in milliseconds: one process runs a
batch of commands read from its standard input (``-f -``), so a directory listing with every
entry's stat, or one level of a search walk, costs one process. ``-c`` (catastrophic mode) skips
reading the allocation bitmaps, which a reader never needs; the journal is not replayed (a snapshot
of a running guest reads as after a crash, without the last uncommitted transactions).

Commands name files by inode (``<12>``) once a path is resolved; a path argument is its exact bytes
double-quoted with an inner ``"`` doubled (debugfs' own quoting). debugfs reads its commands line by
line (a carriage return ends one too), so a path with a line break in a name is found by inode
instead, one directory listing at a time (a symlink in the middle of such a path is not followed).
``ls -p`` prints names as raw bytes, a record ``/inode/mode/uid/gid/name/size/`` each: a name holds
no ``/``, so a record is parsed exactly even with a newline in the name. Each command's output is
found after its echo (``debugfs: COMMAND``) on standard output.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Sequence

from t4o.filerecovery import tools
from t4o.filerecovery.entries import SYMLINK, Entry, basename, normalize, type_of_mode
from t4o.filerecovery.errors import ToolError
from t4o.filerecovery.names import decode, encode
from t4o.filerecovery.reader import Extent, FilesystemReader, slice_chunks, stream_extents

BATCH = 2000  # commands per debugfs process

_TYPE_BITS = {
    b"regular": 0o100000,
    b"directory": 0o040000,
    b"symlink": 0o120000,
    b"character special": 0o020000,
    b"block special": 0o060000,
    b"FIFO": 0o010000,
    b"socket": 0o140000,
}
_INODE = re.compile(rb"^Inode: (\d+)\s+Type: (.+?)\s+Mode:\s+([0-7]+)", re.M)
_OWNER = re.compile(rb"^User:\s+(\d+)\s+Group:\s+(\d+).*?Size: (\d+)", re.M)
_MTIME = re.compile(rb"^\s*mtime: 0x([0-9a-f]+)(?::([0-9a-f]+))?", re.M)
_FAST_LINK = re.compile(rb'^Fast link dest: "(.*)"$', re.M | re.S)
_LS_LINE = re.compile(rb"/(\d+)/([0-7]+)/(\d+)/(\d+)/([^/]*)/(\d*)/(?:\n|$)")
_LINE_BREAKS = ("\n", "\r")
_EXTENT = re.compile(
    rb"^\s*(\d+)/\s*(\d+)\s+\d+/\s*\d+\s+(\d+) -\s*\d+\s+(\d+) -\s*\d+\s+(\d+)[ \t]*(\S*)", re.M
)


def quote(path: str) -> bytes:
    """A path as one debugfs argument: its bytes in double quotes, an inner quote doubled."""
    raw = encode(normalize(path))
    return b'"' + raw.replace(b'"', b'""') + b'"'


def parse_ls(out: bytes) -> list[tuple[int, int, bytes]]:
    """(inode, mode, name) of each record of ``ls -p``; ``.``, ``..`` and the empty slots of a
    directory's blocks (inode 0, no name: lost+found is made of them) left out."""
    records = []
    for match in _LS_LINE.finditer(out):
        name = match.group(5)
        if name not in (b"", b".", b"..") and match.group(1) != b"0":
            records.append((int(match.group(1)), int(match.group(2), 8), name))
    return records


class ExtReader(FilesystemReader):
    def __init__(self, image: str, offset: int = 0, fstype: str = "ext4") -> None:
        self.fstype = fstype
        self._tmp: str | None = None
        if "?" in image:  # the I/O manager reads options after a '?': hide it behind a link
            self._tmp = tempfile.mkdtemp(prefix="t4o-fr-")
            os.symlink(os.path.abspath(image), os.path.join(self._tmp, "disk"))
            image = os.path.join(self._tmp, "disk")
        self._spec = image if offset == 0 else f"{image}?offset={offset}"
        self._offset = offset
        self._debugfs = tools.which("debugfs")
        # Opening fails early, with debugfs' reason, on something that is not an ext filesystem.
        stats = self._batch([b"stats -h"])[0]
        block = re.search(rb"^Block size:\s+(\d+)", stats, re.M)
        if block is None:
            raise ToolError(f"debugfs shows no block size for {self._spec}")
        self.blocksize = int(block.group(1))
        self._fd = os.open(image, os.O_RDONLY)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._tmp:
            os.unlink(os.path.join(self._tmp, "disk"))
            os.rmdir(self._tmp)
            self._tmp = None

    def _batch(self, commands: Sequence[bytes]) -> list[bytes]:
        """Runs commands in one debugfs process per BATCH: the output of each."""
        outputs: list[bytes] = []
        for start in range(0, len(commands), BATCH):
            part = commands[start : start + BATCH]
            out, err = tools.run([self._debugfs, "-c", "-f", "-", self._spec], stdin=b"\n".join(part) + b"\n")
            echoes = [b"debugfs: " + c + b"\n" for c in part]
            if not out.startswith(echoes[0]):
                raise ToolError(f"debugfs cannot read {self._spec}: {_last_line(err)}")
            position = len(echoes[0])
            for i in range(len(part)):
                nxt = out.find(echoes[i + 1], position) if i + 1 < len(part) else len(out)
                if nxt < 0:
                    raise ToolError(f"debugfs output out of step at {part[i + 1]!r}: {_last_line(err)}")
                outputs.append(out[position:nxt])
                position = nxt + (len(echoes[i + 1]) if i + 1 < len(part) else 0)
        return outputs

    def _arguments(self, paths: Sequence[str]) -> list[bytes | None]:
        """Each normalized path as a debugfs argument: quoted, or ``<inode>`` for a path with a line
        break, found through the listings of its directories; None when it does not exist."""
        args: list[bytes | None] = []
        listings: dict[bytes, dict[bytes, int]] = {}
        for path in paths:
            if not any(c in path for c in _LINE_BREAKS):
                args.append(quote(path))
                continue
            parts = path.split("/")[1:]
            first = next(i for i, part in enumerate(parts) if any(c in part for c in _LINE_BREAKS))
            arg: bytes | None = quote("/" + "/".join(parts[:first]))
            for part in parts[first:]:
                assert arg is not None
                if arg not in listings:
                    out = self._batch([b"ls -p " + arg])[0]
                    listings[arg] = {name: inode for inode, _, name in parse_ls(out)}
                inode = listings[arg].get(encode(part))
                arg = None if inode is None else b"<%d>" % inode
                if arg is None:
                    break
            args.append(arg)
        return args

    def stat_many(self, paths: Sequence[str]) -> list[Entry | None]:
        normalized = [normalize(p) for p in paths]
        args = self._arguments(normalized)
        outputs = iter(self._batch([b"stat " + a for a in args if a is not None]))
        entries: list[Entry | None] = []
        slow_links: list[int] = []
        for path, arg in zip(normalized, args, strict=True):
            entry = _parse_stat(path, next(outputs)) if arg is not None else None
            if entry is not None and entry.type == SYMLINK and entry.link_target is None:
                slow_links.append(len(entries))
            entries.append(entry)
        if slow_links:  # a target too long for the inode sits in a data block
            targets = self._batch([f"cat <{entries[i].inode}>".encode() for i in slow_links])  # type: ignore[union-attr]
            for i, target in zip(slow_links, targets, strict=True):
                entry = entries[i]
                assert entry is not None
                entries[i] = _with_target(entry, target[: entry.size])
        return entries

    def children(self, directories: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        normalized = [normalize(d) for d in directories]
        args = self._arguments(normalized)
        outputs = iter(self._batch([b"ls -p " + a for a in args if a is not None]))
        result: dict[str, list[tuple[str, str]]] = {}
        for directory, arg in zip(normalized, args, strict=True):
            records = parse_ls(next(outputs)) if arg is not None else []
            result[directory] = [(decode(name), type_of_mode(mode)) for _, mode, name in records]
        return result

    def read_entry(self, entry: Entry) -> Iterator[bytes]:
        return self.read_range(entry, 0, None)

    def read_range(self, entry: Entry, offset: int, length: int | None) -> Iterator[bytes]:
        extents = self._extents(entry.inode)
        if extents is not None:  # straight from the image, starting at the range
            return stream_extents(self._fd, extents, entry.size, offset, length)
        # block-mapped (ext2/3) or inline-data files: debugfs reads them from the start
        argv = [self._debugfs, "-c", "-R", f"cat <{entry.inode}>", self._spec]
        return slice_chunks(tools.stream(argv, expected=entry.size), offset, length)

    def _extents(self, inode: int) -> list[Extent] | None:
        """A file's data extents from its extent tree's leaves (``dump_extents -l``); None when the
        file has no extent tree."""
        out = self._batch([f"ex -l <{inode}>".encode()])[0]
        if not out.startswith(b"Level"):
            return None
        extents: list[Extent] = []
        bs = self.blocksize
        for m in _EXTENT.finditer(out):
            level, depth, logical, physical, count, flags = m.groups()
            if level != depth:  # an index node, not a leaf
                continue
            image = self._offset + int(physical) * bs if b"Uninit" not in flags else -1
            extents.append((int(logical) * bs, image, int(count) * bs))
        return sorted(extents)


def _parse_stat(path: str, out: bytes) -> Entry | None:
    head = _INODE.search(out)
    owner = _OWNER.search(out)
    if head is None or owner is None:
        return None
    kind = _TYPE_BITS.get(head.group(2).strip(), 0)
    mode = kind | int(head.group(3), 8)
    mtime = 0
    if m := _MTIME.search(out):
        seconds = int(m.group(1), 16)
        seconds -= (1 << 32) if seconds & (1 << 31) else 0
        if m.group(2):  # extra field: two epoch bits above the 32-bit seconds
            seconds += (int(m.group(2), 16) & 3) << 32
        mtime = seconds
    entry = Entry(
        path=path,
        name=basename(path),
        type=type_of_mode(mode),
        size=int(owner.group(3)),
        mode=mode,
        mtime=mtime,
        inode=int(head.group(1)),
        uid=int(owner.group(1)),
        gid=int(owner.group(2)),
    )
    if entry.type == SYMLINK and (link := _FAST_LINK.search(out)):
        return _with_target(entry, link.group(1)[: entry.size])  # raw bytes, newlines included
    return entry


def _with_target(entry: Entry, target: bytes) -> Entry:
    return Entry(**{**entry.__dict__, "link_target": decode(target)})


def _last_line(err: bytes) -> str:
    lines = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message"
