"""Files that readers must never see half-written (training data, knowledge, models)."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def _replacing(target: Path) -> Iterator[str]:
    """A temporary name beside ``target`` that replaces it on success and is removed on failure.

    The name is hidden and ends in ``.part``, so no ``*.yml`` or ``*.tar.gz`` glob (Rasa's
    data and model lookups, the knowledge loader) ever picks it up.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=str(target.parent))
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` so that readers see the old or the new file, never a mix."""
    with _replacing(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())


def atomic_copy(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` atomically."""
    with _replacing(target) as tmp:
        shutil.copyfile(source, tmp)
