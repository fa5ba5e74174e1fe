"""The two errors of tinygen.data: data that is not there, and data that is not right.

Both name the file or the command involved, so that the message alone tells a user what to do.
"""

from __future__ import annotations


class DataNotFoundError(RuntimeError):
    """No source holds the data set; the message says which command makes it available."""


class DataFormatError(ValueError):
    """A file exists but is wrong: truncated, bad magic, wrong count, bad checksum, unsafe pickle.

    The message always names the file and the problem.
    """
