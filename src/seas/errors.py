"""Named errors for user-facing failures.

Every error a user can cause by their input derives from :class:`SeasError`; the CLI prints its
message as one line (``error: <path>: <what is wrong>; <how to fix>``) and exits with status 2.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ConfigError", "DatasetLayoutError", "InputFileError", "ModelLoadError", "SeasError", "flag"]


class SeasError(Exception):
    """Base class of errors caused by user input (files, flags, models)."""


def flag(field_name: str) -> str:
    """The command-line spelling of a config field (``num_normals`` -> ``--num-normals``)."""
    return "--" + field_name.replace("_", "-")


def _compose(subject: str | Path | None, problem: str, fix: str | None) -> str:
    text = f"{subject}: {problem}" if subject is not None else problem
    return f"{text}; {fix}" if fix else text


class DatasetLayoutError(SeasError, ValueError):
    """A dataset folder does not have the expected layout (missing folder, mask, empty listing)."""

    def __init__(self, subject: str | Path | None, problem: str, fix: str | None = None) -> None:
        super().__init__(_compose(subject, problem, fix))
        self.path = subject


class InputFileError(SeasError, ValueError):
    """One input file cannot be used (unreadable, truncated, wrong size)."""

    def __init__(self, subject: str | Path | None, problem: str, fix: str | None = None) -> None:
        super().__init__(_compose(subject, problem, fix))
        self.path = subject


class ConfigError(SeasError, ValueError):
    """A configuration value or combination of values is invalid."""

    def __init__(self, subject: str | Path | None, problem: str, fix: str | None = None) -> None:
        super().__init__(_compose(subject, problem, fix))


class ModelLoadError(SeasError, OSError):
    """Model weights or configs cannot be obtained (offline, wrong path, unsupported file)."""

    def __init__(self, subject: str | Path | None, problem: str, fix: str | None = None) -> None:
        super().__init__(_compose(subject, problem, fix))
