"""Files on any filesystem URL: paths, listing, atomic writes, hashing, Parquet, permissions.

Paths are local paths or any Beam filesystem URL (``gs://``, ``s3://``): listing, moving and
URLs go through ``apache_beam.io.filesystems.FileSystems``, so the job's workers and its launcher
see the same files. Beam's filesystems load on first use (they cost seconds to import), so a
local reader that only hashes or reads a file never pays for them. One home for each helper:
jobs do not write their own temp-file-then-rename.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import uuid

import pyarrow as pa
import pyarrow.parquet as pq


def filesystems():
    """Beam's ``FileSystems``, imported on first use (see the module docstring)."""
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


def join(*parts: str) -> str:
    base = parts[0].rstrip("/")
    if "://" in base:
        return posixpath.join(base, *parts[1:])
    return os.path.join(base, *parts[1:])


def exists(path: str) -> bool:
    return filesystems().exists(path)


def list_files(pattern: str) -> list[str]:
    """Paths matching a glob; [] when nothing matches (never an error)."""
    try:
        results = filesystems().match([pattern])
    except Exception:  # noqa: BLE001 - Beam raises a generic error for an unmatched glob
        return []
    return sorted(m.path for r in results for m in r.metadata_list)


def move_tree(src: str, dst: str) -> None:
    """Move a directory. Local: one atomic rename. Object stores: per-file rename."""
    if "://" not in src:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.replace(src, dst)
        return
    files = list_files(join(src, "**"))
    filesystems().rename(files, [dst + f[len(src):] for f in files])


def delete_tree(path: str) -> None:
    if exists(path):
        filesystems().delete([path])


def ensure_parent(path: str) -> None:
    """Create a local path's parent folder; object stores have no folders to create."""
    if "://" not in path:
        os.makedirs(os.path.dirname(path), exist_ok=True)


def basename(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def atomic_write(path: str, data: bytes | str) -> None:
    """Write ``path`` so readers see the old content or the new, never a part.

    Local: a hidden temp file beside it, fsynced, then ``os.replace`` (atomic on POSIX).
    Object stores: one PUT, which is atomic there.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if "://" in path:
        with filesystems().create(path) as handle:
            handle.write(payload)
        return
    folder, name = os.path.split(path)
    os.makedirs(folder or ".", exist_ok=True)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_bytes(path: str) -> bytes:
    if "://" not in path:
        with open(path, "rb") as handle:
            return handle.read()
    with filesystems().open(path) as handle:
        return handle.read()


def sha256_file(path: str) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with (open(path, "rb") if "://" not in str(path) else filesystems().open(path)) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_parquet(path: str, columns: list[str] | None = None,
                 schema: pa.Schema | None = None, *, present_only: bool = False) -> pa.Table:
    """A Parquet file as a table; ``present_only`` reads those of ``columns`` the file has
    (older partitions may lack a column added since)."""
    source = path if "://" not in path else io.BytesIO(read_bytes(path))
    if present_only and columns is not None:
        names = pq.ParquetFile(source).schema_arrow.names
        columns = [c for c in columns if c in names]
        if not isinstance(source, str):
            source.seek(0)
    return pq.read_table(source, columns=columns, schema=schema)


def write_parquet(table: pa.Table, path: str, **options) -> None:
    """Write a Parquet file atomically (see ``atomic_write``)."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **options)
    atomic_write(path, buffer.getvalue())
