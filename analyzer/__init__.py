"""analyzer: turns Dext-to-Xero publish-failure exports into per-client action reports."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("analyzer")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.1.0"
