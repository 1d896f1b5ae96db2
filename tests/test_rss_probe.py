"""Resource measurements: the peak-RSS probe sees an allocation inside its block; folder sizes add up."""

from __future__ import annotations

from pathlib import Path

from grpo_rag.rss_probe import PeakRSS, dir_bytes


def test_peak_rss_sees_an_allocation() -> None:
    with PeakRSS() as small:
        pass
    with PeakRSS() as big:
        block = bytearray(64 * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
        del block
    assert small.mb is not None and big.mb is not None
    if big.scoped:  # Linux: the peak mark is reset per block
        assert big.mb - small.mb > 50
    else:
        assert big.mb >= small.mb


def test_dir_bytes(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 5)
    assert dir_bytes(tmp_path) == 15 and dir_bytes(tmp_path / "missing") == 0
