"""HTML reports: one self-contained page per client and an index across clients.

Every page comes from Jinja2 templates. One environment is built here, once per templates folder:
Jinja's immutable sandbox for a practice's templates (they cannot reach Python's internals, run a
command or write a file), auto-escaping always on, undefined names are errors, and a practice's
`--templates DIR` is searched before the built-in templates, so a practice can override one
partial (say `_brand.html` for its name, logo and colours) and keep the rest. Rendering reads only
the report model: no clock, no network, no files other than templates.
"""

from __future__ import annotations

import functools
import io
import re
import importlib.resources
import traceback
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from analyzer.errors import TemplateProblem
from analyzer.overview import Overview
from analyzer.report_model import ClientReport, Money, format_date

CLIENT_TEMPLATE = "client.html"
INDEX_TEMPLATE = "index.html"
ASKS_TEMPLATE = "asks.html"


def render_client_html(report: ClientReport, templates: Path | None) -> str:
    return _render(templates, CLIENT_TEMPLATE, report=report, **_shell(report))


def client_html_bytes(report: ClientReport, templates: Path | None) -> bytes:
    """The client page as UTF-8, encoded as it renders (see _render_bytes)."""
    return _render_bytes(templates, CLIENT_TEMPLATE, report=report, **_shell(report))


def render_asks_html(report: ClientReport, templates: Path | None) -> str:
    """The short "What we need from you" page: only the asks for the client's own Xero admin."""
    return _render(templates, ASKS_TEMPLATE, report=report, **_shell(report))


def render_index_html(overview: Overview, templates: Path | None, workbook: str = "") -> str:
    """The practice's page; `workbook`: the overview workbook written beside it ("" when none is)."""
    return _render(templates, INDEX_TEMPLATE, overview=overview, overview_workbook=workbook, **_shell(overview))


def _render(templates: Path | None, name: str, **context) -> str:
    _range_steps[0] = 0
    with _template_problems(templates, name):
        return environment(_key(templates)).get_template(name).render(**context)


# Pieces Jinja yields (a few dozen characters each) gathered before they are encoded: per piece
# only C code runs (islice, join), where a Python step and a guard per piece cost a client page
# of 100 items about 10 ms.
_PIECES_AT_ONCE = 1024


def _render_bytes(templates: Path | None, name: str, **context) -> bytes:
    """The page encoded a batch of pieces at a time as the template yields them. Rendering to
    one string first holds every piece Jinja yields, the string and then its encoding at once:
    for a client of 30,000 items 130 MB, where this holds the encoded page and one batch."""
    out = io.BytesIO()
    _range_steps[0] = 0
    with _template_problems(templates, name):
        pieces = environment(_key(templates)).get_template(name).generate(**context)
    while True:
        with _template_problems(templates, name):  # the template's failures, not the encoding's
            batch = list(islice(pieces, _PIECES_AT_ONCE))
        if not batch:
            return out.getvalue()
        out.write("".join(batch).encode("utf-8"))


@contextmanager
def _template_problems(templates: Path | None, name: str):
    """A practice's template failing is one line naming the template and line; the built-in
    ones failing is the tool's own bug and keeps its traceback."""
    try:
        yield
    except TemplateError as exc:
        raise TemplateProblem(_describe(exc, templates, name)) from None
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError, RecursionError, MemoryError) as exc:
        if templates is None:
            raise  # the built-in templates failing is the tool's own bug: keep the traceback
        raise TemplateProblem(_describe(exc, templates, name)) from None


def check_templates(templates: Path) -> None:
    """Compile every template of a practice's folder before any work starts, so a typo is one
    line at once rather than a failure after an hour of rendering."""
    env = environment(_key(templates))
    for path in sorted(Path(templates).glob("*.html")):
        try:
            env.get_template(path.name)
        except (TemplateError, MemoryError, RecursionError) as exc:  # compiling folds constants: 'x' * 2e9
            raise TemplateProblem(_describe(exc, templates, path.name)) from None


def _describe(exc: Exception, templates: Path | None, name: str) -> str:
    where = getattr(exc, "name", None) or getattr(exc, "filename", None) or name
    line = getattr(exc, "lineno", None)
    if line is None:  # a runtime error: find the template line in the traceback Jinja rewrote
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".html")]
        if frames:
            where, line = Path(frames[-1].filename).name, frames[-1].lineno
    kind = "breaks the template sandbox" if isinstance(exc, SecurityError) else "fails"
    folder = f"{templates}/" if templates else ""
    return (f"template {folder}{Path(str(where)).name}{f' line {line}' if line else ''} {kind}:"
            f" {_what_failed(exc)}; fix the template or remove it to use the built-in one")


def _what_failed(exc: Exception) -> str:
    detail = " ".join(str(exc).split())[:300]
    if isinstance(exc, TemplateError):
        return detail
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _shell(page: ClientReport | Overview) -> dict:
    """What the page shell (base.html, _brand.html, _provenance.html) shows on every page."""
    return {"practice": page.practice, "period": page.period, "run_date": page.run_date,
            "version": page.version, "sources": page.sources}


def default_templates() -> Path | None:
    """The built-in templates: this project's checkout's top-level `templates/` folder (a
    checkout or editable install), else None, meaning the copy packaged inside `analyzer`. A
    `templates` folder beside an installed package (site-packages/templates, someone else's) is
    not ours: it would render outside the sandbox as the tool's own code."""
    root = Path(__file__).resolve().parent.parent
    checkout = root / "templates"
    return checkout if checkout.is_dir() and _our_checkout(root) else None


def _our_checkout(root: Path) -> bool:
    try:
        with open(root / "pyproject.toml", encoding="utf-8") as project:
            head = project.read(4096)
    except OSError:
        return False
    return re.search(r'^name\s*=\s*"analyzer"\s*$', head, re.M) is not None and (root / "analyzer").is_dir()


def _key(templates: Path | None) -> str:
    return str(Path(templates).resolve()) if templates else ""


@functools.cache
def environment(templates: str = "") -> Environment:
    """The one Jinja2 environment for a templates folder ("" for the built-in templates only).

    A practice's folder gets Jinja's immutable sandbox, so its templates cannot reach Python's
    internals. The built-in templates are the tool's own code and render without it: the
    sandbox checks every attribute a template reads, which was a third of the HTML's cost."""
    loaders: list[BaseLoader] = []
    if templates:
        loaders.append(_FolderOnlyLoader(templates))
    loaders.append(_default_loader())
    kind = ImmutableSandboxedEnvironment if templates else Environment
    env = kind(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml", "svg"), default_for_string=True, default=True
        ),
        undefined=StrictUndefined,
        finalize=lambda value: "" if value is None else value,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters.update(date=date_text, money=money_text, plural=plural,
                       date_range=date_range, humanise=humanise)
    if templates:
        env.globals["range"] = _counted_range
    return env


# Steps a practice's template may take with range() in one page: Jinja's sandbox caps one
# range at 100,000, but two nested loops of it run for hours and a scheduled run never ends.
RANGE_STEPS = 5_000_000
_range_steps = [0]


def _counted_range(*args):
    steps = range(*args)
    _range_steps[0] += len(steps)
    if _range_steps[0] > RANGE_STEPS:
        raise SecurityError(f"its loops over range() take more than {RANGE_STEPS:,} steps in one page")
    return steps


class _FolderOnlyLoader(FileSystemLoader):
    """A practice's templates folder, and nothing outside it: a file there that is a link to one
    elsewhere (`logo.svg -> ~/.ssh/id_rsa`) is refused, so no file of the machine can be pasted
    into reports that go to clients. Jinja refuses `..` and absolute names itself."""

    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        folder = Path(self.searchpath[0]).resolve()
        target = Path(filename).resolve()
        if not target.is_relative_to(folder):
            raise TemplateError(f"{template} leads outside the templates folder (to {target}); copy the file"
                                " into the folder instead of linking it")
        return source, filename, uptodate


def _default_loader() -> BaseLoader:
    checkout = default_templates()
    if checkout is not None:
        return FileSystemLoader(str(checkout))
    packaged = importlib.resources.files("analyzer") / "templates"
    if isinstance(packaged, Path):
        return FileSystemLoader(str(packaged))
    return PackageLoader("analyzer", "templates")  # e.g. a zipped install


# -- filters: small, pure, and the only formatting the templates do -----------------------------

def date_text(value) -> str:
    """31 Aug 2026; '' for no date."""
    return format_date(value)


def money_text(value, currency: str | None = None) -> str:
    """Always with the 3-letter code: GBP 1,234.50 (or GBP -12.00). Takes a Money, or an amount
    and its currency; '' when there is no amount. The code and the amount are joined by a
    no-break space, so a narrow card wraps "(currency not stated)" but never splits GBP from its
    amount."""
    if value is None:
        return ""
    if isinstance(value, Money):
        currency, value = value.currency, value.amount
    return f"{currency}\u00a0{float(value):,.2f}" if currency else f"{float(value):,.2f} (currency not stated)"


def plural(count: int, singular: str, many: str | None = None) -> str:
    """`3|plural("item")` -> "3 items"; `1|plural("entry", "entries")` -> "1 entry"."""
    return f"{count:,} {singular if count == 1 else (many or singular + 's')}"


def date_range(first, last) -> str:
    """'3 Oct 2026', or '3 Oct 2026 – 28 Oct 2026'; '' when neither is known."""
    if not first and not last:
        return ""
    if not first or not last or first == last:
        return format_date(first or last)
    return f"{format_date(first)} – {format_date(last)}"


def humanise(name: str) -> str:
    """account_code -> Account code."""
    return name.replace("_", " ").strip().capitalize()
