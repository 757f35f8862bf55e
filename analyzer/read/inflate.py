"""A zip part's bytes, inflated in bounded chunks however well they compress (the workbook
guard measures every part this way, and the sheet watch walks a part again with it)."""

from __future__ import annotations

import queue
import struct
import threading
import zipfile
import zlib
from typing import Iterator

LOCAL_HEADER = struct.Struct("<4s22xHH")
OUT_CHUNK = 4 * 1024**2
IN_CHUNK = 256 * 1024

AHEAD_FROM = 1024**2  # compressed bytes from which a part is inflated ahead in a thread


def ahead(chunks: Iterator[bytes], depth: int = 2) -> Iterator[bytes]:
    """The chunks, made up to `depth` ahead in a thread. zlib inflates without the interpreter
    lock, so a big sheet's inflating overlaps the checks of the chunk before (0.15 s of a
    100,000-row export's read). Closing the iterator stops the thread and waits for it, so the
    file is never read by two threads, and an error inflating is raised here, as it was."""
    box: queue.Queue = queue.Queue(depth)
    done = threading.Event()

    def offer(item) -> bool:
        while not done.is_set():
            try:
                box.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not offer((True, chunk)):
                    return
            offer((False, None))
        except BaseException as exc:  # raised in the reading thread
            offer((False, exc))

    thread = threading.Thread(target=produce, name="inflate-ahead", daemon=True)
    thread.start()
    try:
        while True:
            more, value = box.get()
            if more:
                yield value
            elif value is None:
                return
            else:
                raise value
    finally:
        done.set()
        thread.join()


def part_chunks(handle, member: zipfile.ZipInfo) -> Iterator[bytes]:
    """The part's bytes from its start; a big part's inflated ahead in a thread (close the
    iterator to stop it)."""
    seek_data(handle, member)
    chunks = inflate(handle, member)
    return ahead(chunks) if member.compress_size > AHEAD_FROM else chunks


def seek_data(handle, member: zipfile.ZipInfo) -> None:
    """To the part's compressed bytes, past its local header (whose name and extra field need
    not be as long as the central directory's)."""
    handle.seek(member.header_offset)
    signature, name_length, extra_length = LOCAL_HEADER.unpack(handle.read(LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile
    handle.seek(member.header_offset + LOCAL_HEADER.size + name_length + extra_length)


def inflate(handle, member: zipfile.ZipInfo):
    """The part's bytes from where the handle is, at most OUT_CHUNK at a time, however well they compress."""
    left = member.compress_size
    if member.compress_type == zipfile.ZIP_STORED:
        while left:
            data = handle.read(min(left, OUT_CHUNK))
            if not data:
                raise EOFError
            left -= len(data)
            yield data
        return
    inflater = zlib.decompressobj(-15)
    pending = b""
    while not inflater.eof:
        if not pending:
            if not left:  # all input read: what zlib still holds, else the stream was cut short
                out = inflater.decompress(b"", OUT_CHUNK)
                if not out:
                    raise EOFError
                yield out
                continue
            pending = handle.read(min(left, IN_CHUNK))
            if not pending:
                raise EOFError
            left -= len(pending)
        out = inflater.decompress(pending, OUT_CHUNK)
        pending = inflater.unconsumed_tail
        if out:
            yield out
