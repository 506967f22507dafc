"""ZIP archives of statement files, read safely from memory: each member's bytes, or a refusal.

E-banking portals deliver a day's or a month's camt files as one ZIP. The archive is read with
`zipfile` from memory and nothing is ever extracted to disk; still, a member whose name is an
absolute path, a drive letter, contains NUL or climbs out with `..` is refused, because no bank
makes such an archive. Directories and macOS resource forks (`__MACOSX/`) are skipped.

Limits bound what a hostile archive can cost (`Limits`): the number of members, the uncompressed
bytes of one member and of all, and the compression ratio (a ZIP bomb inflates a few KiB into
GiB). The sizes the archive declares are checked first, then the bytes are counted while they are
inflated and reading stops at the limit, so a member that lies about its size is caught too.
Encrypted members and unknown compression methods are refused by name.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass

from ..errors import UserError

ZIP_MAGIC = b"PK\x03\x04"
_CHUNK = 1 << 16
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Limits:
    """What one archive may hold."""

    members: int = 1000  # entries, directories included
    member_bytes: int = 256 << 20  # uncompressed bytes of one member
    total_bytes: int = 1 << 30  # uncompressed bytes of all members (= the largest import file)
    ratio: int = 200  # uncompressed / compressed bytes of one member; XML packs 10-40x


LIMITS = Limits()


@dataclass
class Member:
    """One file of an archive: its name as stored and its uncompressed bytes."""

    name: str
    data: bytes


def is_zip(data: bytes) -> bool:
    """True when `data` starts like a ZIP archive (a local file header)."""
    return data.startswith(ZIP_MAGIC)


def _skipped(name: str) -> bool:
    """Directory entries and macOS resource forks, which hold no statement."""
    return name.endswith("/") or name.startswith("__MACOSX/") or name.endswith("/.DS_Store")


def _check_name(name: str, file: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if "\x00" in name or name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts:
        raise UserError(
            f"the ZIP archive has a member named {name!r}, an absolute path or one that climbs "
            "out of the archive (..); such an archive is not a bank's and is refused",
            file=file,
            field=f"member {name}",
        )


def read_members(
    data: bytes, file: str, limits: Limits | None = None
) -> tuple[list[Member], list[str]]:
    """(files, names of the skipped directory and resource-fork entries) of the archive `data`.

    Raises:
        UserError: naming the archive and the member for a damaged archive, a bad member name,
            an encrypted member, or a limit exceeded (`LIMITS` unless `limits` is given);
            nothing of the archive is used then.
    """
    limits = limits or LIMITS
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise UserError(
            f"not a readable ZIP archive ({exc}); the file is damaged", file=file
        ) from exc
    if len(infos) > limits.members:
        raise UserError(
            f"the ZIP archive has {len(infos)} entries; at most {limits.members} are read from "
            "one archive — split it",
            file=file,
        )
    members: list[Member] = []
    skipped: list[str] = []
    total = 0
    for info in infos:
        name = info.filename
        _check_name(name, file)
        if info.is_dir() or _skipped(name):
            skipped.append(name)
            continue
        where = f"member {name}"
        if info.flag_bits & 0x1:
            raise UserError(
                "the member is encrypted; unpack it with its password and import the files",
                file=file,
                field=where,
            )
        if info.file_size > limits.member_bytes:
            raise _too_big(file, where, f"declares {info.file_size} bytes", limits.member_bytes)
        if total + info.file_size > limits.total_bytes:
            raise _too_big(file, where, "takes the archive's contents", limits.total_bytes, True)
        if info.file_size > limits.ratio * max(info.compress_size, 1):
            raise _bomb(file, where, info.file_size, info.compress_size, limits.ratio)
        room = min(limits.member_bytes, limits.total_bytes - total)
        body = _inflate(zf, info, file, where, room, limits)
        total += len(body)
        members.append(Member(name, body))
    if not members:
        raise UserError("the ZIP archive holds no files", file=file)
    return members, skipped


def _inflate(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, file: str, where: str, room: int, limits: Limits
) -> bytes:
    """The member's bytes, counted while read: stops at `room` bytes or the ratio limit."""
    out = bytearray()
    cap = limits.ratio * max(info.compress_size, 1)
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(_CHUNK):
                out += chunk
                if len(out) > room:
                    raise _too_big(file, where, "inflates beyond", room)
                if len(out) > cap:
                    raise _bomb(file, where, len(out), info.compress_size, limits.ratio)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise UserError(
            f"the member is damaged ({exc}); nothing was imported", file=file, field=where
        ) from exc
    except (NotImplementedError, RuntimeError) as exc:  # unknown compression, password
        raise UserError(f"the member cannot be read ({exc})", file=file, field=where) from exc
    return bytes(out)


def _too_big(file: str, where: str, what: str, limit: int, total: bool = False) -> UserError:
    scope = "all members together" if total else "one member"
    return UserError(
        f"the member {what} the limit of {limit} bytes for {scope}; nothing was imported",
        file=file,
        field=where,
    )


def _bomb(file: str, where: str, size: int, packed: int, ratio: int) -> UserError:
    return UserError(
        f"the member inflates {packed} compressed bytes to {size} or more, beyond the "
        f"{ratio}:1 compression ratio a statement file has (a ZIP bomb?); refused",
        file=file,
        field=where,
    )


def member_heads(head: bytes, size: int = 4096) -> list[tuple[str, bytes]]:
    """(name, first `size` uncompressed bytes) of the files in the start of an archive, in order.

    For sniffing from the first 64 KiB of a file: walks the local file headers, skipping
    directory entries, and inflates only the beginning of each file. Stops where the start cannot
    be read that way (an unknown compression method, a size known only after the data).
    """
    found: list[tuple[str, bytes]] = []
    pos = 0
    while head[pos : pos + 4] == ZIP_MAGIC and len(head) >= pos + _LOCAL_HEADER.size:
        fields = _LOCAL_HEADER.unpack_from(head, pos)
        flags, method, packed, name_len, extra_len = (
            fields[2],
            fields[3],
            fields[7],
            fields[9],
            fields[10],
        )
        raw_name = head[pos + 30 : pos + 30 + name_len]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        start = pos + 30 + name_len + extra_len
        body = head[start:] if flags & 0x8 else head[start : start + packed]
        if not _skipped(name):
            if method == zipfile.ZIP_STORED:
                found.append((name, body[:size]))
            elif method == zipfile.ZIP_DEFLATED:
                try:
                    found.append((name, zlib.decompressobj(-15).decompress(body, size)))
                except zlib.error:
                    return found
            else:
                return found
        if flags & 0x8:  # sizes follow the data: the next header cannot be found
            return found
        pos = start + packed
    return found
