"""xfs through ``xfs_db`` (xfsprogs), read-only, on a file that starts with the filesystem.

xfs_db resolves what the on-disk format makes hard (short-form, block, leaf and node directories;
extent lists and btrees): ``ls`` lists a directory inode with each name's raw bytes and length (so
names with spaces or newlines parse exactly), ``print core.*`` gives an inode's mode, size, owner
and mtime, ``bmap`` gives a file's extents. File bytes are then read straight from the image at each
extent's offset; holes and unwritten extents read as zeros. Commands go in one xfs_db process per
batch, separated by ``echo`` markers in the output; directories are found by walking names to inode
numbers (xfs_db's own path argument is split at spaces), so no name is ever part of a command, with
each listed directory kept for later calls. A short symlink target is printed with C escapes (a
backslash, a quote, octal for bytes that are not printable).
xfs_db has no offset option: a partition is given to it as a file of its own (see ``source``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from t4o.filerecovery import tools
from t4o.filerecovery.entries import DIRECTORY, SYMLINK, UNKNOWN, Entry, basename, normalize, type_of_mode
from t4o.filerecovery.errors import NotFound, ToolError
from t4o.filerecovery.names import decode
from t4o.filerecovery.reader import MAX_SYMLINKS, FilesystemReader, stream_extents

BATCH = 1000  # inodes per xfs_db process
MARK = b"@@t4o-fr@@"
XFS_SYMLINK_MAGIC = b"XSLM"
XFS_SYMLINK_HEADER = 56  # v5 remote symlink block header

# an ``ls`` line up to its name: offset, inode, type, hash, name length; then the name, " (good)"
_LS_HEAD = re.compile(rb"^\d+\s+(\d+)\s+(\S+)\s+0x[0-9a-f]+\s+(\d+) ", re.M)
_LS_TAIL = re.compile(rb" \(\w+\)(?:\n|$)")
_C_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)
_C_CHARS = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"a": b"\a", b"b": b"\b", b"f": b"\f", b"v": b"\v"}
_FIELD = re.compile(rb"^(core\.\w+(?:\.sec)?|u3\.symlink) = (.*)$", re.M)
_BMAP = re.compile(rb"^data offset (\d+) startblock \d+ \((\d+)/(\d+)\) count (\d+) flag (\d)$", re.M)
_TYPES = {
    b"regular": "file",
    b"directory": "directory",
    b"symlink": "symlink",
    b"chardev": "chardev",
    b"blockdev": "blockdev",
    b"fifo": "fifo",
    b"socket": "socket",
}


class XfsReader(FilesystemReader):
    fstype = "xfs"

    def __init__(self, image: str) -> None:
        self._image = image
        self._xfs_db = tools.which("xfs_db")
        sb = self._run([[b"sb 0", b"print blocksize agblocks rootino"]])[0]
        fields = dict(re.findall(rb"^(\w+) = (\d+)$", sb, re.M))
        try:
            self.blocksize = int(fields[b"blocksize"])
            self.agblocks = int(fields[b"agblocks"])
            self.rootino = int(fields[b"rootino"])
        except (KeyError, ValueError) as exc:
            raise ToolError(f"xfs_db cannot read the superblock of {image}") from exc
        self._listings: dict[int, dict[str, tuple[int, str]]] = {}
        self._fd = os.open(image, os.O_RDONLY)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _run(self, groups: Sequence[bytes | Sequence[bytes]]) -> list[bytes]:
        """Runs groups of commands (one group per result) in batches: the output of each group."""
        outputs: list[bytes] = []
        items = [[g] if isinstance(g, bytes) else list(g) for g in groups]
        for start in range(0, len(items), BATCH):
            part = items[start : start + BATCH]
            argv: list[str | bytes] = [self._xfs_db, "-r"]
            for n, group in enumerate(part):
                for command in group:
                    argv += [b"-c", command]
                argv += [b"-c", b"echo " + MARK + b" %d" % n]
            argv.append(self._image)
            out, err = tools.run(argv)
            pieces = re.split(rb"^" + re.escape(MARK) + rb" \d+ *\n", out, flags=re.M)
            if len(pieces) != len(part) + 1:
                raise ToolError(f"xfs_db cannot read {self._image}: {err.decode(errors='replace').strip()}")
            outputs.extend(pieces[:-1])
        return outputs

    def _list_inodes(self, inodes: Sequence[int]) -> None:
        todo = sorted({i for i in inodes if i not in self._listings})
        if not todo:
            return
        outputs = self._run([[b"inode %d" % i, b"ls"] for i in todo])
        for inode, out in zip(todo, outputs, strict=True):
            names: dict[str, tuple[int, str]] = {}
            for child, kind, raw in parse_ls(out):
                if raw not in (b".", b".."):
                    names[decode(raw)] = (child, _TYPES.get(kind, UNKNOWN))
            self._listings[inode] = names

    def _inodes(self, paths: Sequence[str]) -> list[int | None]:
        """The inode of each path (None when missing), walking the directories level by level; a
        symlink in the middle of a path is followed inside the filesystem (a final one is not)."""
        split = [[p for p in normalize(path).split("/") if p] for path in paths]
        current: list[int | None] = [self.rootino] * len(paths)
        depth = [0] * len(paths)
        hops = [0] * len(paths)
        while True:
            pending = [i for i, parts in enumerate(split) if current[i] is not None and depth[i] < len(parts)]
            if not pending:
                return current
            self._list_inodes([current[i] for i in pending])  # type: ignore[misc]
            for i in pending:
                found = self._listings[current[i]].get(split[i][depth[i]])  # type: ignore[index]
                last = depth[i] == len(split[i]) - 1
                if found is not None and not last and found[1] == SYMLINK and hops[i] < MAX_SYMLINKS:
                    hops[i] += 1
                    try:
                        target = self.resolve("/" + "/".join(split[i][: depth[i] + 1]))
                    except NotFound:
                        current[i] = None
                        continue
                    split[i] = [p for p in target.path.split("/") if p] + split[i][depth[i] + 1 :]
                    depth[i], current[i] = 0, self.rootino
                elif found is None or (not last and found[1] != DIRECTORY):
                    current[i] = None
                else:
                    current[i] = found[0]
                    depth[i] += 1

    def stat_many(self, paths: Sequence[str]) -> list[Entry | None]:
        normalized = [normalize(p) for p in paths]
        inodes = self._inodes(normalized)
        known = [(i, ino) for i, ino in enumerate(inodes) if ino is not None]
        fields = b"print core.mode core.size core.mtime.sec core.uid core.gid core.format"
        outputs = self._run([[b"inode %d" % ino, fields] for _, ino in known])
        entries: list[Entry | None] = [None] * len(paths)
        symlinks: list[int] = []
        for (i, ino), out in zip(known, outputs, strict=True):
            f = dict(_FIELD.findall(out))
            mode = int(f[b"core.mode"], 8)
            mtime = datetime.strptime(f[b"core.mtime.sec"].decode(), "%a %b %d %H:%M:%S %Y")
            entry = Entry(
                path=normalized[i],
                name=basename(normalized[i]),
                type=type_of_mode(mode),
                size=int(f[b"core.size"]),
                mode=mode,
                mtime=int(mtime.replace(tzinfo=UTC).timestamp()),
                inode=ino,
                uid=int(f[b"core.uid"]),
                gid=int(f[b"core.gid"]),
            )
            if entry.type == SYMLINK:
                symlinks.append(i)
            entries[i] = entry
        if symlinks:  # one batch for every symlink's target
            links = [entries[i] for i in symlinks]
            outputs = self._run([[b"inode %d" % e.inode, b"print core.format u3"] for e in links if e])
            for i, link, out in zip(symlinks, links, outputs, strict=True):
                assert link is not None
                target = decode(self._symlink(link, out))
                entries[i] = Entry(**{**link.__dict__, "link_target": target})
        return entries

    def _symlink(self, entry: Entry, inode_dump: bytes) -> bytes:
        """A symlink's target: in the inode (local format) or in data blocks (remote)."""
        if b"(local)" in inode_dump:
            m = re.search(rb'^u3\.symlink = "(.*)"$', inode_dump, re.M | re.S)
            return unescape(m.group(1))[: entry.size] if m else b""
        data = bytearray()
        for offset, length in self._extents(entry.inode):
            block = os.pread(self._fd, length, offset)
            if block[:4] == XFS_SYMLINK_MAGIC:
                block = block[XFS_SYMLINK_HEADER:]
            data += block
        return bytes(data[: entry.size])

    def _extents(self, inode: int) -> list[tuple[int, int]]:
        """(byte offset in the image, byte length) of the written extents, in file order."""
        return [(image, length) for _, image, length in self._bmap(inode) if image >= 0]

    def _bmap(self, inode: int) -> list[tuple[int, int, int]]:
        """(file offset, image offset or -1 for unwritten, length) in bytes, in file order."""
        out = self._run([[b"inode %d" % inode, b"bmap"]])[0]
        extents = []
        for m in _BMAP.finditer(out):
            file_block, agno, agbno, count, flag = (int(g) for g in m.groups())
            image = (agno * self.agblocks + agbno) * self.blocksize if flag == 0 else -1
            extents.append((file_block * self.blocksize, image, count * self.blocksize))
        return sorted(extents)

    def children(self, directories: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        normalized = [normalize(d) for d in directories]
        inodes = self._inodes(normalized)
        self._list_inodes([i for i in inodes if i is not None])
        result: dict[str, list[tuple[str, str]]] = {}
        for path, inode in zip(normalized, inodes, strict=True):
            listing = self._listings.get(inode, {}) if inode is not None else {}
            result[path] = [(name, kind) for name, (_, kind) in listing.items()]
        return result

    def read_entry(self, entry: Entry) -> Iterator[bytes]:
        return stream_extents(self._fd, self._bmap(entry.inode), entry.size)

    def read_range(self, entry: Entry, offset: int, length: int | None) -> Iterator[bytes]:
        return stream_extents(self._fd, self._bmap(entry.inode), entry.size, offset, length)


def parse_ls(out: bytes) -> list[tuple[int, bytes, bytes]]:
    """(inode, type, name) of each entry of an ``ls``: the name is taken by its length, so any byte
    in it (a space, a newline) is read as it is."""
    entries = []
    position = 0
    while m := _LS_HEAD.search(out, position):
        start = m.end()
        end = start + int(m.group(3))
        tail = _LS_TAIL.match(out, end)
        if tail is None:  # not an entry line after all: go on from the next line
            position = start
            continue
        entries.append((int(m.group(1)), m.group(2), out[start:end]))
        position = tail.end()
    return entries


def unescape(printed: bytes) -> bytes:
    """The bytes of a string as xfs_db prints it between quotes (C escapes, octal for the others)."""

    def one(m: re.Match[bytes]) -> bytes:
        code = m.group(1)
        if code[:1].isdigit() and code[:1] in b"01234567":
            return bytes([int(code, 8) & 0xFF])
        return _C_CHARS.get(code, code)

    return _C_ESCAPE.sub(one, printed)
