"""voicecli: talk to the Gemini Live API from a terminal.

For ``--tools-file`` modules: :func:`confirm` marks a function that must ask the user before
it runs.
"""

from collections.abc import Callable
from typing import Any, TypeVar

__version__ = "0.1.0"

F = TypeVar("F", bound=Callable[..., Any])


def confirm(fn: F) -> F:
    """Decorator for a ``--tools-file`` function: ask the user before each call."""
    marked: Any = fn
    marked.__voicecli_confirm__ = True
    return fn
