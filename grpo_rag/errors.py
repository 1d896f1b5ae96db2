"""User-facing errors: the CLI prints them as one line `error: ...` and exits with status 2."""

from __future__ import annotations


class GrpoRagError(Exception):
    """An error caused by the user's input (config, data, index, plug-in), not by a bug."""


class ConfigError(GrpoRagError):
    """A config file or override that cannot be used; the message says what to change."""


class DataError(GrpoRagError):
    """A data file that cannot be used; the message starts with `PATH:LINE:` when a line is known."""

    def __init__(self, path: object, message: str, line: int | None = None, field: str | None = None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        what = f"field '{field}': {message}" if field else message
        super().__init__(f"{where}: {what}")
        self.path, self.line, self.field = str(path), line, field


class IndexMismatchError(GrpoRagError):
    """A saved retrieval index that does not belong to the corpus it is used with."""


class RewardError(GrpoRagError):
    """A reward function that cannot be found, loaded or called, or that returned bad values."""
