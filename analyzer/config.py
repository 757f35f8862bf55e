"""The run configuration: a TOML file (`analyzer.toml` in the working folder, or `--config`).

Every key is checked on load; a mistake is one line naming the file, the key and what is wrong,
so an unattended job fails at once with a message an administrator can act on. Relative paths
are taken from the config file's folder, so a scheduler may start the job anywhere.
"""

from __future__ import annotations

import calendar
import difflib
import datetime as dt
import itertools
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.columns import ROLES

DEFAULT_NAME = "analyzer.toml"
# Month names in English whatever the locale: an export's month must not depend on the machine.
_MONTH_NAMES = {
    name: number
    for number, full in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                   "september", "october", "november", "december"), start=1)
    for name in (full, full[:3])
} | {"sept": 9}
_NUMERIC_MONTH = (
    (re.compile(r"(\d{4})\s*[-/.]\s*(\d{1,2})"), 1, 2),  # 2026-10, 2026/10
    (re.compile(r"(\d{1,2})\s*[-/.]\s*(\d{4})"), 2, 1),  # 10/2026, 10-2026
)
_NAMED_MONTH = re.compile(r"([a-z]+)\.?[\s,/-]*(\d{4})")  # Oct 2026, October 2026, oct-2026, Oct. 2026
PERIOD_FORMS = "2026-10, 2026/10, 10/2026, Oct 2026 or October 2026"


class ConfigError(ValueError):
    """A broken configuration file: one line, exit code 2."""


class PeriodError(ValueError):
    """Text that is not a calendar month."""


@dataclass(frozen=True)
class Period:
    """The calendar month a run covers: a label for people (October 2026) and a slug for paths
    and run history (2026-10), so slugs sort by date."""

    label: str
    slug: str

    @classmethod
    def parse(cls, text: str) -> "Period":
        """A month written as 2026-10, 2026/10, 10/2026, Oct 2026, October 2026 or oct-2026
        (any case, surrounding spaces ignored); anything else raises PeriodError."""
        cleaned = " ".join(text.split()).lower()
        year = month = None
        for pattern, year_group, month_group in _NUMERIC_MONTH:
            found = pattern.fullmatch(cleaned)
            if found:
                year, month = int(found.group(year_group)), int(found.group(month_group))
                break
        else:
            found = _NAMED_MONTH.fullmatch(cleaned)
            if found and found.group(1) in _MONTH_NAMES:
                year, month = int(found.group(2)), _MONTH_NAMES[found.group(1)]
        if year is None or not 1 <= month <= 12 or not 1990 <= year <= 2200:  # 0001-01 is a typo, not a month end
            raise PeriodError(f"{text.strip()!r} is not a month; write it as {PERIOD_FORMS}")
        return cls.month(year, month)

    @classmethod
    def month(cls, year: int, month: int) -> "Period":
        first = dt.date(year, month, 1)
        return cls(first.strftime("%B %Y"), first.strftime("%Y-%m"))

    @classmethod
    def previous_month(cls, today: dt.date) -> "Period":
        last = today.replace(day=1) - dt.timedelta(days=1)
        return cls.month(last.year, last.month)

    @property
    def start(self) -> dt.date:
        """The first day of the month."""
        year, month = self.slug.split("-")
        return dt.date(int(year), int(month), 1)

    @property
    def end(self) -> dt.date:
        """The last day of the month."""
        start = self.start
        return start.replace(day=calendar.monthrange(start.year, start.month)[1])


def _check_placeholders(key: str, text: str, fail) -> None:
    """A word in braces that reads as a placeholder but is none ({month}, {Period}, {perod}) or
    {period}/{date} left open. Other braces are the path's own (a Windows folder named by a GUID,
    `Client {NZ}.csv`) and stay as written."""
    for word in re.findall(r"\{([A-Za-z_]+)\}", text):
        meant = difflib.get_close_matches(word.casefold(), ["period", "date"], n=1, cutoff=0.6)
        if word not in ("period", "date") and (word.islower() or meant):
            raise fail(key, f"{{{word}}} is no placeholder; use {{period}} (2026-10) or {{date}} (the run's date)")
    if re.search(r"\{(?:period|date)(?!\})|(?<!\{)\b(?:period|date)\}", text, re.I):
        raise fail(key, f"{text!r} has {{period}} or {{date}} without one of its braces; close the placeholder")


def _placed(text: str, period: Period, today: dt.date) -> str:
    """A configured path with its placeholders filled: {period} (2026-10), {date} (the run's)."""
    return text.replace("{period}", period.slug).replace("{date}", today.isoformat())


@dataclass(frozen=True)
class Config:
    source: Path | None = None
    inputs: tuple[str, ...] = ()
    output: str = "reports"
    formats: tuple[str, ...] = ("html", "xlsx")
    practice: str = ""
    period: str = ""
    templates: Path | None = None
    columns: dict[str, str] = field(default_factory=dict)
    client_aliases: dict[str, str] = field(default_factory=dict)
    clients: tuple[str, ...] = ()  # the practice's clients: each shows every run, its export or not
    client_currencies: dict[str, str] = field(default_factory=dict)  # casefolded client ("" all) -> code
    # Clients the practice-wide export speaks for (`merged = true`): absent from it, nothing failed.
    merged_clients: tuple[str, ...] = ()
    date_order: str = "auto"
    catalogs: tuple[Path, ...] = ()
    history: str = ""  # the state store: a file (SQLite) or a postgresql:// URL (`database`, or `history`)
    practice_key: str = ""  # the top-level `practice`: keeps this practice's rows apart in a shared database
    log_file: str = ""
    lock_timeout: float = 60.0
    fail_on_unclassified: bool = False
    limits: dict[str, float] = field(default_factory=dict)
    scheduler: str = ""  # a Dask scheduler's address (tcp://host:8786): the run's work goes to its workers

    def period_for(self, today: dt.date) -> Period:
        return Period.parse(self.period) if self.period.strip() else Period.previous_month(today)

    def output_dir(self, period: Period, today: dt.date) -> Path:
        return Path(_placed(self.output, period, today))

    def log_path(self, period: Period, today: dt.date) -> str:
        return _placed(self.log_file, period, today)

    def input_paths(self, period: Period, today: dt.date) -> list[str]:
        """The inputs, placeholders filled: `inbox/{period}` is the month's own folder."""
        return [_placed(text, period, today) for text in self.inputs]

    def history_path(self) -> Path:
        """The configured database file, else beside the reports: in the deepest folder of the
        output path that has no `{period}`/`{date}` in it, so every month shares one history."""
        return Path(self.database())

    def database(self) -> str:
        """The state store's location: the configured file or postgresql:// URL, else
        history.sqlite as history_path() places it."""
        if self.history:
            return self.history
        fixed = list(itertools.takewhile(lambda part: "{" not in part, Path(self.output).parts))
        return str(Path(*fixed, "history.sqlite"))

    @property
    def dayfirst(self) -> bool | None:
        return {"auto": None, "dayfirst": True, "monthfirst": False}[self.date_order]


_SCHEMA: dict[str, type | tuple[type, ...]] = {
    "inputs": list, "output": str, "formats": list, "practice": str, "period": str, "templates": str,
    "columns": dict, "clients": dict, "date_order": str, "catalogs": list, "history": str, "database": str,
    "log_file": str, "lock_timeout": (int, float), "fail_on_unclassified": bool, "limits": dict, "branding": dict,
    "currency": str, "scheduler": str,
}
_LIMIT_KEYS = {"max_file_mb", "max_unzipped_mb", "max_rows", "max_cell_chars", "max_cells", "max_columns"}
_WHOLE_LIMITS = {"max_rows", "max_cell_chars", "max_cells", "max_columns"}
_LIMIT_RANGE = (1, 1e12)  # finite: inf, nan and 1e308 are mistakes, not limits
_MAX_LOCK_TIMEOUT = 86_400


def find_config(explicit: Path | None, cwd: Path) -> Path | None:
    if explicit is not None:
        return explicit
    candidate = cwd / DEFAULT_NAME
    return candidate if candidate.is_file() else None


def load_config(path: Path) -> Config:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(raw, path)


def parse_config(raw: dict, path: Path) -> Config:
    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{path}: {key}: {problem}")

    for key, value in raw.items():
        if key not in _SCHEMA:
            raise fail(key, f"unknown key; known keys are {', '.join(sorted(_SCHEMA))}")
        if not isinstance(value, _SCHEMA[key]) or isinstance(value, bool) and _SCHEMA[key] != bool:
            raise fail(key, f"must be {_type_name(_SCHEMA[key])}, not {type(value).__name__}")
    base = path.parent

    def local(text: str) -> str:
        text = os.path.expanduser(str(text))  # ~/reports: the home folder, as a shell would read it
        return text if Path(text).is_absolute() else str(base / text)

    if "output" in raw and isinstance(raw["output"], str) and not raw["output"].strip():
        raise fail("output", "is empty; name the folder the reports go to, such as \"reports/{period}\"")

    inputs = _strings(raw.get("inputs", []), "inputs", fail)
    for key in ("history", "database"):  # one history holds every month: a file per month would forget them
        if any(mark in str(raw.get(key, "")) for mark in ("{period}", "{date}")):
            raise fail(key, "holds {period} or {date}; the history is one database for every month: name one file")
    # A misspelt {Period} would be a folder of that name, each month's reports replacing the last;
    # in log_file, each month's log in one file; in inputs, a folder that is never there.
    for key, text in [("output", raw.get("output", "")), ("log_file", raw.get("log_file", "")),
                      *(("inputs", text) for text in inputs)]:
        _check_placeholders(key, str(text), fail)
    formats = tuple(f.lower() for f in _strings(raw.get("formats", ["html", "xlsx"]), "formats", fail))
    if not formats or set(formats) - {"html", "xlsx"}:
        raise fail("formats", 'use ["html"], ["xlsx"] or ["html", "xlsx"]')
    columns = raw.get("columns", {})
    for role, header in columns.items():
        if role not in ROLES:
            raise fail(f"columns.{role}", f"unknown role; roles are {', '.join(ROLES)}")
        if not isinstance(header, str) or not header.strip():
            raise fail(f"columns.{role}", "must be the column's header text")
    date_order = raw.get("date_order", "auto")
    if date_order not in ("auto", "dayfirst", "monthfirst"):
        raise fail("date_order", 'must be "auto", "dayfirst" or "monthfirst"')
    limits = raw.get("limits", {})
    for key, value in limits.items():
        if key not in _LIMIT_KEYS:
            raise fail(f"limits.{key}", f"unknown limit; limits are {', '.join(sorted(_LIMIT_KEYS))}")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not _LIMIT_RANGE[0] <= value <= _LIMIT_RANGE[1]:
            raise fail(f"limits.{key}", f"must be a number from 1 to {_LIMIT_RANGE[1]:,.0f}")
        if key in _WHOLE_LIMITS and value != int(value):
            raise fail(f"limits.{key}", "must be a whole number")
    timeout = raw.get("lock_timeout", 60)
    if not math.isfinite(timeout) or not 0 <= timeout <= _MAX_LOCK_TIMEOUT:
        raise fail("lock_timeout", f"must be a number of seconds from 0 to {_MAX_LOCK_TIMEOUT:,}")
    branding = raw.get("branding", {})
    for key, value in branding.items():
        if key not in ("practice", "templates"):
            raise fail(f"branding.{key}", "unknown key; use practice or templates")
        if not isinstance(value, str):
            raise fail(f"branding.{key}", f"must be text, not {type(value).__name__}")
    log_file = raw.get("log_file", "")
    if log_file and Path(local(log_file)).is_dir():
        raise fail("log_file", f"{log_file!r} is a folder; name a file such as reports/run.log")
    period = raw.get("period", "")
    if period.strip():
        try:
            Period.parse(period)
        except PeriodError:
            raise fail("period", f"{period.strip()!r} is not a month; write it as {PERIOD_FORMS},"
                                 " or leave it out for the previous calendar month") from None
    templates = branding.get("templates", raw.get("templates", ""))
    if templates and not (base / templates).is_dir() and not Path(templates).is_dir():
        raise fail("templates", f"no such folder {templates!r}")
    return Config(
        source=path,
        inputs=tuple(local(i) for i in inputs),
        output=local(raw.get("output", "reports")),
        formats=formats,
        practice=str(branding.get("practice", raw.get("practice", ""))),
        period=period,
        templates=Path(local(templates)) if templates else None,
        columns=dict(columns),
        client_aliases=_client_aliases(raw.get("clients", {}), fail),
        clients=tuple(raw.get("clients", {})),
        client_currencies=_client_currencies(raw, fail),
        merged_clients=_merged_clients(raw.get("clients", {}), fail),
        date_order=date_order,
        catalogs=tuple(Path(local(c)) for c in _strings(raw.get("catalogs", []), "catalogs", fail)),
        history=_database(raw, local, fail),
        practice_key=raw.get("practice", "").strip(),
        log_file=local(raw["log_file"]) if raw.get("log_file") else "",
        lock_timeout=float(timeout),
        fail_on_unclassified=raw.get("fail_on_unclassified", False),
        limits=dict(limits),
        scheduler=raw.get("scheduler", "").strip(),
    )


def _database(raw: dict, local, fail) -> str:
    """`database` (or its older name `history`): a file path, taken from the config's folder, or
    a URL as written."""
    if raw.get("database") and raw.get("history"):
        raise fail("database", "give database or history (its older name), not both")
    key = "database" if raw.get("database") else "history"
    text = raw.get(key, "").strip()
    return "" if not text else text if "://" in text else local(text)


def _strings(values: list, key: str, fail) -> list[str]:
    if any(not isinstance(v, str) or not v.strip() for v in values):
        raise fail(key, "must be a list of non-empty strings")
    return list(values)


def _client_aliases(clients: dict, fail) -> dict[str, str]:
    """`[clients] "Acme Plumbing Ltd" = ["ACME PLUMBING", "Acme Plumbing Limited"]`, or a table
    `"Acme Plumbing Ltd" = { aliases = [...], currency = "GBP" }`."""
    aliases: dict[str, str] = {}
    for name, entry in clients.items():
        if isinstance(entry, dict):
            if unknown := set(entry) - {"aliases", "currency", "merged"}:
                raise fail(f"clients.{name}.{sorted(unknown)[0]}", "unknown key; use aliases, currency or merged")
            spellings = entry.get("aliases", [])
        else:
            spellings = entry
        if not isinstance(spellings, list) or any(not isinstance(s, str) for s in spellings):
            raise fail(f"clients.{name}", "must be a list of the other spellings of this client's name,"
                       ' or a table such as { aliases = ["..."], currency = "GBP" }')
        for spelling in spellings:
            if spelling.casefold() in aliases and aliases[spelling.casefold()] != name:
                raise fail(f"clients.{name}", f"{spelling!r} is already an alias of {aliases[spelling.casefold()]!r}")
            aliases[spelling.casefold()] = name
    return aliases


def _merged_clients(clients: dict, fail) -> tuple[str, ...]:
    """`"Acme Ltd" = { merged = true }`: the client's failed items come only in the practice-wide
    export, so a month it is absent from that export it had nothing failing (clean), even when
    other clients send files of their own."""
    merged = []
    for name, entry in clients.items():
        if isinstance(entry, dict) and "merged" in entry:
            if not isinstance(entry["merged"], bool):
                raise fail(f"clients.{name}.merged", "must be true or false")
            if entry["merged"]:
                merged.append(name)
    return tuple(merged)


def _client_currencies(raw: dict, fail) -> dict[str, str]:
    """`currency = "GBP"` for the practice, `[clients."Name"] currency = "AUD"` per client: the
    currency of amounts whose export states none."""
    result = {}
    entries = [("", "currency", raw.get("currency"))] + [
        (name.casefold(), f"clients.{name}.currency", entry.get("currency"))
        for name, entry in raw.get("clients", {}).items() if isinstance(entry, dict)]
    for client, key, code in entries:
        if code is None:
            continue
        if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z]{3}", code.strip()):
            raise fail(key, 'must be a three-letter currency code such as "GBP"')
        result[client] = code.strip().upper()
    return result


def _type_name(kind) -> str:
    names = {list: "a list", str: "text", dict: "a table", bool: "true or false"}
    if isinstance(kind, tuple):
        return "a number"
    return names.get(kind, kind.__name__)
