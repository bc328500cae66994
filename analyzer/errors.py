"""The analyzer's errors: each one says what went wrong and what to do about it.

Problems inside the analysed code are never raised; they become warnings in analysis.json.
Only what stops the analysis altogether is an exception, and the CLI turns it into one line
and exit code 2.
"""


class AnalyzerError(Exception):
    """Base of every error the analyzer raises for a user mistake."""


class ProjectNotFound(AnalyzerError):
    """The path to analyse does not exist or holds no Python."""


class OutputError(AnalyzerError):
    """The report folder cannot be written."""


class InvalidAnalysis(AnalyzerError):
    """An analysis.json does not match the schema (a bug, or a file edited by hand)."""
