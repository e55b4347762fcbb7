"""The model registry: files + a SQLite index rebuilt from the files' headers."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import pytest
from finance_demo import Registry, RegistryError, train_model
from finance_demo.registry import INDEX, default_registry_root, model_id


@pytest.fixture(scope="session")
def model_file(tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("reg-src") / "walk.safetensors"
    tiny_model.save(path)
    return path


def test_ids_are_readable_and_sanitized():
    assert model_id("^GSPC", "1d", "2026-12-02T10:15:00+00:00", "3f2a") == (
        "GSPC-1d-20261202T101500-3f2a"
    )
    assert model_id("EURUSD=X", "1h", "2026-12-02T10:15:00+00:00", "00ff").startswith(
        "EURUSD-X-1h-"
    )
    assert model_id(None, None, "bad", "0000").startswith("model-model-")


def test_default_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("STOCK_ANALYZER_HOME", str(tmp_path))
    assert default_registry_root() == tmp_path / "models"
    monkeypatch.delenv("STOCK_ANALYZER_HOME")
    assert default_registry_root().parts[-2:] == ("stock-analyzer", "models")


def test_add_a_model_and_a_file_then_list_get_resolve(tmp_path, tiny_model, model_file):
    reg = Registry(tmp_path / "reg")
    a = reg.add(tiny_model)
    b = reg.add(model_file)
    assert a.id != b.id and a.id.startswith("WALK-1d-") and a.path.parent == reg.root
    assert a.path.name == a.id + ".safetensors" and a.path.is_file()
    assert a.symbol == "WALK" and a.interval == "1d" and a.horizons == (1,)
    assert a.size == a.path.stat().st_size > 0
    assert set(a.evaluation["h1"]) >= {"mae", "mae_persistence", "coverage"}
    assert model_file.exists()  # a file is copied, not moved
    listed = reg.list()
    assert {e.id for e in listed} == {a.id, b.id}
    assert [e.id for e in listed] == [b.id, a.id]  # newest first; same second: last added first
    assert reg.list(symbol="WALK", interval="1d") == listed
    assert reg.list(symbol="OTHER") == [] and reg.list(interval="1h") == []
    assert reg.get(a.id) == a
    with pytest.raises(RegistryError, match="matches 2 models"):
        reg.get("WALK-1d-")  # a prefix of both
    assert reg.resolve(a.id) == a.path
    assert reg.resolve(str(model_file)) == model_file
    assert reg.resolve(None, symbol="WALK", interval="1d") == listed[0].path
    json.dumps(a.to_dict())


def test_errors_are_one_line_registry_errors(tmp_path, tiny_model):
    reg = Registry(tmp_path)
    with pytest.raises(RegistryError, match="no model for NOPE 1d in the registry"):
        reg.resolve(None, symbol="NOPE", interval="1d")
    with pytest.raises(RegistryError, match="no model 'WALK-nope'"):
        reg.get("WALK-nope")
    with pytest.raises(RegistryError, match=r"model file not found: x/y\.safetensors"):
        reg.resolve("x/y.safetensors")
    with pytest.raises(RegistryError):
        reg.delete("missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RegistryError, match="not a directory"):
        Registry(tmp_path / "file")


def test_add_refuses_a_file_that_is_not_a_model(tmp_path):
    from model import ModelError

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 20)
    reg = Registry(tmp_path / "reg")
    with pytest.raises(ModelError):
        reg.add(bad)
    assert reg.list() == []
    assert not [p for p in reg.root.iterdir() if "sqlite" not in p.name]


def test_delete_removes_file_and_row(tmp_path, tiny_model):
    reg = Registry(tmp_path)
    a, b = reg.add(tiny_model), reg.add(tiny_model)
    assert reg.delete(a.id) == a
    assert not a.path.exists() and [e.id for e in reg.list()] == [b.id]
    with pytest.raises(RegistryError):
        reg.get(a.id)


@pytest.mark.parametrize("damage", ["delete", "garbage", "truncate", "drop_table"])
def test_index_is_rebuilt_from_the_files(tmp_path, tiny_model, damage):
    reg = Registry(tmp_path)
    ids = {reg.add(tiny_model).id for _ in range(3)}
    index = tmp_path / INDEX
    assert index.exists()
    if damage == "delete":
        for p in tmp_path.glob(INDEX + "*"):
            p.unlink()
    elif damage == "garbage":
        for p in tmp_path.glob(INDEX + "-*"):
            p.unlink()
        index.write_bytes(b"this is not a database at all" * 100)
    elif damage == "truncate":
        for p in tmp_path.glob(INDEX + "-*"):
            p.unlink()
        index.write_bytes(index.read_bytes()[:100])
    else:
        conn = sqlite3.connect(index)
        conn.execute("DROP TABLE models")
        conn.commit()
        conn.close()
    again = Registry(tmp_path).list()
    assert {e.id for e in again} == ids
    assert all(e.symbol == "WALK" and e.horizons == (1,) for e in again)


def test_index_follows_files_added_and_removed_by_hand(tmp_path, tiny_model, model_file):
    reg = Registry(tmp_path)
    a = reg.add(tiny_model)
    hand = tmp_path / "HAND-1d-20200101T000000-0000.safetensors"
    hand.write_bytes(model_file.read_bytes())
    (tmp_path / "broken-1d-20200101T000000-0001.safetensors").write_bytes(b"junk")
    ids = {e.id for e in reg.list()}
    assert ids == {a.id, hand.stem}  # the broken file is skipped, not fatal
    a.path.unlink()
    assert [e.id for e in reg.list()] == [hand.stem]


def test_index_is_sqlite_in_wal_mode(tmp_path, tiny_model):
    reg = Registry(tmp_path)
    reg.add(tiny_model)
    conn = sqlite3.connect(tmp_path / INDEX)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*) FROM models").fetchone()[0] == 1
    conn.close()


def _entry_at(reg, tiny_model, created):
    entry = reg.add(tiny_model)
    # rewrite the row's created time (the file header keeps its own; the index is used)
    conn = sqlite3.connect(reg.root / INDEX)
    conn.execute("UPDATE models SET created = ? WHERE id = ?", (created, entry.id))
    conn.commit()
    conn.close()
    return entry.id


def test_cleanup_by_age_keeps_the_latest(tmp_path, tiny_model):
    reg = Registry(tmp_path)
    now = datetime(2026, 12, 2, tzinfo=timezone.utc)
    ages = [1, 40, 50, 60]
    ids = [
        _entry_at(reg, tiny_model, (now - timedelta(days=d)).isoformat(timespec="seconds"))
        for d in ages
    ]
    dry = reg.cleanup(timedelta(days=30), dry_run=True, now=now)
    assert [e.id for e in dry] == ids[1:] and len(reg.list()) == 4
    kept = reg.cleanup(timedelta(days=30), keep_latest=2, dry_run=True, now=now)
    assert [e.id for e in kept] == ids[2:]
    gone = reg.cleanup(timedelta(days=45), keep_latest=1, now=now)
    assert [e.id for e in gone] == ids[2:]
    assert [e.id for e in reg.list()] == ids[:2]
    assert all(not e.path.exists() for e in gone)
    with pytest.raises(RegistryError):
        reg.cleanup(timedelta(days=1), keep_latest=-1)


def test_concurrent_writers_in_several_processes(tmp_path, model_file):
    """Six processes register five models each at the same time: 30 distinct entries."""
    script = textwrap.dedent(
        """
        import sys
        from finance_demo import Registry
        reg = Registry(sys.argv[1])
        for _ in range(5):
            print(reg.add(sys.argv[2]).id, flush=True)
        reg.list()
        """
    )
    root = tmp_path / "reg"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(root), str(model_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        for _ in range(6)
    ]
    printed = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        printed += out.split()
    assert len(printed) == len(set(printed)) == 30
    listed = Registry(root).list()
    assert {e.id for e in listed} == set(printed)
    assert len(list(root.glob("*.safetensors"))) == 30
    assert not list(root.glob(".*tmp"))


def test_a_model_without_a_symbol_is_registered(tmp_path, candles, tiny_settings):
    model = train_model(candles, tiny_settings)
    entry = Registry(tmp_path).add(model)
    assert entry.symbol is None and entry.id.startswith("model-model-")
