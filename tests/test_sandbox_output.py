"""Capped output keeps exactly the head and the tail and says how much it dropped."""

from __future__ import annotations

from sandboxes.output import CappedBuffer


def test_small_output_is_kept_whole_across_writes() -> None:
    buffer = CappedBuffer(10)
    for piece in (b"ab", b"cd", b"efgh"):
        buffer.write(piece)
    assert (buffer.text(), buffer.truncated, buffer.total) == ("abcdefgh", False, 8)


def test_exactly_at_the_cap_is_not_truncated() -> None:
    buffer = CappedBuffer(10)
    buffer.write(b"0123456789")
    assert (buffer.text(), buffer.truncated) == ("0123456789", False)


def test_large_output_keeps_head_and_tail_in_many_small_writes() -> None:
    buffer = CappedBuffer(8)
    data = bytes(range(65, 91)) * 40  # 1040 bytes of A..Z
    for i in range(0, len(data), 3):
        buffer.write(data[i : i + 3])
    assert buffer.truncated and buffer.total == 1040
    assert buffer.text() == "ABCD\n[... 1032 bytes omitted ...]\nWXYZ"


def test_a_split_utf8_character_does_not_raise() -> None:
    buffer = CappedBuffer(4)
    buffer.write("ééééé".encode())
    assert "bytes omitted" in buffer.text()
