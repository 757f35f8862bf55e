"""Failures the command line turns into one line and its own exit code. Kept in a module with no
imports, so the command line can name them without loading the pipeline."""


class TemplateProblem(ValueError):
    """A practice's template does not compile, or fails or breaks the sandbox while rendering:
    one line naming the template and the line (exit 2)."""


class OutputError(OSError):
    """The reports cannot be written (the output folder is a file, read-only or full, or an old
    report cannot be replaced): one line naming the path (exit 5). Nothing of the run was
    published."""


class MissingExtra(ImportError):
    """An optional engine was asked for whose extra is not installed: one line saying which extra
    to install (exit 2)."""


class StoreLocationError(ValueError):
    """A database location that is neither a file path nor a URL of a database this tool can
    use (exit 2)."""


class StoreBusy(Exception):
    """Another run of the same practice holds the shared database and did not finish within
    lock_timeout (exit 4, as for a busy output folder). Nothing of this run was published."""


class ClusterError(Exception):
    """The Dask scheduler given with --scheduler (or `scheduler` in the config) cannot be reached,
    its workers run another analyzer version, or the scheduler or every worker was lost mid-run:
    one line naming the scheduler (exit 7). Nothing of the run was published."""


class UnknownClient(ValueError):
    """`--client NAME` names no client the practice has: a usage error."""


class NothingForThePeriod(ValueError):
    """A period reported before, run again with no export of any client that report holds: it
    is kept as it is unless the run is asked to replace it (--replace): a usage error (exit 2)."""


class FolderBusy(Exception):
    """Another run is writing to the same output folder (exit 4)."""


class ClusterAddressError(ValueError):
    """--scheduler (or `scheduler` in the config) is not an address a scheduler can have: a usage
    error (exit 2), said before anything tries to connect."""


class NothingRead(Exception):
    """Every input of a report run failed to read (a mistyped folder, a share not mounted): the
    run publishes nothing, so last run's good reports are not replaced by an all-missing one
    (exit 1)."""


class StoppedAfterPublishing(BaseException):
    """Ctrl-C or SIGTERM arrived while the reports were being put in place: the move finished
    first (a half-moved folder would mix two runs), so the run is complete and recorded; the
    command then stops with the signal's exit code (130 or 143)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
