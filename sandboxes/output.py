"""Capped output: keep the head and the tail of a stream, count what was dropped."""

from __future__ import annotations


class CappedBuffer:
    """Keeps the first and last `limit // 2` bytes of everything written to it."""

    def __init__(self, limit: int) -> None:
        self.half = max(limit // 2, 1)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def write(self, data: bytes) -> None:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data[-self.half :]
            if len(self.tail) > 2 * self.half:
                del self.tail[: len(self.tail) - self.half]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + min(len(self.tail), self.half)

    def text(self) -> str:
        tail = bytes(self.tail[-self.half :]) if self.tail else b""
        if not self.truncated:
            return (bytes(self.head) + tail).decode(errors="replace")
        dropped = self.total - len(self.head) - len(tail)
        return (
            bytes(self.head).decode(errors="replace")
            + f"\n[... {dropped} bytes omitted ...]\n"
            + tail.decode(errors="replace")
        )
