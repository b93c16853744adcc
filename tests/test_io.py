"""The one atomic writer (trunksim.io): whole files or nothing, no temporary left behind."""

from __future__ import annotations

import os
import sys

import pandas as pd
import pytest

from trunksim import io


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_text_is_written_byte_for_byte_and_replaces_the_old_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("old")
    assert io.write_text(path, "é\nsecond line\r\nthird\n") == path
    assert path.read_bytes() == "é\nsecond line\r\nthird\n".encode("utf-8")  # line ends exactly as given
    assert leftovers(tmp_path) == []


def test_bytes_and_string_paths(tmp_path):
    written = io.write_bytes(str(tmp_path / "blob.bin"), b"\x00\x01\xff")
    assert written == tmp_path / "blob.bin"
    assert written.read_bytes() == b"\x00\x01\xff"


def test_a_failure_while_writing_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "plot.png"
    path.write_bytes(b"old")
    for error in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            with io.atomic_path(path) as temporary:
                assert temporary.parent == tmp_path and temporary.name.startswith(".plot.png.")
                temporary.write_bytes(b"half")
                raise error
        assert path.read_bytes() == b"old"
        assert leftovers(tmp_path) == []


def test_a_failing_move_leaves_no_temporary(tmp_path):
    target = tmp_path / "folder"
    (target / "inside").mkdir(parents=True)  # a non-empty folder cannot be replaced by a file
    with pytest.raises(OSError):
        io.write_text(target, "text")
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_new_files_get_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = io.write_text(tmp_path / "shared.csv", "a\n")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_csv_has_no_index_unix_line_ends_and_a_fixed_float_format(tmp_path):
    frame = pd.DataFrame({"name": ["a", "b"], "value": [1 / 3, 2.0]})
    path = io.write_csv(frame, tmp_path / "frame.csv", float_format="%.10g")
    assert path.read_bytes() == b"name,value\na,0.3333333333\nb,2\n"
    assert io.write_csv(frame, tmp_path / "plain.csv").read_text() == frame.to_csv(index=False, lineterminator="\n")


def test_parquet_round_trips(tmp_path):
    pytest.importorskip("pyarrow")
    assert io.parquet_available()
    frame = pd.DataFrame({"name": ["a", "b"], "value": [1.5, float("nan")]})
    path = io.write_parquet(frame, tmp_path / "frame.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)
    assert leftovers(tmp_path) == []
