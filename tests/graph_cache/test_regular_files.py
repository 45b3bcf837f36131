"""`regular_files`: never blocks on a FIFO, refuses what is not a regular file."""
from __future__ import annotations

import os

import pytest

from graph_cache.regular_files import open_regular, read_regular


def test_reads_a_regular_file_whole_or_in_part(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    assert read_regular(str(path)) == b"0123456789" and read_regular(str(path), 4) == b"0123"
    fd = open_regular(str(tmp_path / "new.txt"), os.O_WRONLY | os.O_CREAT)
    try:
        assert os.get_blocking(fd)  # back in blocking mode for the caller
        os.write(fd, b"x")
    finally:
        os.close(fd)
    assert (tmp_path / "new.txt").read_bytes() == b"x"


def test_fifo_and_folder_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in (fifo, tmp_path):
        with pytest.raises(OSError):
            read_regular(str(target))
    with pytest.raises(OSError):  # no reader: ENXIO, instead of waiting for one
        open_regular(str(fifo), os.O_WRONLY | os.O_APPEND)
    with pytest.raises(FileNotFoundError):
        read_regular(str(tmp_path / "missing"))
