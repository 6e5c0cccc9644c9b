"""Patrol-report photos: checked by their content, then kept behind one small interface (`PhotoStore`).

A photo is taken only when its first bytes say JPEG, PNG or WebP, whatever the phone called it or said
its content type was, and only up to the configured size. Stored names are random, never derived from
the client's file name, so nothing a client sends can choose where a file lands.
"""

import asyncio
import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from service.errors import DomainError, Invalid

# (media type, file extension) by leading bytes; WebP is a RIFF container whose form type is WEBP.
_JPEG, _PNG, _WEBP = ("image/jpeg", "jpg"), ("image/png", "png"), ("image/webp", "webp")
MEDIA_TYPES = {ext: media_type for media_type, ext in (_JPEG, _PNG, _WEBP)}
SNIFF_BYTES = 12
COPY_CHUNK_BYTES = 1024 * 1024
_KEY = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")


class PhotoTooLarge(DomainError):
    """A photo is larger than a patrol report may carry."""

    status_code = 413


class PhotoMissing(DomainError):
    """The photo's file is not in the photo store."""

    status_code = 404


def sniff(head: bytes) -> tuple[str, str] | None:
    """(media type, extension) of an image from its first bytes; None when it is not JPEG, PNG or WebP."""
    if head.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _WEBP
    return None


@dataclass(frozen=True)
class PhotoUpload:
    """One photo as it arrived: a readable, seekable file (the multipart parser spools big ones to disk)."""

    file: BinaryIO


@dataclass(frozen=True)
class CheckedPhoto:
    """A photo whose content is an image of an accepted type and whose size is within the limit."""

    file: BinaryIO
    media_type: str
    extension: str
    size_bytes: int


@dataclass(frozen=True)
class StoredPhoto:
    """A photo in the store, as the report row lists it."""

    key: str
    media_type: str
    size_bytes: int
    sha256: str

    def as_json(self) -> dict:
        return {"key": self.key, "media_type": self.media_type, "size_bytes": self.size_bytes, "sha256": self.sha256}


def check(uploads: list[PhotoUpload], *, max_bytes: int, max_count: int) -> list[CheckedPhoto]:
    """Every photo's type and size, checked before any is stored; 422 or 413 naming the first bad one."""
    if len(uploads) > max_count:
        raise Invalid(f"a report carries at most {max_count} photos, not {len(uploads)}", loc=("body", "photos"))
    checked = []
    for i, upload in enumerate(uploads):
        size = upload.file.seek(0, os.SEEK_END)
        if size > max_bytes:
            raise PhotoTooLarge(f"photos[{i}] is {_mib(size)}; a photo may be at most {_mib(max_bytes)}")
        upload.file.seek(0)
        kind = sniff(upload.file.read(SNIFF_BYTES))
        upload.file.seek(0)
        if kind is None:
            raise Invalid(
                "not a JPEG, PNG or WebP image (judged by its content, not its name or content type)",
                loc=("body", "photos", i),
            )
        checked.append(CheckedPhoto(upload.file, *kind, size))
    return checked


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size} bytes"


class PhotoStore(Protocol):
    """Where photos are kept: the API needs no more than these three."""

    async def save(self, photo: CheckedPhoto) -> StoredPhoto:
        """Store the photo whole under a new name, or nothing of it."""
        ...

    async def load(self, key: str) -> bytes:
        """The photo's bytes; PhotoMissing when the store has no such photo."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the photo; nothing when it is already gone."""
        ...


class LocalPhotoStore:
    """Photos as files under one directory, spread over 256 subdirectories by the first two hex digits of the name."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):  # a key comes from the database, but a path must never come from data unchecked
            raise PhotoMissing(f"{key!r} is not a photo name this store gives")
        return self.root / key[:2] / key

    async def save(self, photo: CheckedPhoto) -> StoredPhoto:
        key = f"{uuid.uuid4().hex}.{photo.extension}"
        sha256 = await asyncio.to_thread(self._write, self._path(key), photo.file)
        return StoredPhoto(key, photo.media_type, photo.size_bytes, sha256)

    def _write(self, path: Path, source: BinaryIO) -> str:
        """Copy to a hidden partial file, flush it to disk, then rename: a reader never sees half a photo."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.part")
        digest = hashlib.sha256()
        source.seek(0)
        try:
            with open(partial, "xb") as out:
                while chunk := source.read(COPY_CHUNK_BYTES):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return digest.hexdigest()

    async def load(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise PhotoMissing(f"Photo {key} is missing from the photo store") from None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)
