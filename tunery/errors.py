"""One exception tree for tunery.

Every error carries a message and a hint.  Spec errors also name the path of the offending
field in the YAML document (``spec.parameters[2].feasibleSpace.min``) so that the CLI can
print one line that says where the problem is and how to fix it.
"""

from __future__ import annotations

#: The longest part of an error line taken from the input (a value, a list of names): input
#: can be huge (an alias-expanded value, 5,000 parameter names) and an error stays one line.
MAX_QUOTED_CHARS = 160
#: The longest message (and hint) part of an error line.
MAX_MESSAGE_CHARS = 400


def clip(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def _one_line(path: str | None, message: str, hint: str | None) -> str:
    text = clip(" ".join(message.split()), MAX_MESSAGE_CHARS)
    if path:
        text = f"{clip(path)}: {text}"
    if hint:
        text = f"{text}; {clip(' '.join(hint.split()), MAX_MESSAGE_CHARS)}"
    return text


class TuneryError(Exception):
    """Base class of every error tunery raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The error as one line for a terminal: ``message (hint)``."""
        return _one_line(None, self.message, self.hint)

    def __str__(self) -> str:
        return self.one_line()


class UserInputError(TuneryError):
    """Bad input from the user (CLI flags, API requests): exit code 2."""

    exit_code = 2


class SpecError(UserInputError):
    """An invalid experiment spec.  ``path`` is the YAML path of the field at fault."""

    def __init__(self, path: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.path = path

    def one_line(self) -> str:
        return _one_line(self.path, self.message, self.hint)


class NotFoundError(UserInputError):
    """A named experiment or trial does not exist."""


class AlreadyExistsError(UserInputError):
    """An experiment with that name already exists."""


class AmbiguousNameError(UserInputError):
    """An experiment name given without a namespace is taken in several namespaces."""


class LeaseHeldError(TuneryError):
    """Another controller holds the experiment's lease."""

    exit_code = 2


class LeaseLostError(LeaseHeldError):
    """This controller no longer holds its experiment's lease: its write was not made, and it
    must stop (another controller runs the experiment now)."""

    exit_code = 1


class StorageError(TuneryError):
    """The database cannot be used (bad URL, unreachable server, old schema)."""

    exit_code = 2


class StorageConnectionLost(StorageError):
    """The connection to the database server was lost mid-operation (it may come back).

    The operation's transaction was rolled back, or committed just before the loss: a caller
    that holds copies of stored state must read them again before going on.
    """


class MissingExtraError(TuneryError):
    """An optional dependency is not installed."""

    exit_code = 2

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this feature needs the Python package {module!r}, which is not installed",
            f"install it with: pip install 'tunery[{extra}]'",
        )
