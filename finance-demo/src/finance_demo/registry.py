"""A registry of trained models: a directory of model files plus a rebuildable index.

Layout of the directory (``Registry(root)``)::

    root/
      GSPC-1d-20261202T101500-3f2a.safetensors   one model file per entry, named by its id
      index.sqlite                              the index (SQLite, WAL mode)

The model files are the truth; the index is a cache of their headers (read with
``model.read_header``, no torch). When ``index.sqlite`` is missing or corrupt it is rebuilt
from the files; files copied in by hand are indexed and rows whose file is gone are dropped
on the next :meth:`Registry.list`. Every change is one SQLite transaction; an id is claimed
by creating its file with ``os.link`` (which fails when the name exists), so several
processes can register at once without clobbering each other.

Ids are readable: ``<symbol>-<interval>-<created UTC>-<4 hex>``, e.g.
``GSPC-1d-20261202T101500-3f2a`` (the symbol sanitized to letters, digits and ``-``).

The default root is ``$STOCK_ANALYZER_HOME/models`` when the variable is set, else the
user data directory of ``stock-analyzer`` (platformdirs) plus ``models``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from finance_demo.errors import PipelineError

__all__ = ["Entry", "Registry", "RegistryError", "default_registry_root", "model_id"]

log = logging.getLogger(__name__)

#: The extension of the registry's model files.
SUFFIX = ".safetensors"
#: The index file in the registry directory.
INDEX = "index.sqlite"
#: The evaluation numbers kept in an entry (per horizon), from the model's test scores.
_SUMMARY_KEYS = ("samples", "mae", "mae_persistence", "direction_accuracy", "coverage", "level")
_SCHEMA_VERSION = 2


class RegistryError(PipelineError):
    """Nothing in the registry matches, or the registry cannot be used (one line)."""


def default_registry_root() -> Path:
    """``$STOCK_ANALYZER_HOME/models``, else the platform's user data dir + ``models``."""
    home = os.environ.get("STOCK_ANALYZER_HOME")
    if home:
        return Path(home).expanduser() / "models"
    import platformdirs

    return Path(platformdirs.user_data_dir("stock-analyzer", appauthor=False)) / "models"


def _sanitize(symbol: str | None) -> str:
    text = re.sub(r"[^A-Za-z0-9]+", "-", symbol or "").strip("-")
    return text[:32] or "model"


def _stamp(created: str) -> str:
    """``2026-12-02T10:15:00+00:00`` -> ``20261202T101500`` (UTC)."""
    try:
        when = datetime.fromisoformat(created)
    except (TypeError, ValueError):
        when = datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S")


def model_id(symbol: str | None, interval: str | None, created: str, suffix: str) -> str:
    """A readable id: ``<symbol>-<interval>-<created UTC>-<suffix>``.

    Examples:
        >>> model_id("^GSPC", "1d", "2026-12-02T10:15:00+00:00", "3f2a")
        'GSPC-1d-20261202T101500-3f2a'
        >>> model_id("EURUSD=X", "1h", "2026-12-02T10:15:00+01:00", "0000")
        'EURUSD-X-1h-20261202T091500-0000'
    """
    return f"{_sanitize(symbol)}-{_sanitize(interval)}-{_stamp(created)}-{suffix}"


def _parse_created(created: str) -> datetime:
    try:
        when = datetime.fromisoformat(created)
    except (TypeError, ValueError):
        return datetime.fromtimestamp(0, timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Entry:
    """One registered model, as the index records it (from the file's own header).

    Args:
        id: The registry id (the file's name without ``.safetensors``).
        path: The model file.
        symbol: Ticker the model was trained on (``None``: not recorded).
        interval: Candle interval of its training data (``None``: not recorded).
        created: UTC ISO time the file was written.
        horizons: Forecast horizons in ticks.
        evaluation: Per horizon (``"h1"``...), the test scores: ``samples``, ``mae``,
            ``mae_persistence``, ``direction_accuracy``, ``coverage``, ``level``.
        size: File size in bytes.
    """

    id: str
    path: Path
    symbol: str | None
    interval: str | None
    created: str
    horizons: tuple[int, ...]
    evaluation: dict[str, dict[str, float]] = field(hash=False, compare=True)
    size: int = 0

    @property
    def created_at(self) -> datetime:
        """``created`` as an aware datetime."""
        return _parse_created(self.created)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the entry (the path as a string)."""
        return {
            "id": self.id,
            "path": str(self.path),
            "symbol": self.symbol,
            "interval": self.interval,
            "created": self.created,
            "horizons": list(self.horizons),
            "evaluation": self.evaluation,
            "size": self.size,
        }


def _summary(evaluation: Any) -> dict[str, dict[str, float]]:
    if not isinstance(evaluation, dict):
        return {}
    out: dict[str, dict[str, float]] = {}
    for key, scores in evaluation.items():
        if isinstance(scores, dict):
            out[str(key)] = {k: scores[k] for k in _SUMMARY_KEYS if k in scores}
    return out


def _entry_from_header(entry_id: str, path: Path) -> Entry:
    """Read a model file's header (no torch) into an :class:`Entry`.

    Raises:
        ModelError: The file is not a readable model file.
    """
    from model import read_header

    header = read_header(path)
    pipeline = header.metadata.get("pipeline") or {}
    if not isinstance(pipeline, dict):
        pipeline = {}
    symbol, interval = pipeline.get("symbol"), pipeline.get("interval")
    return Entry(
        id=entry_id,
        path=path,
        symbol=symbol if isinstance(symbol, str) else None,
        interval=interval if isinstance(interval, str) else None,
        created=header.created,
        horizons=tuple(int(h) for h in header.config.horizons),
        evaluation=_summary(header.metadata.get("evaluation")),
        size=path.stat().st_size,
    )


def _added(path: Path) -> int:
    """When the file came into the registry (its mtime in ns; 0 when it is gone)."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Whether an SQLite error means a broken index (rebuild it), not a busy or locked one."""
    if not isinstance(exc, sqlite3.OperationalError):
        return True  # "file is not a database", "database disk image is malformed"
    text = str(exc)
    return "no such table" in text or "no such column" in text or "malformed" in text


_COLUMNS = "id, file, symbol, interval, created, horizons, evaluation, size, added"


class Registry:
    """A directory of model files with a SQLite index (see the module docstring).

    Args:
        root: The directory (created when missing); ``None``: :func:`default_registry_root`.

    Examples:
        >>> import tempfile
        >>> Registry(tempfile.mkdtemp()).list()
        []
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_registry_root()
        if self.root.exists() and not self.root.is_dir():
            raise RegistryError(f"the model registry {self.root} is not a directory")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RegistryError(
                f"cannot create the model registry {self.root}: {exc.strerror or exc}"
            ) from None
        if not self.root.is_dir():
            raise RegistryError(f"the model registry {self.root} is not a directory")
        self.index = self.root / INDEX
        self._ready = False  # the index was opened, checked and filled once

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    # -- the index ----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.index, timeout=30.0, isolation_level=None)
        if self._ready:  # checked once; a vanished or broken index fails the query instead
            return conn
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                log.debug("registry %s: journal mode is %s", self.root, mode)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS models (id TEXT PRIMARY KEY, file TEXT NOT NULL, "
                "symbol TEXT, interval TEXT, created TEXT NOT NULL, horizons TEXT NOT NULL, "
                "evaluation TEXT NOT NULL, size INTEGER NOT NULL, added INTEGER NOT NULL)"
            )
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if version is None:
                conn.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(_SCHEMA_VERSION),)
                )
                self._index_files(conn)  # a new index: fill it from the files
            elif version[0] != str(_SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"index schema {version[0]!r}")
        except BaseException:
            conn.close()
            raise
        self._ready = True
        return conn

    def _discard_index(self) -> None:
        self._ready = False
        for name in (INDEX, INDEX + "-wal", INDEX + "-shm", INDEX + "-journal"):
            with contextlib.suppress(FileNotFoundError):
                (self.root / name).unlink()

    def _run(self, work: Any) -> Any:
        """Run ``work(conn)`` on a fresh connection.

        A corrupt or foreign index is discarded and rebuilt from the model files (once)
        and the work retried; a busy or locked one is an error after the busy timeout.
        """
        for attempt in (0, 1):
            try:
                conn = self._connect()
                try:
                    return work(conn)
                finally:
                    conn.close()
            except sqlite3.DatabaseError as exc:
                if attempt or not _corrupt(exc):
                    raise RegistryError(f"the registry index {self.index} failed: {exc}") from None
                log.warning("registry %s: index unusable (%s); rebuilding it", self.root, exc)
                self._discard_index()
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _row(entry: Entry) -> tuple[Any, ...]:
        return (
            entry.id,
            entry.path.name,
            entry.symbol,
            entry.interval,
            entry.created,
            json.dumps(list(entry.horizons)),
            json.dumps(entry.evaluation, allow_nan=True),
            entry.size,
            _added(entry.path),
        )

    def _entry(self, row: tuple[Any, ...]) -> Entry:
        entry_id, file, symbol, interval, created, horizons, evaluation, size = row[:8]
        return Entry(
            id=entry_id,
            path=self.root / file,
            symbol=symbol,
            interval=interval,
            created=created,
            horizons=tuple(json.loads(horizons)),
            evaluation=json.loads(evaluation),
            size=int(size),
        )

    def _files(self) -> dict[str, Path]:
        return {
            p.name[: -len(SUFFIX)]: p
            for p in self.root.iterdir()
            if p.name.endswith(SUFFIX) and not p.name.startswith(".") and p.is_file()
        }

    def _index_files(self, conn: sqlite3.Connection) -> None:
        """Make the index match the files: add the unindexed ones, drop rows of gone ones."""
        files = self._files()
        rows = {r[0]: r[1] for r in conn.execute("SELECT id, file FROM models")}
        new = []
        for entry_id in sorted(set(files) - set(rows)):
            try:
                new.append(_entry_from_header(entry_id, files[entry_id]))
            except Exception as exc:  # a broken file is skipped, not fatal
                log.warning("registry %s: skipping %s: %s", self.root, files[entry_id], exc)
        gone = [entry_id for entry_id in rows if entry_id not in files]
        if not new and not gone:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                f"INSERT OR REPLACE INTO models ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [self._row(e) for e in new],
            )
            conn.executemany("DELETE FROM models WHERE id = ?", [(i,) for i in gone])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- the API ------------------------------------------------------------------------

    def add(self, model_or_path: Any) -> Entry:
        """Register a model: a ``model.Model`` (saved here) or a model file (copied here).

        Args:
            model_or_path: A trained ``Model`` or the path of a model file.

        Returns:
            The new entry (its file is in the registry directory, named by its id).

        Raises:
            ModelError: The file is not a model file.
            RegistryError: The registry cannot be written.
        """
        from model import read_header

        fd, name = tempfile.mkstemp(prefix=".add-", suffix=SUFFIX + ".tmp", dir=self.root)
        os.close(fd)
        tmp = Path(name)
        try:
            if isinstance(model_or_path, (str, os.PathLike)):
                source = Path(model_or_path)
                read_header(source)  # refuse a file that is not a model before copying
                shutil.copyfile(source, tmp)
            else:
                model_or_path.save(tmp)
            header = read_header(tmp)
            pipeline = header.metadata.get("pipeline") or {}
            pipeline = pipeline if isinstance(pipeline, dict) else {}
            for _ in range(100):
                entry_id = model_id(
                    pipeline.get("symbol") or ("global" if "global" in header.metadata else None),
                    pipeline.get("interval"),
                    header.created,
                    secrets.token_hex(2),
                )
                target = self.root / (entry_id + SUFFIX)
                try:
                    os.link(tmp, target)  # claims the id: fails when the name exists
                    break
                except FileExistsError:
                    continue
            else:  # pragma: no cover - 100 collisions of a 16-bit suffix
                raise RegistryError(f"could not find a free id in {self.root}")
        except OSError as exc:
            raise RegistryError(
                f"cannot write to the model registry {self.root}: {exc.strerror or exc}"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        entry = _entry_from_header(entry_id, target)

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                f"INSERT OR REPLACE INTO models ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self._row(entry),
            )
            conn.execute("COMMIT")

        self._run(insert)
        return entry

    def list(self, symbol: str | None = None, interval: str | None = None) -> list[Entry]:
        """The entries, newest first, optionally only one symbol and/or interval.

        The index is first brought in line with the files (new files indexed, rows of
        deleted files dropped).
        """

        def query(conn: sqlite3.Connection) -> list[Entry]:
            self._index_files(conn)
            sql, args = f"SELECT {_COLUMNS} FROM models", []
            where = []
            if symbol is not None:
                where.append("symbol = ?")
                args.append(symbol)
            if interval is not None:
                where.append("interval = ?")
                args.append(interval)
            if where:
                sql += " WHERE " + " AND ".join(where)
            return [(self._entry(r), r[8]) for r in conn.execute(sql, args)]

        rows = self._run(query)
        # newest first: by the header's time (seconds), then by when the file was added
        rows.sort(key=lambda pair: (pair[0].created_at, pair[1], pair[0].id), reverse=True)
        return [entry for entry, _ in rows]

    def get(self, entry_id: str) -> Entry:
        """The entry of an id (or of a unique prefix of one).

        Raises:
            RegistryError: No entry (or several) matches.
        """

        def query(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            row = conn.execute(f"SELECT {_COLUMNS} FROM models WHERE id = ?", (entry_id,))
            found = row.fetchall()
            if found:
                return found
            self._index_files(conn)
            pattern = entry_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return conn.execute(
                f"SELECT {_COLUMNS} FROM models WHERE id = ? OR id LIKE ? ESCAPE '\\'",
                (entry_id, pattern + "%"),
            ).fetchall()

        rows = self._run(query) if entry_id else []
        exact = [r for r in rows if r[0] == entry_id]
        rows = exact or rows
        if len(rows) > 1:
            names = ", ".join(sorted(r[0] for r in rows)[:3])
            raise RegistryError(f"{entry_id!r} matches {len(rows)} models ({names}, ...)")
        if not rows or not (self.root / rows[0][1]).is_file():
            raise RegistryError(f"no model {entry_id!r} in the registry {self.root}")
        return self._entry(rows[0])

    def delete(self, entry_id: str) -> Entry:
        """Remove a model (its file and its row); returns the entry it was.

        Raises:
            RegistryError: No such id.
        """
        entry = self.get(entry_id)
        with contextlib.suppress(FileNotFoundError):
            entry.path.unlink()

        def remove(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM models WHERE id = ?", (entry.id,))
            conn.execute("COMMIT")

        self._run(remove)
        return entry

    def cleanup(
        self,
        older_than: timedelta,
        keep_latest: int = 0,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> list[Entry]:
        """Delete the models created more than ``older_than`` ago.

        Args:
            older_than: Age beyond which a model goes.
            keep_latest: Keep this many newest models per (symbol, interval) whatever
                their age.
            dry_run: Only say what would go.
            now: The present (default: the clock), for tests.

        Returns:
            The entries deleted (or, with ``dry_run``, that would be), newest first.
        """
        if keep_latest < 0:
            raise RegistryError(f"keep_latest must be >= 0, got {keep_latest}")
        cutoff = (now or datetime.now(timezone.utc)) - older_than
        seen: dict[tuple[str | None, str | None], int] = {}
        doomed = []
        for entry in self.list():
            key = (entry.symbol, entry.interval)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] <= keep_latest:
                continue
            if entry.created_at < cutoff:
                doomed.append(entry)
        if not dry_run:
            for entry in doomed:
                with contextlib.suppress(RegistryError):
                    self.delete(entry.id)
        return doomed

    def latest(self, symbol: str | None = None, interval: str | None = None) -> Entry | None:
        """The newest entry for a symbol and interval (``None`` when there is none)."""
        entries = self.list(symbol, interval)
        return entries[0] if entries else None

    def resolve(
        self,
        ref: str | os.PathLike[str] | None,
        symbol: str | None = None,
        interval: str | None = None,
    ) -> Path:
        """The model file a user means: an id, a file path, or the latest for a symbol.

        Args:
            ref: A registry id (or a unique prefix), the path of a model file, or ``None``
                for the newest model of ``symbol`` (and ``interval`` when given).
            symbol: Ticker, when ``ref`` is ``None``.
            interval: Candle interval, when ``ref`` is ``None``.

        Raises:
            RegistryError: Nothing matches (one line naming the registry).
        """
        if ref is None:
            if symbol is None:
                raise RegistryError("name a model (an id or a file) or a symbol")
            entry = self.latest(symbol, interval)
            if entry is None:
                what = symbol + (f" {interval}" if interval else "")
                raise RegistryError(
                    f"no model for {what} in the registry {self.root}; train one with "
                    f"'stock-analyzer train --symbol {symbol}'"
                    + (f" --interval {interval}" if interval else "")
                )
            return entry.path
        path = Path(ref)
        if path.is_file():
            return path
        text = str(ref)
        if os.sep in text or "/" in text or text.endswith((SUFFIX, ".pt")):
            raise RegistryError(f"model file not found: {text}")
        return self.get(text).path
