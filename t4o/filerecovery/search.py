"""Walking a filesystem and searching its paths by exact path, glob or regular expression.

Trilio's file search takes one ``filepath`` that is a path, a glob or a regex; ``kind="auto"`` tells
them apart the same way a user writes them:

- a regex starts with ``^``, ends with ``$`` or holds ``\\``, ``(``, ``)``, ``|``, ``{``, ``}``, ``.*``
  or ``.+``; it is matched (``re.search``) against the full path (``/etc/ssh/sshd_config``);
- a glob holds ``*``, ``?`` or ``[``: ``*`` and ``?`` stay within one path component, ``**`` crosses
  components; an absolute glob matches the full path, a relative one (``*.conf``) the name at any depth;
- anything else is a path (absolute: that file; a bare name: files of that name at any depth).

The walk goes breadth first, one batch of directory reads per level (one debugfs process per level
on ext*), never follows symlinks, and starts at the longest literal directory of an absolute glob so
``/etc/*.conf`` reads ``/etc`` only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from t4o.filerecovery.entries import DIRECTORY, Entry, join, normalize
from t4o.filerecovery.errors import FileRecoveryError, NotADirectory
from t4o.filerecovery.reader import FilesystemReader

DEFAULT_LIMIT = 10_000  # results of one search
LEVEL_BATCH = 500  # directories read per batch of one walk level

_REGEX_HINTS = ("\\", "(", ")", "|", "{", "}", ".*", ".+")
_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class SearchResult:
    entries: list[Entry]
    truncated: bool  # more matches than the limit


def kind_of(pattern: str) -> str:
    """ "regex", "glob" or "path", as ``kind="auto"`` reads a pattern."""
    if pattern.startswith("^") or pattern.endswith("$") or any(h in pattern for h in _REGEX_HINTS):
        return "regex"
    if any(c in pattern for c in _GLOB_CHARS):
        return "glob"
    return "path"


def glob_to_regex(glob: str) -> str:
    """A regular expression (for ``re.fullmatch``) matching what the glob matches."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = glob.find("]", i + 2 if glob[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def walk(
    reader: FilesystemReader, root: str = "/", max_depth: int | None = None
) -> Iterator[tuple[str, str]]:
    """(path, type) of everything under ``root`` (not itself), breadth first, symlinks not followed."""
    root = normalize(root)
    level = [root]
    depth = 0
    while level and (max_depth is None or depth < max_depth):
        depth += 1
        following: list[str] = []
        for start in range(0, len(level), LEVEL_BATCH):
            listed = reader.children(level[start : start + LEVEL_BATCH])
            for directory, names in listed.items():
                for name, kind in sorted(names):
                    path = join(directory, name)
                    yield path, kind
                    if kind == DIRECTORY:
                        following.append(path)
        level = following


def search(
    reader: FilesystemReader,
    pattern: str,
    root: str = "/",
    kind: str = "auto",
    limit: int = DEFAULT_LIMIT,
) -> SearchResult:
    """The entries whose path matches ``pattern`` under ``root``, sorted by path."""
    if not pattern:
        raise FileRecoveryError("empty search pattern")
    kind = kind_of(pattern) if kind == "auto" else kind
    root = normalize(root)
    top = reader.resolve(root)
    if top.type != DIRECTORY:
        raise NotADirectory(f"{root}: not a directory")
    root = top.path
    max_depth: int | None = None
    if kind == "regex":
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise FileRecoveryError(f"invalid regular expression {pattern!r}: {exc}") from exc

        def matches(path: str) -> bool:
            return rx.search(path) is not None

    elif kind in ("glob", "path"):
        absolute = pattern.startswith("/")
        text = normalize(pattern) if absolute else pattern
        if kind == "path" and absolute:
            found = reader.stat_many([text])[0]
            inside = found is not None and (root == "/" or (found.path + "/").startswith(root + "/"))
            return SearchResult([found] if found is not None and inside else [], False)
        rx = re.compile(glob_to_regex(text) if kind == "glob" else re.escape(text))
        if absolute:
            literal = _literal_directory(text)
            if root == "/" or literal.startswith(root + "/") or literal == root:
                root = literal
            if "**" not in text:
                max_depth = text.count("/") - (0 if root == "/" else root.count("/"))

            def matches(path: str) -> bool:
                return rx.fullmatch(path) is not None

        else:

            def matches(path: str) -> bool:
                return rx.fullmatch(path.rsplit("/", 1)[-1]) is not None

    else:
        raise FileRecoveryError(f"unknown search kind {kind!r} (auto, path, glob or regex)")

    hits: list[str] = []
    truncated = False
    if reader.stat_many([root])[0] is None:
        return SearchResult([], False)
    for path, _ in walk(reader, root, max_depth):
        if matches(path):
            if len(hits) == limit:
                truncated = True
                break
            hits.append(path)
    entries = [e for e in reader.stat_many(hits) if e is not None] if hits else []
    return SearchResult(sorted(entries, key=lambda e: e.path), truncated)


def _literal_directory(absolute_glob: str) -> str:
    """The longest directory of an absolute glob without glob characters: ``/etc`` of ``/etc/*.d/x``."""
    parts = absolute_glob.split("/")[1:-1]
    literal: list[str] = []
    for part in parts:
        if any(c in part for c in _GLOB_CHARS):
            break
        literal.append(part)
    return "/" + "/".join(literal)
