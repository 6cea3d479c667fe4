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
