"""Errors of the Social Fund (СФР) exchange."""

from __future__ import annotations


class SfrError(Exception):
    """`message` is Russian and says what to do; `retryable` tells whether trying later may help."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.retryable = retryable

    def __reduce__(self):
        return _rebuild, (type(self), self.message, self.retryable)


class SfrFormatError(SfrError):
    """The service answered something unreadable, hostile or not matching its WSDL."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


class DbfError(Exception):
    """A DBF file that cannot be read as a whole: `message` (Russian) names the file and the fault."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __reduce__(self):
        return type(self), (self.message,)


def _rebuild(cls: type[SfrError], message: str, retryable: bool) -> SfrError:
    error = cls.__new__(cls)
    SfrError.__init__(error, message, retryable=retryable)
    return error
