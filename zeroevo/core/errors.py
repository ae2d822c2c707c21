"""User-facing errors: each carries one line that names what is wrong and what is allowed.

The CLI prints ``error: <message>`` and exits non-zero for these; anything else reaching the
top level is a bug.
"""
from __future__ import annotations


class ZeroevoError(Exception):
    """Base class of errors caused by the user's input (config, files, genomes)."""


class ConfigError(ZeroevoError):
    """A configuration field is unknown, mistyped or out of range."""


class GenomeError(ZeroevoError):
    """A genome is malformed (address out of range, op not allowed, size out of bounds)."""


class DataError(ZeroevoError):
    """A data file is missing, truncated or in a foreign format."""


class RunDirError(ZeroevoError):
    """A run directory is foreign, corrupt, of a newer schema or does not match the config."""
