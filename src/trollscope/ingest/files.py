"""Finding the files to read: names, globs and folders expanded; heads and digests of files."""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Iterable

from trollscope.errors import FileFailure, FormatError, UnreadableFile, UserError
from trollscope.ingest.limits import Limits, size


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


class _CheckedStream:
    """A decompressed stream whose end is checked: a cut or corrupt file shows only once the data runs
    out, and then as an OSError (as gzip does), after every byte that could be read was returned."""

    stdout: io.BufferedIOBase

    def read(self, size: int = -1) -> bytes:
        data = self.stdout.read(size)
        if not data or size < 0:
            self._check()
        return data

    def readline(self, size: int = -1) -> bytes:
        line = self.stdout.readline(size)
        if not line:
            self._check()
        return line

    def __iter__(self):
        yield from self.stdout
        self._check()

    def _check(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _ZstdCommand(_CheckedStream):
    """`zstd -dc` as a readable stream, for machines without the zstandard package."""

    def __init__(self, path: str | Path):
        self.proc = subprocess.Popen(["zstd", "-dcq", "--long=31", str(path)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.stdout = self.proc.stdout

    def _check(self) -> None:  # a truncated or corrupt frame shows only in the exit code
        if self.proc.wait() not in (0, -13):  # -13: we stopped reading (SIGPIPE)
            message = self.proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
            raise OSError(f"zstd: {message[-1] if message else 'cannot decompress'}")

    def close(self) -> None:
        self.stdout.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()


class _ZstdPackage(_CheckedStream):
    """The zstandard package's streaming reader, every frame of the file (pzstd and multi-threaded
    zstd write several). The package reads a frame cut short as a shorter file; the end is checked
    against the frame headers, as the zstd command checks it."""

    def __init__(self, path: str | Path):
        import zstandard

        self.path, self.cut = path, False  # False: not walked yet; then None (whole) or the size
        reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(
            open(path, "rb"), closefd=True, read_across_frames=True)

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

        self.stdout = io.BufferedReader(Raw())

    def _check(self) -> None:
        if self.cut is False:  # a reader may ask again at the end: the headers are walked once
            self.cut = zstd_cut_at(self.path)
        cut = self.cut
        if cut is not None:
            raise OSError(f"zstd: the file ends in the middle of a frame (truncated at byte {cut:,})")

    def close(self) -> None:
        self.stdout.close()


def zstd_cut_at(path: str | Path) -> int | None:
    """Where a zstd file is cut short (its size), or None when its frames are whole. Walks the frame
    and block headers, seeking over the blocks (RFC 8878): no decompression."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        pos = 0
        while pos < size:
            fh.seek(pos)
            magic = fh.read(4)
            if len(magic) < 4:
                return size
            number = int.from_bytes(magic, "little")
            if 0x184D2A50 <= number <= 0x184D2A5F:  # a skippable frame: its size, then its bytes
                length = fh.read(4)
                if len(length) < 4:
                    return size
                pos += 8 + int.from_bytes(length, "little")
                continue
            if magic != ZSTD_MAGIC:
                return None  # not a frame: the decompressor has said what it is
            head = fh.read(1)
            if not head:
                return size
            fhd = head[0]
            single, checksum, fcs_flag, dict_flag = fhd >> 5 & 1, fhd >> 2 & 1, fhd >> 6, fhd & 3
            pos += 5 + (0 if single else 1) + (0, 1, 2, 4)[dict_flag] + (single if fcs_flag == 0 else 1 << fcs_flag)
            while True:  # blocks: a 3-byte header (last-block bit, type, size), then the block
                fh.seek(pos)
                header = fh.read(3)
                if len(header) < 3:
                    return size
                value = int.from_bytes(header, "little")
                kind, length = value >> 1 & 3, value >> 3
                pos += 3 + (1 if kind == 1 else length)  # an RLE block stores its one byte
                if value & 1:
                    break
            pos += 4 * checksum
        return size if pos > size else None


def _open_zstd(path: str | Path):
    """A streamed zstd file (Pushshift and Arctic-Shift dumps need a 2 GB window: --long=31)."""
    try:
        import zstandard  # noqa: F401
    except ImportError:
        if shutil.which("zstd"):
            return _ZstdCommand(path)
        raise FormatError(f"{path}: reading .zst files needs the zstandard package "
                          "(pip install zstandard) or the zstd command") from None
    return _ZstdPackage(path)


def open_content(path: str | Path):
    """The file opened for reading bytes, decompressed if it is gzip or zstd."""
    kind = compression(path)
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "zstd":
        return _open_zstd(path)
    return open(path, "rb")


def read_head(path: str | Path, n: int = 256 * 1024) -> bytes:
    """The first `n` bytes of the file's content, decompressed if it is gzip or zstd."""
    try:
        with open(path, "rb") as raw:
            magic = raw.read(4)
            if magic[:2] != b"\x1f\x8b" and magic != ZSTD_MAGIC:
                raw.seek(0)
                return raw.read(n)
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot read: {exc.strerror or exc}") from None
    got = b""
    try:
        with open_content(path) as fh:
            while len(got) < n:  # piece by piece, so that a truncated file still shows its head
                piece = fh.read(min(65536, n - len(got)))
                if not piece:
                    break
                got += piece
    except (OSError, EOFError) as exc:
        if not got:
            raise FormatError(f"{path}: cannot read: {exc}") from None
    return got


_BOMS = [(b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"), (b"\xfe\xff", "UTF-16"),
         (b"\xff\xfe", "UTF-16")]


def check_encoding(path: str | Path, head: bytes) -> None:
    """Refuse, in one line naming the encoding and the fix, a file that is not UTF-8 as a whole
    (UTF-16 or UTF-32, by its byte-order mark or its NUL bytes). Single-byte encodings such as
    Latin-1 are read: their rows that are not UTF-8 are quarantined, each with the fix."""
    found = next((name for bom, name in _BOMS if head.startswith(bom)), None)
    if found is None and len(head) >= 16:
        sample = head[:4096]
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        if max(odd, even) > len(sample) // 4 and min(odd, even) < len(sample) // 50:
            found = "UTF-16 (no byte-order mark)"
    if found:
        base = found.split()[0]
        raise FileFailure(
            f"{path}: the file is {found}, not UTF-8; convert it first, e.g. "
            f"iconv -f {base} -t UTF-8 {Path(path).name} > {Path(path).stem}.utf8{Path(path).suffix}"
        )


class BoundedContent:
    """A file's content (decompressed if gzip) that raises FileFailure past the limits on
    unpacked size and on the decompression ratio, so a bomb stops early, in bounded memory."""

    def __init__(self, path: str | Path, limits: Limits):
        self.path, self.limits = Path(path), limits
        try:
            self.raw = open(path, "rb")
        except OSError as exc:
            raise UnreadableFile(f"{path}: cannot read: {exc.strerror or exc}") from None
        magic = self.raw.read(4)
        self.raw.seek(0)
        self.compressed = magic[:2] == b"\x1f\x8b"
        # zstd streams through their own reader: only the unpacked size is bounded for them (the
        # ratio needs the compressed position, which a `zstd` process does not tell)
        self.zstd = magic == ZSTD_MAGIC
        self.fh = (gzip.GzipFile(fileobj=self.raw, mode="rb") if self.compressed
                   else _open_zstd(self.path) if self.zstd else self.raw)
        self.unpacked = 0
        self._cut: BaseException | None = None  # a truncation met by `read_block`, raised by its next call

    def _count(self, data: bytes) -> bytes:
        self.unpacked += len(data)
        check_unpacked(self.path, self.unpacked, self.raw.tell() if self.compressed else None, self.limits)
        return data

    def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (fewer before the end is possible: a truncated gzip then still gives
        every byte before the cut, where a buffered read of `n` would lose them)."""
        if self.compressed and n > 0:
            return self._count(self.fh.read1(n))
        return self._count(self.fh.read(n))

    def read_block(self, n: int) -> bytes:
        """Up to `n` bytes in one piece, fewer only at the end or at a cut: a gzip read gives ~32 KB,
        and a caller with a fixed cost per piece (numpy's pass in the CSV scan: 8,877 pieces of the IRA
        file) pays it per 32 KB. At a truncated or corrupt gzip the bytes before the cut come back
        first and the next call raises the error."""
        if self._cut is not None:
            cut, self._cut = self._cut, None
            raise cut
        pieces, got = [], 0
        while got < n:
            try:
                piece = self.read(n - got)
            except (EOFError, OSError, zlib.error) as exc:
                if not pieces:
                    raise
                self._cut = exc
                break
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
        return b"".join(pieces)

    def read_up_to(self, n: int) -> bytes:
        """`n` bytes, or all there are; a truncated or corrupt gzip raises at once (`read_block` with
        its cut not put off)."""
        data = self.read_block(n)
        if self._cut is not None:
            cut, self._cut = self._cut, None
            raise cut
        return data

    def readline(self, n: int = -1) -> bytes:
        return self._count(self.fh.readline(n))

    def close(self) -> None:
        self.fh.close()
        self.raw.close()

    def __enter__(self) -> "BoundedContent":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_unpacked(path: Path, unpacked: int, compressed: int | None, limits: Limits) -> None:
    """FileFailure when `unpacked` bytes (from `compressed`, if it is compressed) pass a limit."""
    if unpacked > limits.max_file_bytes:
        raise FileFailure(f"{path}: unpacks to more than {size(limits.max_file_bytes)} (setting max_file_bytes); "
                          "refused, nothing of it stored")
    if compressed and unpacked > limits.ratio_after and unpacked > limits.max_ratio * compressed:
        raise FileFailure(f"{path}: unpacks to more than {limits.max_ratio} times its compressed size (setting "
                          "max_ratio): a decompression bomb? refused, nothing of it stored")


def bounded_lines(fh: BoundedContent, max_record: int):
    """(line number, line, 0) for each line; a line longer than `max_record` comes as (line number,
    its first 2,000 bytes, its size), read past in bounded memory."""
    line_no = 0
    while True:
        line = fh.readline(max_record + 1)
        if not line:
            return
        line_no += 1
        if len(line) <= max_record or line.endswith(b"\n") and len(line) == max_record + 1:
            yield line_no, line, 0
            continue
        head, total = line[:2000], len(line)
        while not line.endswith(b"\n"):
            line = fh.readline(1 << 20)
            if not line:
                break
            total += len(line)
        yield line_no, head, total


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
