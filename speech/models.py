"""Vosk models: where they come from, how they are verified, where they live.

``assistant models download`` fetches an archive from alphacephei.com, checks its SHA-256
against the value recorded here and unpacks it under ``models/vosk/``. Alphacephei does
not publish checksums. The values below are the digests that independent public projects
pinning the same archives agree on (the small model: a Yocto recipe and several
applications; the large model: one project); they were not recomputed from a download on
this project's build machines, which cannot reach alphacephei.com. A mismatch unpacks
nothing. A model without a recorded checksum is only unpacked when the operator passes the
expected value (``--sha256``), so an archive is never trusted blind.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

BASE_URL = "https://alphacephei.com/vosk/models/"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    size_mb: int
    # SHA-256 of the zip archive; None where no verified value is known yet.
    sha256: Optional[str]
    note: str

    @property
    def url(self) -> str:
        return f"{BASE_URL}{self.name}.zip"


MODELS = {
    "vosk-model-small-de-0.15": ModelInfo(
        "vosk-model-small-de-0.15", 45,
        "b7e53c90b1f0a38456f4cd62b366ecd58803cd97cd42b06438e2c131713d5e43",
        "small German model (default; ~300 MB RAM per process)"),
    "vosk-model-de-0.21": ModelInfo(
        "vosk-model-de-0.21", 1900,
        "fb45a53025a50830b16bcda94146f90e22166501bb3693b009cabed796dbaaa0",
        "large German model (more accurate; several GB RAM)"),
}
DEFAULT_MODEL = "vosk-model-small-de-0.15"


class ModelError(RuntimeError):
    """A model cannot be fetched, verified or unpacked; the message says what to do."""


def model_root(models_dir: Path) -> Path:
    return models_dir / "vosk"


def find_model(models_dir: Path, configured: Optional[Path] = None) -> Optional[Path]:
    """The Vosk model to use: ``configured`` (ASSISTANT_VOICE_VOSK_MODEL) or the default under models/vosk/."""
    if configured is not None:
        return configured if is_model(configured) else None
    root = model_root(models_dir)
    for name in [DEFAULT_MODEL, *sorted(n for n in MODELS if n != DEFAULT_MODEL)]:
        if is_model(root / name):
            return root / name
    return None


def is_model(path: Path) -> bool:
    return (path / "am" / "final.mdl").is_file() and (path / "conf" / "model.conf").is_file()


def _progress(done: int, total: int) -> None:
    if total:
        sys.stderr.write(f"\r  {done / 1e6:7.1f} / {total / 1e6:.1f} MB ({100 * done / total:5.1f} %)")
    else:
        sys.stderr.write(f"\r  {done / 1e6:7.1f} MB")
    sys.stderr.flush()


def download(
    name: str,
    models_dir: Path,
    sha256: Optional[str] = None,
    progress: Callable[[int, int], None] = _progress,
    url: Optional[str] = None,
) -> Path:
    """Fetch, verify and unpack model ``name``; returns its folder. Idempotent."""
    info = MODELS.get(name)
    if info is None:
        raise ModelError(f"unknown model '{name}'; choose one of: {', '.join(MODELS)}")
    target = model_root(models_dir) / name
    if is_model(target):
        return target
    expected = (sha256 or info.sha256 or "").lower() or None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        archive = Path(tmp) / f"{name}.zip"
        digest = _fetch(url or info.url, archive, progress)
        if expected is None:
            raise ModelError(
                f"no SHA-256 is recorded for {name} and none was given, so the archive was not unpacked.\n"
                f"The downloaded archive has SHA-256 {digest}. Compare it with a value you trust, then run:\n"
                f"  assistant models download --model {name} --sha256 {digest}"
            )
        if digest != expected:
            raise ModelError(
                f"SHA-256 mismatch for {name}: expected {expected}, got {digest}; nothing unpacked.\n"
                f"The archive at {url or info.url} is not the one recorded. If its publisher has replaced it, "
                f"verify the new archive with a source you trust and run:\n"
                f"  assistant models download --model {name} --sha256 <verified value>"
            )
        _unpack(archive, Path(tmp) / "unpacked")
        unpacked = Path(tmp) / "unpacked" / name
        if not is_model(unpacked):
            raise ModelError(f"the archive of {name} does not contain a Vosk model folder '{name}/'")
        shutil.move(str(unpacked), str(target))
    return target


def _fetch(url: str, path: Path, progress: Callable[[int, int], None]) -> str:
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(path, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while True:
                block = resp.read(1 << 20)
                if not block:
                    break
                out.write(block)
                digest.update(block)
                done += len(block)
                progress(done, total)
    except OSError as err:
        raise ModelError(f"could not download {url}: {err}") from err
    finally:
        sys.stderr.write("\n")
    return digest.hexdigest()


def _unpack(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            root = dest.resolve()
            for member in zf.namelist():
                if not (dest / member).resolve().is_relative_to(root):
                    raise ModelError(f"refusing archive entry outside the model folder: {member}")
            zf.extractall(dest)
    except zipfile.BadZipFile as err:
        raise ModelError(f"{archive.name} is not a zip archive") from err
