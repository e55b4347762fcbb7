"""Broken files: each one gives one DataError line, never a raw pandas/zlib/codec error."""

import bz2
import gzip
import io
import lzma
import zipfile

import numpy as np
import pandas as pd
import pytest
from data_fetcher import DataError, Fetcher, read_candles_csv, validate_candles

GOOD = "Date,Open,High,Low,Close,Volume\n" + "".join(
    f"2024-01-{d:02d},1,2,1,2,10\n" for d in range(1, 29)
)


def zipped(text):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", text)
    return buffer.getvalue()


def two_member_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", GOOD)
        archive.writestr("b.csv", GOOD)
    return buffer.getvalue()


CASES = {
    "truncated.csv.gz": (gzip.compress(GOOD.encode())[:40], "corrupt or truncated"),
    "bad_deflate.csv.gz": (b"\x1f\x8b\x08\x00" + b"garbage" * 5, "corrupt or truncated"),
    "not_gzip.csv.gz": (b"\x00\x01hello, not gzip" * 10, "corrupt or truncated"),
    "truncated.zip": (zipped(GOOD)[:60], "corrupt or truncated"),
    "garbage.zip": (bytes(range(256)), "corrupt or truncated"),
    "two_members.zip": (two_member_zip(), "Multiple files"),
    "truncated.csv.bz2": (bz2.compress(GOOD.encode())[:50], "corrupt or truncated"),
    "garbage.csv.bz2": (b"BZh9" + b"\x00" * 40, "corrupt or truncated"),
    "truncated.csv.xz": (lzma.compress(GOOD.encode())[:50], "corrupt or truncated"),
    "binary.csv": (bytes(range(128, 256)) * 3, "not a UTF-8 text file"),
    "latin1.csv": (
        "Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,1,2,10\n# café\n".encode("latin-1"),
        "not a UTF-8 text file",
    ),
    "old.csv": (b"Date,Close\n2024-01-02,1\n1066-10-14,2\n", "data row 2 is outside"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_broken_file_is_one_data_error_line(tmp_path, name):
    content, match = CASES[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=match) as info:
        read_candles_csv(path)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "\n" not in message
    with pytest.raises(DataError, match=match):  # the same through the sources
        Fetcher("X", interval=None, source=f"csv:{path}").fetch_historical()
    with pytest.raises(DataError, match=match):
        Fetcher("X", interval=None, source=f"replay:{path}")


def test_out_of_range_index_in_a_frame():
    index = pd.DatetimeIndex(np.array(["2024-01-02", "2300-01-02"], dtype="datetime64[us]"))
    frame = pd.DataFrame({c: [1.0, 2.0] for c in ("Open", "High", "Low", "Close", "Volume")})
    frame.index = index.tz_localize("UTC")
    with pytest.raises(DataError, match=r"^X: date 2300-01-02 00:00:00\+00:00 is outside"):
        validate_candles(frame, "X")
