"""Output files that never destroy what the user had.

Every file a session writes in one go (``--output``, ``--record``, ``--subtitles``) is
checked before connecting (:func:`check_writable`: a typo in a folder fails at once, not
after the conversation) and written through :class:`ReplaceOnCommit`: to a temporary file
beside the target, moved over it only once the session produced something. A run that
fails to connect, or hears nothing, leaves an existing file byte for byte as it was.

A target that exists but is not a regular file (``/dev/null``, a FIFO) is written directly:
replacing it would be wrong.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO

from voicecli.errors import DeviceError


def _special(path: Path) -> bool:
    """An existing target that is not a regular file (a device, a FIFO)."""
    return path.exists() and not path.is_file() and not path.is_dir()


def check_writable(path: str, flag: str) -> None:
    """DeviceError (one line, exit 3) unless ``path`` can be written."""
    target = Path(path)
    if target.is_dir():
        raise DeviceError(f"{flag}: {path} is a folder; give a file name")
    if _special(target):
        if not os.access(target, os.W_OK):
            raise DeviceError(f"{flag}: cannot write {path}: permission denied")
        return
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise DeviceError(f"{flag}: cannot write {path}: no such folder {str(folder)!r}")
    if not os.access(folder, os.W_OK | os.X_OK) or (target.exists()
                                                    and not os.access(target, os.W_OK)):
        raise DeviceError(f"{flag}: cannot write {path}: permission denied")


class ReplaceOnCommit:
    """A binary or text file that becomes ``path`` only at :meth:`commit`.

    Use ``file`` to write; :meth:`commit` moves it into place (keeping the permissions a new
    file would get), :meth:`discard` removes it and leaves ``path`` untouched."""

    def __init__(self, path: str, flag: str, text: bool = False) -> None:
        self.path = Path(path)
        self.flag = flag
        mode = "w" if text else "wb"
        encoding = "utf-8" if text else None
        try:
            if _special(self.path):
                self._tmp: Path | None = None
                self.file: IO = open(self.path, mode, encoding=encoding)  # noqa: SIM115
                return
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part",
                                       dir=self.path.parent if str(self.path.parent) else ".")
            self._tmp = Path(tmp)
            self.file = os.fdopen(fd, mode, encoding=encoding)
        except OSError as exc:
            raise DeviceError(f"{flag}: cannot write {path}: {exc.strerror}") from None

    def commit(self, keep_open: bool = False) -> None:
        """Move into place, and close unless ``keep_open`` (later writes then go straight
        to ``path``: the open file is the one now in place)."""
        if keep_open:
            self.file.flush()
        else:
            self.file.close()
        if self._tmp is None:
            return
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self._tmp, 0o666 & ~umask)  # mkstemp makes it 0600
            os.replace(self._tmp, self.path)
            self._tmp = None
        except OSError as exc:
            self.discard()
            raise DeviceError(f"{self.flag}: cannot write {self.path}: {exc.strerror}") from None

    def discard(self) -> None:
        """Close and forget: ``path`` stays as it was."""
        if not self.file.closed:
            self.file.close()
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None
