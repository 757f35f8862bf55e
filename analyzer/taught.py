"""Errors a practice has taught: in the state store, a message's masked template and the category
someone chose for it (with `publish-failures teach`, or in a workbook's Unrecognised sheet). The
next classification puts every message of that template in that category (`match = taught`),
before the similarity stage, so a bookkeeper labels an unknown error once.
"""

from __future__ import annotations

import datetime as dt
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from analyzer.catalog import Catalog
from analyzer.classify import _strip_noise, clean_text, mask_text, template_key
from analyzer.store import connect

if TYPE_CHECKING:
    import pandas as pd


def template_of(message: str, catalog: Catalog) -> str:
    """The template a message is taught by: its wrapper removed and its values masked."""
    return mask_text(_strip_noise(clean_text(" ".join(message.split())), catalog), catalog)


def teach(path: Path, message: str, category: str, catalog: Catalog, when: dt.datetime, source: str = "") -> str:
    """Remember that `message`'s template is `category`; returns the template."""
    template = template_of(message, catalog)
    with closing(connect(path)) as db, db:
        db.execute(
            "INSERT INTO taught (template, message, category, taught_at, source) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (template) DO UPDATE SET message = excluded.message, category = excluded.category,"
            " taught_at = excluded.taught_at, source = excluded.source",
            (template_key(template), message, category, when.isoformat(timespec="seconds"), source))
    return template


def forget(path: Path, message: str, catalog: Catalog) -> bool:
    """Forget what was taught for `message`'s template; whether there was anything."""
    if not path.is_file():
        return False
    with closing(connect(path)) as db, db:
        cursor = db.execute("DELETE FROM taught WHERE template = ?", (template_key(template_of(message, catalog)),))
    return cursor.rowcount > 0


def taught(path: Path | None) -> dict[str, str]:
    """Template key -> category id, for classification."""
    if path is None or not path.is_file():
        return {}
    with closing(connect(path)) as db:
        return dict(db.execute("SELECT template, category FROM taught").fetchall())


def listing(path: Path) -> pd.DataFrame:
    import pandas as pd  # only for this listing: `explain` reads taught templates without pandas

    if not path.is_file():
        return pd.DataFrame(columns=["template", "category", "message", "taught_at", "source"])
    with closing(connect(path)) as db:
        return pd.read_sql_query("SELECT template, category, message, taught_at, source FROM taught ORDER BY taught_at",
                                 db)


def learn_from_workbooks(path: Path, workbooks: list[Path], catalog: Catalog, when: dt.datetime) -> list[str]:
    """Teach what bookkeepers chose in the Category column of workbooks' Unrecognised sheets;
    one line each for a choice that names no category."""
    from analyzer.read import read_export  # reading a workbook: the reader's job

    by_title = {c.title.casefold(): c.id for c in catalog.categories} | {c.id.casefold(): c.id for c in catalog.categories}
    messages, seen = [], set()
    for workbook in workbooks:
        if not workbook.is_file() or workbook.resolve() in seen:
            continue
        seen.add(workbook.resolve())
        result = read_export(workbook, sheet="Unrecognised")
        if not result.ok or not result.sheets:
            continue
        rows = result.sheets[0].rows
        if "Template" not in rows.columns or "Category" not in rows.columns:
            continue
        for template, chosen, row in zip(rows["Template"], rows["Category"], rows["source_row"]):
            chosen = "" if chosen is None else str(chosen).strip()
            if not chosen or not template:
                continue
            category = by_title.get(chosen.casefold())
            if category is None:
                messages.append(f"{workbook}: Unrecognised row {row}: {chosen!r} is no category; not taught")
                continue
            teach(path, str(template), category, catalog, when, str(workbook))
    return messages
