"""``atomic_write``: the old file or the whole new one, never a part."""

import errno
import os

import pytest
from finance_demo import atomic_write


def test_writes_text_and_bytes_and_creates_folders(tmp_path):
    path = atomic_write(tmp_path / "a" / "b" / "h.json", '{"x": 1}\n')
    assert path.read_text() == '{"x": 1}\n'
    atomic_write(path, b"\x89PNG")
    assert path.read_bytes() == b"\x89PNG"
    assert sorted(p.name for p in path.parent.iterdir()) == ["h.json"]  # no temp file left


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_a_failure_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch, where):
    path = tmp_path / "history.json"
    path.write_text("old and whole")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, where, disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(path, '{"history": [' + "1, " * 10_000 + "1]}")
    monkeypatch.undo()
    assert path.read_text() == "old and whole"
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]


def test_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic_write(tmp_path / "r.json", "{}")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
