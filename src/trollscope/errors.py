"""Named errors. The CLI turns `UserError` into one clear line and a non-zero exit."""


class TrollscopeError(Exception):
    """Base class of the errors trollscope raises on purpose."""


class UserError(TrollscopeError):
    """A mistake the user can fix: a missing file, an unknown format, a bad mapping."""


class FormatError(UserError):
    """A file that no reader can read, or not in the format asked for."""


class MappingError(UserError):
    """A `--map` that names no column of the file or no field of the schema."""


class StoreError(UserError):
    """A store that cannot be opened or is missing what a command needs."""


class MissingDependency(UserError):
    """An optional dependency (an extra) that is not installed."""

    def __init__(self, package: str, extra: str):
        super().__init__(
            f"{package} is not installed; install it with: pip install 'trollscope[{extra}]'"
        )


class FileFailure(UserError):
    """One file that cannot be read (whole or in part): truncated, corrupt, past a limit, in an
    encoding that is refused, or unreadable. The ingest reports it in its file's row and goes on."""


class UnreadableFile(FileFailure):
    """A file the operating system will not let us read (permissions, I/O error)."""


class ResourceError(TrollscopeError):
    """Out of memory, out of spill space or out of disk: nothing half-written is left in the store."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM, turned into an exception so the store rolls back and the spill is
    removed. A KeyboardInterrupt, so `except Exception` never swallows it; the CLI exits 130."""
