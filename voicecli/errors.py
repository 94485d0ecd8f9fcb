"""Errors that end the program with one clear line and a non-zero exit code."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix: printed as one line on stderr, no traceback."""

    exit_code = 2


class ConfigError(UserError):
    """Bad flags, settings or credentials."""

    exit_code = 2


class DeviceError(UserError):
    """An audio device could not be found or opened."""

    exit_code = 3


class SessionError(UserError):
    """The Live API refused or ended the session in a way retrying cannot fix."""

    exit_code = 4
