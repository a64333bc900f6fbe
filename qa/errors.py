"""Errors the user can act on. The CLI and UI print their message, never a traceback."""


class QAError(Exception):
    """Base class: the message says what went wrong and what to do."""


class IndexFormatError(QAError):
    """The index is missing, corrupt or was built differently (run `qa build --full`)."""


class CorpusError(QAError):
    """The corpus directory is missing or unusable."""


class QuestionError(QAError):
    """The question cannot be answered as given (e.g. empty)."""


class BuildLockedError(QAError):
    """Another build holds the index lock."""
