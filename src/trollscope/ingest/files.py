"""Finding the files to read: names, globs and folders expanded; heads and digests of files."""

from __future__ import annotations

import glob
import gzip
import hashlib
from pathlib import Path
from typing import Iterable

from trollscope.errors import FormatError, UserError


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, globbed, or found under named directories (sorted, hidden files skipped)."""
    out: list[Path] = []
    for given in paths:
        text = str(given)
        if is_pattern(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise UserError(f"{text}: no file matches this pattern")
            out += [Path(m) for m in matches if Path(m).is_file()]
            continue
        path = Path(text)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            out += found
        elif path.is_file():
            out.append(path)
        elif path.exists():
            raise UserError(f"{text}: not a regular file")
        else:
            raise UserError(f"{text}: no such file or directory")
    # A file named twice (or inside a named directory too) is read once.
    seen: set[Path] = set()
    unique = []
    for path in out:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def is_pattern(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def names_a_folder(paths: Iterable[str | Path]) -> bool:
    """Whether any of the paths is a folder or a pattern (its files were not each named)."""
    return any(Path(str(p)).is_dir() or is_pattern(str(p)) for p in paths)


def is_gzip(path: str | Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_content(path: str | Path):
    """The file opened for reading bytes, decompressed if it is gzip."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def read_head(path: str | Path, size: int = 256 * 1024) -> bytes:
    """The first `size` bytes of the file's content, decompressed if it is gzip."""
    try:
        if is_gzip(path):
            with gzip.open(path, "rb") as fh:
                return fh.read(size)
        with open(path, "rb") as fh:
            return fh.read(size)
    except (OSError, EOFError) as exc:
        raise FormatError(f"{path}: cannot read: {exc}") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
