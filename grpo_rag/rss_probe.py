"""Resource measurements for reports: peak resident memory of a code block, folder sizes on disk."""

from __future__ import annotations

import re
import resource
import sys
from pathlib import Path
from types import TracebackType

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _vm_hwm_mb() -> float | None:
    """The process's peak RSS since the last reset (Linux `VmHWM`), in MiB; None where unavailable."""
    try:
        match = re.search(r"VmHWM:\s+(\d+)\s+kB", _STATUS.read_text())
    except OSError:
        return None
    return int(match.group(1)) / 1024 if match else None


def _reset_hwm() -> bool:
    """Reset the peak-RSS mark to the current RSS (Linux >= 4.0: write 5 to clear_refs); False if not possible."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


class PeakRSS:
    """Context manager: `mb` is the peak resident memory of this process while the block ran (MiB).

    On Linux the peak mark is reset on entry, so the figure belongs to the block; elsewhere it falls
    back to the process's lifetime peak (`ru_maxrss`) and `scoped` is False.
    """

    def __init__(self) -> None:
        self.mb: float | None = None
        self.scoped = False

    def __enter__(self) -> PeakRSS:
        self.scoped = _reset_hwm() and _vm_hwm_mb() is not None
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.scoped:
            self.mb = _vm_hwm_mb()
        else:  # kB on Linux, bytes on macOS
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.mb = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
        if self.mb is not None:
            self.mb = round(self.mb, 1)


def dir_bytes(path: Path) -> int:
    """Total size of the files under `path` (0 when it does not exist)."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
