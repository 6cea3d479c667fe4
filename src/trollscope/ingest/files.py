"""Finding the files to read: names, globs and folders expanded; heads and digests of files."""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import shutil
import subprocess
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


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def is_zstd(path: str | Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == ZSTD_MAGIC


def compression(path: str | Path) -> str:
    """`gzip`, `zstd` or `none`, from the file's first bytes (DuckDB's names)."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    return "gzip" if magic[:2] == b"\x1f\x8b" else "zstd" if magic == ZSTD_MAGIC else "none"


class _ZstdCommand:
    """`zstd -dc` as a readable stream, for machines without the zstandard package."""

    def __init__(self, path: str | Path):
        self.proc = subprocess.Popen(["zstd", "-dcq", "--long=31", str(path)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.stdout = self.proc.stdout

    def read(self, size: int = -1) -> bytes:
        return self.stdout.read(size)

    def __iter__(self):
        yield from self.stdout
        self._check()

    def _check(self) -> None:
        if self.proc.wait() not in (0, -13):  # -13: we stopped reading (SIGPIPE)
            message = self.proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
            raise OSError(f"zstd: {message[-1] if message else 'cannot decompress'}")

    def close(self) -> None:
        self.stdout.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open_zstd(path: str | Path):
    """A streamed zstd file (Pushshift and Arctic-Shift dumps need a 2 GB window: --long=31)."""
    try:
        import zstandard
    except ImportError:
        if shutil.which("zstd"):
            return _ZstdCommand(path)
        raise FormatError(f"{path}: reading .zst files needs the zstandard package "
                          "(pip install zstandard) or the zstd command") from None
    reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(open(path, "rb"), closefd=True)

    class Raw(io.RawIOBase):  # a corrupt frame is an OSError, as for gzip, so readers account for it
        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            try:
                return reader.readinto(buffer)
            except zstandard.ZstdError as exc:
                raise OSError(f"zstd: {exc}") from None

        def close(self) -> None:
            reader.close()
            super().close()

    return io.BufferedReader(Raw())


def open_content(path: str | Path):
    """The file opened for reading bytes, decompressed if it is gzip or zstd."""
    kind = compression(path)
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "zstd":
        return _open_zstd(path)
    return open(path, "rb")


def read_head(path: str | Path, size: int = 256 * 1024) -> bytes:
    """The first `size` bytes of the file's content, decompressed if it is gzip or zstd."""
    try:
        with open_content(path) as fh:
            out = fh.read(size)
            return out
    except (OSError, EOFError) as exc:
        raise FormatError(f"{path}: cannot read: {exc}") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
