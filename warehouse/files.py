"""Files on any filesystem URL: paths, listing, atomic writes, hashing, Parquet, permissions.

Paths are local paths or any Beam filesystem URL (``gs://``, ``s3://``): listing, moving and
URLs go through ``apache_beam.io.filesystems.FileSystems``, so the job's workers and its launcher
see the same files. Code that walks folders as path objects (datasets) gets them from ``path``:
a ``pathlib.Path`` for a local path, a ``upath.UPath`` (pathlib over fsspec: s3fs, gcsfs, adlfs)
for a URL. Every client reads the standard cloud variables (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_REGION``...): no flag carries credentials. Beam's filesystems load on first use (they cost seconds to import), so a
local reader that only hashes or reads a file never pays for them. One home for each helper:
jobs do not write their own temp-file-then-rename.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def filesystems():
    """Beam's ``FileSystems``, imported on first use (see the module docstring).

    Outside a pipeline Beam's S3 filesystem has no options and refuses to build a client ("Must
    provide one of client or options"); empty options let boto3 read the standard AWS variables
    (``AWS_ENDPOINT_URL``, credentials, region). A pipeline sets its own options when it starts.
    """
    from apache_beam.io.filesystems import FileSystems

    if getattr(FileSystems, "_pipeline_options", None) is None:
        from apache_beam.options.pipeline_options import PipelineOptions

        FileSystems.set_options(PipelineOptions([]))
    return FileSystems


def _as_stored():
    """Beam's "no compression": its default (AUTO) would gunzip a ``.gz`` object on read and gzip
    it again on write; these helpers move bytes as they are stored."""
    from apache_beam.io.filesystem import CompressionTypes

    return CompressionTypes.UNCOMPRESSED


def is_url(location) -> bool:
    return "://" in str(location)


def path(location):
    """A path object for ``location``: ``pathlib.Path`` locally, ``upath.UPath`` for a URL.

    Listings are not cached: other writers (Beam, delta-rs, another job) change the store
    between two calls, and a cached listing would hide their files.
    """
    if not is_url(location):
        return Path(location)
    from upath import UPath

    return UPath(str(location), use_listings_cache=False)


CACHE_ENV = "FLYWHEEL_CACHE_DIR"  # where local copies of object-store folders live


def cache_root() -> Path:
    """The local folder that holds copies of object-store folders (``FLYWHEEL_CACHE_DIR``, else
    ``~/.cache/flywheel``): model checkpoints are trained and loaded there, since transformers
    reads and writes local files only."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "flywheel").resolve()


def local_copy(location) -> Path:
    """The local folder that stands for ``location``: itself for a local path; for a URL
    ``<cache root>/<scheme>/<bucket>/<key>``, so that ``remote_of`` can name the URL again."""
    text = str(location)
    if not is_url(text):
        return Path(text)
    scheme, rest = text.split("://", 1)
    parts = [p for p in rest.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ValueError(f"bad object-store URL {text!r}: expected SCHEME://BUCKET/KEY")
    return cache_root().joinpath(scheme, *parts)


def remote_of(folder) -> str | None:
    """The URL a ``local_copy`` folder stands for; None for any other local folder."""
    try:
        relative = Path(folder).resolve().relative_to(cache_root())
    except ValueError:
        return None
    scheme, *rest = relative.parts
    return f"{scheme}://{'/'.join(rest)}" if rest else None


def _fs(url: str):
    import fsspec

    return fsspec.core.url_to_fs(url, use_listings_cache=False)


def put_tree(folder, url: str, skip: tuple[str, ...] = (), last: str | None = None) -> list[str]:
    """Upload every file under a local ``folder`` to ``url`` (same relative names), top-level
    entries named in ``skip`` left out, the top-level file ``last`` uploaded after all others;
    the URLs written. Each file is one PUT, atomic on S3 and GCS: a reader sees a file whole or
    not at all. The folder fills file by file, so ``last`` is the marker that it is complete."""
    fs, root = _fs(url)
    written = []
    paths = sorted(Path(folder).rglob("*"), key=lambda p: (p.relative_to(folder).as_posix() == last,
                                                           p.as_posix()))
    for path in paths:
        relative = path.relative_to(folder)
        if path.is_file() and relative.parts[0] not in skip:
            remote = f"{root.rstrip('/')}/{relative.as_posix()}"
            fs.put_file(str(path), remote)
            written.append(fs.unstrip_protocol(remote))
    return written


def get_tree(url: str, folder) -> Path:
    """Download every object under ``url`` into the local ``folder``; the folder. Raises
    FileNotFoundError naming the URL when nothing is there."""
    fs, root = _fs(url)
    root = root.rstrip("/")
    keys = [k for k in fs.find(root) if not k.endswith("/")]
    if not keys:
        raise FileNotFoundError(f"nothing under {url}: was the checkpoint uploaded?")
    for key in keys:
        target = Path(folder).joinpath(*key[len(root) + 1:].split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(key, str(target))
    return Path(folder)


def parquet_file(location) -> pq.ParquetFile:
    """An open Parquet file at a local path or URL (an object is read whole: files are small)."""
    text = str(location)
    return pq.ParquetFile(text if not is_url(text) else io.BytesIO(read_bytes(text)))


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
    path = str(path)
    if "://" in path:
        with filesystems().create(path, compression_type=_as_stored()) as handle:
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
    path = str(path)
    if "://" not in path:
        with open(path, "rb") as handle:
            return handle.read()
    with filesystems().open(path, compression_type=_as_stored()) as handle:
        return handle.read()


def sha256_file(path: str) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    path = str(path)
    with (open(path, "rb") if "://" not in str(path) else filesystems().open(path, compression_type=_as_stored())) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_parquet(path: str, columns: list[str] | None = None,
                 schema: pa.Schema | None = None, *, present_only: bool = False) -> pa.Table:
    """A Parquet file as a table; ``present_only`` reads those of ``columns`` the file has
    (older partitions may lack a column added since)."""
    path = str(path)
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
    atomic_write(str(path), buffer.getvalue())
