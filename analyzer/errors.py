"""Failures the command line turns into one line and its own exit code. Kept in a module with no
imports, so the command line can name them without loading the pipeline."""


class TemplateProblem(ValueError):
    """A practice's template does not compile, or fails or breaks the sandbox while rendering:
    one line naming the template and the line (exit 2)."""


class OutputError(OSError):
    """The reports cannot be written (the output folder is a file, read-only or full, or an old
    report cannot be replaced): one line naming the path (exit 5). Nothing of the run was
    published."""


class UnknownClient(ValueError):
    """`--client NAME` names no client the practice has: a usage error."""


class FolderBusy(Exception):
    """Another run is writing to the same output folder (exit 4)."""
