"""Errors of the NSI exchange."""

from __future__ import annotations


class NsiError(Exception):
    """`message` is Russian and says what to do; `retryable` tells whether trying later may help."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.retryable = retryable

    def __reduce__(self):
        return _rebuild, (type(self), self.message, self.retryable)


class NsiFormatError(NsiError):
    """The portal answered something unreadable, or a file is malformed."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


def _rebuild(cls: type[NsiError], message: str, retryable: bool) -> NsiError:
    error = cls.__new__(cls)
    NsiError.__init__(error, message, retryable=retryable)
    return error
