"""analyzer: turns Dext-to-Xero publish-failure exports into per-client action reports."""


def __getattr__(name: str) -> str:
    """`analyzer.__version__`, looked up when first asked for: importlib.metadata costs more than
    the rest of `explain` or `--help` takes (about 30 ms)."""
    if name != "__version__":
        raise AttributeError(f"module 'analyzer' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("analyzer")
    except PackageNotFoundError:  # running from a checkout that was never installed
        found = "0.1.0"
    globals()["__version__"] = found
    return found
