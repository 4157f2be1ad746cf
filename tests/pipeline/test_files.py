from pathlib import Path

import pytest

from pipeline.files import atomic_file, write_atomic


def test_write_atomic_writes_text_as_utf8_and_bytes_as_given(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a" / "t.txt", "阅卷\n")
    write_atomic(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "a" / "t.txt").read_bytes() == "阅卷\n".encode()
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"


def test_a_failed_write_leaves_the_old_file_and_no_staging_file(tmp_path: Path) -> None:
    target = write_atomic(tmp_path / "state.json", "old")
    with pytest.raises(RuntimeError), atomic_file(target, "w") as out:
        out.write("half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_the_target_is_not_there_until_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "new.txt"
    with atomic_file(target, "w") as out:
        out.write("x")
        assert not target.exists()
    assert target.read_text() == "x"
