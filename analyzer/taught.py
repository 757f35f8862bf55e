"""Errors a practice has taught: in the state store, a message's masked template and the category
someone chose for it (with `publish-failures teach`, or in a workbook's Unrecognised sheet). The
next classification puts every message of that template in that category (`match = taught`),
before the similarity stage, so a bookkeeper labels an unknown error once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from analyzer.catalog import Catalog
from analyzer.classify import clean_text, mask_text, strip_noise, template_key
from analyzer.store import Store, as_store

if TYPE_CHECKING:
    import pandas as pd


def template_of(message: str, catalog: Catalog) -> str:
    """The template a message is taught by: its wrapper removed and its values masked."""
    return mask_text(strip_noise(clean_text(" ".join(message.split())), catalog), catalog)


def teach(store: Store | Path, message: str, category: str, catalog: Catalog, when: dt.datetime, source: str = "") -> str:
    """Remember that `message`'s template is `category`; returns the template."""
    template = template_of(message, catalog)
    with as_store(store).transaction(write=True) as db:
        db.execute(
            "INSERT INTO taught (practice, template, message, category, taught_at, source) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (practice, template) DO UPDATE SET message = excluded.message, category = excluded.category,"
            " taught_at = excluded.taught_at, source = excluded.source",
            (db.practice, template_key(template), message, category, when.isoformat(timespec="seconds"), source))
    return template


def forget(store: Store | Path, message: str, catalog: Catalog, when: dt.datetime | None = None) -> bool:
    """Forget what was taught for `message`'s template; whether there was anything. The template
    is kept as forgotten (an empty category) with the time, so a choice still standing in an older
    workbook's Unrecognised sheet does not teach it again; a workbook saved later does."""
    store = as_store(store)
    if not store.exists():
        return False
    when = when or dt.datetime.now().replace(microsecond=0)
    with store.transaction(write=True) as db:
        cursor = db.execute("UPDATE taught SET category = '', taught_at = ?, source = 'forgotten'"
                            " WHERE practice = ? AND template = ? AND category <> ''",
                            (when.isoformat(timespec="seconds"), db.practice,
                             template_key(template_of(message, catalog))))
    return cursor.rowcount > 0


def taught(store: Store | Path | None) -> dict[str, str]:
    """Template key -> category id, for classification."""
    store = as_store(store)
    if store is None or not store.exists():
        return {}
    with store.transaction() as db:
        return dict(db.rows("SELECT template, category FROM taught WHERE practice = ? AND category <> ''",
                            (db.practice,)))


def _remembered(store: Store) -> dict[str, tuple[str, str]]:
    """Template key -> (category, when): what is taught, and what was forgotten ('')."""
    if not store.exists():
        return {}
    with store.transaction() as db:
        return {t: (c, w) for t, c, w in db.rows("SELECT template, category, taught_at FROM taught WHERE practice = ?",
                                                  (db.practice,))}


def listing(store: Store | Path) -> pd.DataFrame:
    import pandas as pd  # only for this listing: `explain` reads taught templates without pandas

    store = as_store(store)
    if not store.exists():
        return pd.DataFrame(columns=["template", "category", "message", "taught_at", "source"])
    with store.transaction() as db:
        return db.frame("SELECT template, category, message, taught_at, source FROM taught WHERE practice = ?"
                        " AND category <> '' ORDER BY taught_at, template", (db.practice,))


def learn_from_workbooks(store: Store | Path, workbooks: list[Path], catalog: Catalog, when: dt.datetime) -> list[str]:
    """Teach what bookkeepers chose in the Category column of workbooks' Unrecognised sheets;
    one line each for a choice that names no category, and for one that another workbook
    contradicts. Where two workbooks choose differently for one template (a client's workbook
    and the overview), the one saved last counts, as the newest edit of an item's tracking does."""
    from analyzer.read import read_export  # reading a workbook: the reader's job

    by_title = {c.title.casefold(): c.id for c in catalog.categories} | {c.id.casefold(): c.id for c in catalog.categories}
    messages: list[str] = []
    # template key -> each choice made for it, oldest saved first: (saved, workbook, template, category)
    choices: dict[str, list[tuple[str, Path, str, str]]] = {}
    for workbook, saved in _oldest_saved_first(workbooks):
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
            key = template_key(template_of(str(template), catalog))
            choices.setdefault(key, []).append((saved, workbook, str(template), category))
    store = as_store(store)
    remembered = _remembered(store)
    titles = {c.id: c.title for c in catalog.categories}
    for key, made in choices.items():
        saved, workbook, template, category = made[-1]
        known, at = remembered.get(key, (None, ""))
        if known == category or saved <= at:
            continue  # taught already, or taught otherwise (or forgotten) since the workbook was saved
        other = next(((w, c) for _, w, _, c in reversed(made[:-1]) if c != category), None)
        if other:
            messages.append(f"{workbook}: Unrecognised sheet: {template!r} is {titles[category]!r} here and"
                            f" {titles[other[1]]!r} in {other[0]}; taught as chosen here, in the workbook saved last")
        teach(store, template, category, catalog, when, str(workbook))
    return messages


def _oldest_saved_first(workbooks: list[Path]) -> list[tuple[Path, str]]:
    """The workbooks that exist, each once, oldest saved first (then by name), with the time each
    was saved (ISO, to the second: compared with when a template was taught)."""
    found: dict[Path, tuple[float, str]] = {}
    for workbook in workbooks:
        try:
            if workbook.is_file():
                found.setdefault(workbook.resolve(), (workbook.stat().st_mtime, str(workbook)))
        except OSError:
            continue
    return [(Path(name), dt.datetime.fromtimestamp(mtime).isoformat(timespec="seconds"))
            for mtime, name in sorted(found.values())]
