"""The bookkeepers' work on each item, kept from run to run.

A bookkeeper records Status, Assigned to, Note and Snooze until in a client workbook's Items
sheet. Before a run replaces that workbook it reads those columns back, item by item (the Item
key column, else the Item ID of workbooks made before it existed), and keeps them in the state
store, so the next workbook and page show them for every item still failing. A workbook that
cannot be read, or is open in Excel, is copied aside under a dated name first: a run never
overwrites someone's work silently.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analyzer.read import read_export
from analyzer.read.discover import custom_properties
from analyzer.read.guard import UNSAVED_FORMULAS
from analyzer.read.sniff import header_name
from analyzer.store import Store, as_store
from analyzer.write_staging import keep_copy

TO_DO, IN_PROGRESS, WAITING, DONE, CANNOT, DISMISSED = (
    "To do", "In progress", "Waiting on client", "Done", "Can't fix", "Dismissed")
STATUSES = (TO_DO, IN_PROGRESS, WAITING, DONE, CANNOT, DISMISSED)
# Other words a person may type, and the choices of workbooks made before these statuses.
_SPELLINGS = {s.casefold(): s for s in STATUSES} | {
    "not needed": DISMISSED, "ignore": DISMISSED, "ignored": DISMISSED, "todo": TO_DO, "to-do": TO_DO,
    "doing": IN_PROGRESS, "waiting": WAITING, "waiting on the client": WAITING, "fixed": DONE,
    "cannot fix": CANNOT, "can not fix": CANNOT, "cant fix": CANNOT, "": TO_DO,
}
REPEAT_PREFIX = "Repeat of row"  # the Status cell of a row repeating an item: not tracked
KEY_COLUMN = "Item key"
COLUMNS = ("status", "assigned_to", "note", "snooze_until", "error_key", "updated", "source")
_HEADINGS = {"status": "Status", "assigned_to": "Assigned to", "note": "Note", "snooze_until": "Snooze until"}


def error_key(text: str) -> str:
    """A short fingerprint of an error text that survives what a workbook does to a cell
    (line breaks, spacing, Excel's 32,767-character cap)."""
    folded = " ".join(str(text).split())[:20_000].casefold()
    return hashlib.sha1(folded.encode("utf-8")).hexdigest()[:16]


def normal_status(text: str) -> str | None:
    """The status a cell means, or None when it is not one of ours (Excel's curly apostrophe in
    "Can’t fix" included)."""
    folded = " ".join(str(text).replace("\u2019", "'").replace("\u2018", "'").split()).casefold().rstrip(".")
    if folded in _SPELLINGS:
        return _SPELLINGS[folded]
    # A status with a word after it: "Dismissed - duplicate", "Done (paid)", "Waiting on client: emailed".
    head = re.split(r"\s*(?:\s-\s|[–—:;,(])\s*", folded, maxsplit=1)[0].strip()
    return _SPELLINGS.get(head) if head and head != folded else None


@dataclass(frozen=True)
class Harvest:
    """What the run found in the workbooks it is about to replace."""

    records: pd.DataFrame  # client, item_key and COLUMNS, one row per tracked item
    messages: tuple[str, ...] = ()  # one line each: kept copies, unreadable workbooks
    held: pd.DataFrame = field(default_factory=lambda: empty_held())  # what each workbook read holds now (HELD)


def empty_records() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="str") for c in ("client", "item_key", *COLUMNS)})


def harvest(workbooks: dict[str, list[Path]], now: dt.datetime, replaced: set[Path] = frozenset(),
            unedited: set[tuple[str, int]] = frozenset(), known: pd.DataFrame | None = None,
            held: pd.DataFrame | None = None) -> Harvest:
    """The edits typed into the tracking columns of each client's workbooks: a value is an edit
    only where it differs from what the workbook held when last seen (`held`: written by its run
    or read by a later one, by workbook_name), so an older month's workbook saved again for one
    note does not bring back every other item as it stood that month; a workbook never seen so
    (written before this was kept) is compared with the store's records (`known`). Where two
    workbooks edited one value, the one saved last wins. A workbook still as its run wrote it
    (its name and file time in `unedited`) is passed over. A workbook this run will replace (in
    `replaced`) that is open in Excel or unreadable is copied aside first; an earlier month's is
    only read. `Harvest.held` is what each workbook read holds now."""
    frames, messages = [], []
    replaced = {p.resolve() for p in replaced}
    for client, paths in workbooks.items():
        present = sorted({p.resolve() for p in paths if p.is_file()}, key=lambda p: p.stat().st_mtime)
        for path in present:
            open_in_excel = (path.parent / f"~${path.name}").exists()
            if (path.name, path.stat().st_mtime_ns) in unedited and not open_in_excel:
                continue
            records, problem, notes, formulas, added = read_tracking(path, client)
            messages.extend(notes)
            # What this run cannot read of a workbook it replaces would be lost with it: one copy aside.
            kept = keep_copy(path, now).name if path in replaced and (problem or open_in_excel or formulas or added) \
                else ""
            if added:
                messages.append(_added_columns_line(path, added, kept))
            if formulas:
                messages.append(f"{path}: Items sheet: {formulas}" + (f"; kept a copy with them as {kept}" if kept else ""))
            if (problem or open_in_excel) and kept:
                why = "is open in Excel (a ~$ lock file is beside it); unsaved changes are not in the saved file" \
                    if open_in_excel and not problem else problem
                messages.append(f"{path}: {why}; kept a copy as {kept}")
            elif problem:
                messages.append(f"{path}: {problem}; its tracking was not read (the file is left as it is)")
            elif open_in_excel:
                messages.append(f"{path}: is open in Excel; read as last saved (unsaved changes are not in it)")
            if records is not None:
                frames.append(records)
    known = known if known is not None else empty_records()
    records, odd = _edits(frames, known, held if held is not None else empty_held())
    return Harvest(records, (*messages, *odd), _now_held(frames))


FIELDS = ("status", "assigned_to", "note", "snooze_until")


def workbook_name(path: Path | str) -> str:
    """How the store names a workbook: its folder and file name (2026-10/Acme Ltd.xlsx), which
    survive the practice's folder being moved or copied."""
    path = Path(path)
    return f"{path.parent.name}/{path.name}"


def _edits(frames: list[pd.DataFrame], known: pd.DataFrame, held: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Per item with an edit: the store's record (To do and nothing typed when it has none) with
    each edited field set to its last edit, in the order the workbooks were saved; and a line for
    each edited value not understood."""
    if not frames:
        return empty_records(), []
    rows = pd.concat(frames, ignore_index=True)  # oldest saved first
    keys = ["client", "item_key"]
    stored = rows[keys].merge(known.drop_duplicates(keys), on=keys, how="left")  # the store's record of each
    stored["status"] = stored["status"].fillna(TO_DO).map(lambda s: normal_status(s) or s)
    stored = stored.fillna("")
    # An edit differs from what its workbook held when last seen, else (never seen) from the store.
    before = _held_before(rows, held)
    was = {column: np.where(before["known"].to_numpy(dtype=bool), before[column].to_numpy(dtype=object),
                            stored[column].astype(object).to_numpy()) for column in FIELDS}
    edited = {f: (rows[f].astype("str").to_numpy() != was[f].astype("str")) for f in FIELDS}
    edited["status"] &= ~(rows["repeat"].to_numpy(dtype=bool) & rows["status"].str.startswith(REPEAT_PREFIX).to_numpy())
    # A snooze typed as no date reads as none: it is an edit if the text is new (a typed value the workbook did not hold).
    odd = _odd_values(rows, edited["status"], edited["snooze_until"] | (rows["typed_snooze"].astype(bool).to_numpy()
                                                                        & (rows["snooze_until"] == "").to_numpy()
                                                                        & (was["snooze_until"] == "")))
    any_edit = np.logical_or.reduce([edited[f] for f in FIELDS])
    if not any_edit.any():
        return empty_records(), odd
    rows, stored = rows[any_edit].reset_index(drop=True), stored[any_edit].reset_index(drop=True)
    edited = {f: e[any_edit] for f, e in edited.items()}
    items = stored.drop_duplicates(keys, keep="last").set_index(keys)  # the store's values, per item
    newest = rows.drop_duplicates(keys, keep="last").set_index(keys)
    result = items[["error_key", "updated"]].copy()
    for column in FIELDS:
        last = rows[edited[column]].drop_duplicates(keys, keep="last").set_index(keys)[column]
        result[column] = last.reindex(result.index).fillna(items[column])
    # The error the item had when its status was set (a dismissed item comes back when it changes).
    status_rows = rows[edited["status"]].drop_duplicates(keys, keep="last").set_index(keys)["error_key"]
    result["error_key"] = status_rows.reindex(result.index).fillna(
        items["error_key"].where(items["error_key"] != "", newest["error_key"]))
    # Saved no earlier than the record it changes: ISO times, compared as text.
    result["updated"] = [max(a, b) for a, b in zip(newest["updated"].astype("str"), items["updated"].astype("str"))]
    result["source"] = newest["source"]
    return result.reset_index()[["client", "item_key", *COLUMNS]], odd


def read_tracking(path: Path, client: str) -> tuple[pd.DataFrame | None, str, list[str], str, list[str]]:
    """The Items sheet's tracking of one workbook (or None and why it cannot be read), a line
    for each value typed there that could not be understood, the reader's note when formula
    cells there have no saved value (read blank: =TODAY()+7 typed in Snooze until by a script),
    and the columns a person added to the sheet and filled in (not carried over)."""
    workbook = read_export(path, sheet="Items")
    if not workbook.ok:
        return None, f"cannot be read ({workbook.error.split(': ', 1)[-1]})", [], "", []
    sheet = next((s for s in workbook.sheets if (s.sheet_name or "").casefold() == "items"), None)
    if sheet is None:
        return None, "has no Items sheet, so it is not a report workbook this tool wrote", [], "", []
    formulas = next((note for note in sheet.notes if UNSAVED_FORMULAS in note), "")
    columns = {str(h).strip().casefold(): h for h in sheet.header}
    key_column = columns.get(KEY_COLUMN.casefold())
    id_column = columns.get("item id")
    if "status" not in columns or not (key_column or id_column):
        return None, "its Items sheet has no Status and Item key columns, so it is not a report workbook this tool wrote", \
            [], "", []
    rows = sheet.rows
    by_id = ("id:" + _text(rows[id_column])).where(_text(rows[id_column]) != "", "") if id_column else ""
    # A row a bookkeeper added by hand has an Item ID but no key: the id is its key, as the tool makes it.
    keys = _text(rows[key_column]).where(_text(rows[key_column]) != "", by_id) if key_column else by_id
    status_text = _text(rows[columns["status"]])
    # A row repeating an item above (`Repeat of row 6`) is the same item: what is typed on it counts
    # for the item, but its Status label is no status.
    repeat = status_text.str.startswith(REPEAT_PREFIX)
    tracked = keys != ""
    lost = _work_without_a_key(path, rows, columns, keys, status_text.where(~repeat, ""))
    updated = dt.datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")
    frame = pd.DataFrame({
        "client": client,
        "item_key": keys,
        "status": status_text.map(lambda s: normal_status(s) or s.strip()),
        "assigned_to": _optional(rows, columns, "assigned to"),
        "note": _optional(rows, columns, "note"),
        "snooze_until": _dates(rows[columns["snooze until"]]) if "snooze until" in columns else "",
        "error_key": _text(rows[columns["error"]]).map(error_key) if "error" in columns else "",
        "updated": updated,
        "source": str(path),
        "repeat": repeat.to_numpy(dtype=bool),
    })
    # What was typed as written, and where: said back (once it is an edit) when not understood.
    frame["row"] = sheet.rows["source_row"].to_numpy()
    frame["typed_status"] = status_text.to_numpy()
    frame["typed_snooze"] = _text(rows[columns["snooze until"]]).to_numpy() if "snooze until" in columns else ""
    kept = tracked.to_numpy(dtype=bool)
    return frame[kept].reset_index(drop=True), "", lost, formulas, _added_columns(path, sheet.header, rows)


# The Items sheet's headings as a run wrote them, in the workbook's custom document properties
# ("analyzer Items headings 1", "... 2"): a short mark of each, 36 to a property, as Excel
# keeps only a property's first 255 characters. A run reading the workbook back compares the
# sheet's header with them to find the columns a person added.
HEADINGS_PROPERTY = "analyzer Items headings"
_MARKS_PER_PROPERTY = 36  # six characters and a space each: 251 of the 255


def heading_properties(headings) -> dict[str, str]:
    """The custom document properties that record the Items sheet's headings as written."""
    marks = [_heading_mark(h) for h in headings]
    return {f"{HEADINGS_PROPERTY} {n}": " ".join(marks[at:at + _MARKS_PER_PROPERTY])
            for n, at in enumerate(range(0, len(marks), _MARKS_PER_PROPERTY), start=1)}


def _heading_mark(heading: object) -> str:
    """A heading's mark, as written or as read back (as the reader names a header cell)."""
    return hashlib.sha1(header_name(heading).casefold().encode("utf-8")).hexdigest()[:6]


def _added_columns(path: Path, header: tuple[str, ...], rows: pd.DataFrame) -> list[str]:
    """The Items columns a person added and typed in: headings the run did not write (a workbook
    without the record, written before it was kept or saved by a program that drops it, has
    none) holding a value in some row."""
    written = {mark for name, value in custom_properties(path).items() if name.startswith(HEADINGS_PROPERTY)
               for mark in value.split()}
    if not written:
        return []
    return [h for h in header if _heading_mark(h) not in written and (_text(rows[h]) != "").any()]


def _added_columns_line(path: Path, added: list[str], kept: str) -> str:
    names = ", ".join(repr(h) for h in added[:5]) + (f" and {len(added) - 5} more" if len(added) > 5 else "")
    several = len(added) > 1
    them = "them" if several else "it"
    where = f"kept a copy with {them} as {kept}" if kept else f"that workbook still has {them}"
    return (f"{path}: Items column{'s' if several else ''} {names} {'were' if several else 'was'} added by hand;"
            f" runs carry over only Status, Assigned to, Note and Snooze until, so the new workbook does not have"
            f" {them} ({where}); type what must carry over in Note")


def _work_without_a_key(path: Path, rows: pd.DataFrame, columns: dict, keys: pd.Series, status: pd.Series) -> list[str]:
    """One line for rows holding a bookkeeper's work (a status other than to do, someone
    assigned, a note) but neither Item key nor Item ID: no item to carry it to."""
    typed = status.map(lambda s: (normal_status(s) or s.strip()) not in ("", TO_DO))
    for name in ("assigned to", "note"):
        if name in columns:
            typed |= _text(rows[columns[name]]) != ""
    lost = ((keys == "") & typed).to_numpy(dtype=bool)
    if not lost.any():
        return []
    first = int(rows["source_row"].to_numpy()[lost][0])
    return [f"{path}: Items row {first}{f' and {int(lost.sum()) - 1} more' if lost.sum() > 1 else ''}: work typed"
            " on a row with no Item key or Item ID is not carried over; type the item's Item ID in the row"]


def _odd_values(rows: pd.DataFrame, status_edited: np.ndarray, snooze_edited: np.ndarray) -> list[str]:
    """One line each (at most a few per workbook) for a status or date a person typed, and
    changed since the workbook was last seen, that the tool does not understand: the status is
    kept as typed and counts as to do; the item is not snoozed. (A value said once is not said
    again each month the workbook is read.)"""
    odd: dict[str, list[str]] = {}
    for source, row, typed, edited in zip(rows["source"], rows["row"], rows["typed_status"], status_edited):
        if edited and normal_status(typed) is None and not str(typed).startswith(REPEAT_PREFIX):
            odd.setdefault(source, []).append(f"Items row {row}: Status {typed!r} is not one of {', '.join(STATUSES)};"
                                              " kept as typed and counted as to do")
    for source, row, typed, read, edited in zip(rows["source"], rows["row"], rows["typed_snooze"],
                                                rows["snooze_until"], snooze_edited):
        if edited and typed and not read:
            odd.setdefault(source, []).append(f"Items row {row}: Snooze until {typed!r} is not a date (type one such"
                                              " as 15/12/2026); the item is not snoozed")
    shown = []
    for source, lines in odd.items():
        shown += [f"{source}: {line}" for line in lines[:5]]
        if len(lines) > 5:
            shown.append(f"{source}: and {len(lines) - 5} more value(s) not understood in the Items sheet")
    return shown


def _text(values: pd.Series) -> pd.Series:
    return values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)).str.strip()


def _optional(rows: pd.DataFrame, columns: dict[str, str], name: str) -> pd.Series | str:
    return _text(rows[columns[name]]) if name in columns else ""


def _dates(values: pd.Series) -> pd.Series:
    """ISO dates from what a person leaves in a date column: date cells, or text such as
    2026-12-15 or 15/12/2026 (day first, as the workbook shows dates)."""
    def one(value) -> str:
        if isinstance(value, (dt.datetime, dt.date)):
            return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 20000 < value < 80000:
            # A date cell whose format was lost (46036): Excel's day count from 30 Dec 1899.
            return (dt.date(1899, 12, 30) + dt.timedelta(days=int(value))).isoformat()
        text = "" if value is None else str(value).strip()
        if not text or text.casefold() == "nan":
            return ""
        for fmt in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(text, fmt).date().isoformat()
            except ValueError:
                continue
        return ""
    return values.map(one)


# What a person types in a date cell that Excel did not turn into a date: ISO, or day first as the
# workbook shows dates (UK, AU and NZ practices), with any of the usual separators.
_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y",
                 "%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d %b %y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y")


HELD = ("workbook", "item_key", *FIELDS)  # what workbooks hold: one row per item, "" for a workbook's marker


def _held_before(rows: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    """Per harvested row: what its workbook's tracking columns held for its item when last seen
    (`known` False where the workbook was never seen so). An item not listed held To do."""
    names = rows["source"].map(workbook_name)
    before = pd.DataFrame({"workbook": names, "item_key": rows["item_key"]}).merge(
        held[held["item_key"] != ""].drop_duplicates(["workbook", "item_key"]), on=["workbook", "item_key"], how="left")
    before = before.fillna({"status": TO_DO, "assigned_to": "", "note": "", "snooze_until": ""})
    before["known"] = names.isin(set(held["workbook"])).to_numpy(dtype=bool)
    return before


def _held(workbook: str, items: pd.DataFrame) -> pd.DataFrame:
    """A workbook's rows for the store: its marker, then its items (item_key and FIELDS)."""
    marker = pd.DataFrame([{"item_key": "", "status": "", "assigned_to": "", "note": "", "snooze_until": ""}])
    return pd.concat([marker, items[["item_key", *FIELDS]]], ignore_index=True).assign(workbook=workbook)[list(HELD)]


def _now_held(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """What each workbook read holds now, per item (the last row of an item wins)."""
    return pd.concat([_held(workbook_name(f["source"].iat[0]), f.drop_duplicates("item_key", keep="last"))
                      for f in frames if not f.empty] or [empty_held()], ignore_index=True)


def empty_held() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="str") for c in HELD})


def held_as_written(clients: pd.Series, keys: pd.Series, tracking: RowTracking, books: dict[str, str]) -> pd.DataFrame:
    """What a run writes into each client's workbook (`books`: client -> workbook_name): the
    tracking columns of its items that hold more than To do (the rest need no word)."""
    status = np.where(tracking.status == "", TO_DO, tracking.status)
    typed = np.flatnonzero((status != TO_DO) | (tracking.assigned_to != "") | (tracking.note != "")
                           | np.array([d is not None for d in tracking.snooze_until], dtype=bool))
    frame = pd.DataFrame({
        "client": clients.astype("str").to_numpy()[typed], "item_key": keys.astype("str").to_numpy()[typed],
        "status": status[typed], "assigned_to": tracking.assigned_to[typed], "note": tracking.note[typed],
        "snooze_until": [d.isoformat() if d is not None else "" for d in tracking.snooze_until[typed].tolist()],
    }).drop_duplicates(["client", "item_key"])
    parts = dict(tuple(frame.groupby("client", sort=False)))
    return pd.concat([_held(name, parts.get(client, frame.iloc[:0])) for client, name in books.items()] or [empty_held()],
                     ignore_index=True)


def _holds_work(frame: pd.DataFrame) -> pd.Series:
    """Rows whose tracking is more than To do with nothing typed."""
    return (frame["status"] != TO_DO) | (frame["assigned_to"] != "") | (frame["note"] != "") | (frame["snooze_until"] != "")


# ---------------------------------------------------------------------------------------------
# In the state store


def load_held(store: Store | Path, workbooks: list[str]) -> pd.DataFrame:
    """What these workbooks (by workbook_name) held when last seen: items holding To do and
    nothing typed are not listed; each workbook seen has its marker row (item_key "")."""
    store = as_store(store)
    names = sorted(set(workbooks))
    if not store.exists() or not names:
        return empty_held()
    found = []
    with store.transaction() as db:
        for at in range(0, len(names), 500):  # under any backend's limit of bound values
            chunk = names[at:at + 500]
            found.append(db.frame(f"SELECT {', '.join(HELD)} FROM workbook_cells WHERE practice = ? AND workbook IN"
                                  f" ({', '.join('?' * len(chunk))})", (db.practice, *chunk)))
    return pd.concat(found, ignore_index=True).astype("str") if any(len(f) for f in found) else empty_held()


def save_held(store: Store | Path, held: pd.DataFrame) -> None:
    """Remember what these workbooks hold now (each one's rows replaced whole)."""
    if held.empty:
        return
    kept = held[(held["item_key"] == "") | _holds_work(held)].astype("str")
    with as_store(store).transaction(write=True) as db:
        db.executemany("DELETE FROM workbook_cells WHERE practice = ? AND workbook = ?",
                       [(db.practice, name) for name in held["workbook"].unique()])
        db.executemany(f"INSERT INTO workbook_cells (practice, {', '.join(HELD)}) VALUES (?, {', '.join('?' * len(HELD))})",
                       [(db.practice, *r) for r in kept[list(HELD)].itertuples(index=False)])


# ---------------------------------------------------------------------------------------------
# In the state store (tracking records)


def save(store: Store | Path, records: pd.DataFrame) -> None:
    """Keep harvested tracking; an item's record is replaced only by one saved later. An item
    nobody has touched (To do, no one assigned, no note, no snooze) is stored only to reset a
    record it already has, so a month of untouched items costs the store nothing."""
    if records.empty:
        return
    touched = _holds_work(records).to_numpy(dtype=bool)
    with as_store(store).transaction(write=True) as db:
        db.executemany(
            "UPDATE tracking SET status = ?, assigned_to = '', note = '', snooze_until = '', error_key = ?,"
            " updated = ?, source = ? WHERE practice = ? AND client = ? AND item_key = ? AND updated <= ?",
            records.loc[~touched, ["status", "error_key", "updated", "source", "client", "item_key"]]
            .astype("str").assign(practice=db.practice, since=records["updated"].astype("str"))[
                ["status", "error_key", "updated", "source", "practice", "client", "item_key", "since"]]
            .itertuples(index=False, name=None),
        )
        records = records[touched]
        db.executemany(
            "INSERT INTO tracking (practice, client, item_key, status, assigned_to, note, snooze_until, error_key,"
            " updated, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (practice, client, item_key) DO UPDATE SET"
            " status = excluded.status, assigned_to = excluded.assigned_to, note = excluded.note,"
            " snooze_until = excluded.snooze_until, error_key = excluded.error_key, updated = excluded.updated,"
            " source = excluded.source WHERE excluded.updated >= tracking.updated",
            records[["client", "item_key", *COLUMNS]].astype("str").assign(practice=db.practice)[
                ["practice", "client", "item_key", *COLUMNS]].itertuples(index=False, name=None),
        )


def load(store: Store | Path) -> pd.DataFrame:
    """Every item's tracking the store holds for the practice."""
    store = as_store(store)
    if not store.exists():
        return empty_records()
    with store.transaction() as db:
        found = db.frame(f"SELECT client, item_key, {', '.join(COLUMNS)} FROM tracking WHERE practice = ?", (db.practice,))
    return found if not found.empty else empty_records()


# ---------------------------------------------------------------------------------------------
# Applied to this run's rows


@dataclass(frozen=True)
class RowTracking:
    """Per batch row: its tracking, and whether it is set aside from the counts this run."""

    status: np.ndarray  # one of STATUSES (or what a person typed)
    assigned_to: np.ndarray
    note: np.ndarray
    snooze_until: np.ndarray  # dt.date or None
    dismissed: np.ndarray  # bool: dismissed, and its error has not changed since
    snoozed: np.ndarray  # bool: snoozed past the run date (and not dismissed)
    flags: np.ndarray  # a warning for the row, or ""

    @property
    def set_aside(self) -> np.ndarray:
        return self.dismissed | self.snoozed


def for_rows(records: pd.DataFrame, clients: pd.Series, keys: pd.Series, error_keys: np.ndarray,
             today: dt.date) -> RowTracking:
    """Join the kept tracking to this run's rows by (client, item key)."""
    n = len(keys)
    current = pd.DataFrame({"client": clients.astype("str").to_numpy(), "item_key": keys.astype("str").to_numpy()})
    joined = current.merge(records.drop_duplicates(["client", "item_key"]), on=["client", "item_key"], how="left")
    # Writable copies (a frame read back with no rows can hand out read-only arrays).
    status = np.array(joined["status"].fillna("").map(lambda s: normal_status(s) or s).tolist(), dtype=object)
    assigned = np.array(joined["assigned_to"].fillna("").tolist(), dtype=object)
    note = np.array(joined["note"].fillna("").tolist(), dtype=object)
    snooze = np.array([dt.date.fromisoformat(s) if isinstance(s, str) and s else None
                       for s in joined["snooze_until"]], dtype=object) if n else np.zeros(0, dtype=object)
    kept_error = np.array(joined["error_key"].fillna("").tolist(), dtype=object)
    flags = np.full(n, "", dtype=object)
    dismissed = status == DISMISSED
    changed = dismissed & (kept_error != "") & (kept_error != error_keys)
    status[changed] = TO_DO
    flags[changed] = "Dismissed earlier, but its error has changed: it needs looking at again"
    dismissed &= ~changed
    snoozed = np.array([s is not None and s > today for s in snooze], dtype=bool) & ~dismissed
    done = status == DONE
    flags[done] = "Marked done, still failing in Dext: publish it again, or check the fix"
    return RowTracking(status, assigned, note, snooze, dismissed, snoozed, flags)
