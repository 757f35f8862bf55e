"""The client workbook: Summary, Actions, Items (with the practice's tracking), and the
sheets for unrecognised errors, items set aside, items cleared and the client's own asks."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
from xlsxwriter.worksheet import Worksheet

from analyzer.render_xlsx.cells import (
    LINE_HEIGHT, MAX_ROWS, WIDTH_CAP, _excel_dates, _text, clean_text,
    _Column, _Formats, _close_workbook, _currencies, _date_column, _frame_columns, _money_columns,
    _new_workbook, _number_column, _page_setup, _text_column, _texts, _write_table, _write_value,
)
from analyzer.items_table import AMOUNT_AS_WRITTEN, DATE_AS_WRITTEN, REPEAT_COLUMN, TRACKING
from analyzer.report_model import STATE_LABELS, ClientReport, Group, Item, format_date
from analyzer.render_xlsx.unrecognised import write_unrecognised
from analyzer.row_arrays import RowArrays
from analyzer.tracking import CANNOT, DISMISSED, DONE, REPEAT_PREFIX, STATUSES, WAITING, heading_properties

STATUS_CHOICES = STATUSES
TRACKING_COLUMNS = ("Status", "Assigned to", "Note", "Snooze until")
GROUP_COLUMN = "Fix #"
ATTENTION = "Attention"  # Dismissed / Snoozed / "Marked done, still failing in Dext"
_TRACKING_WIDTHS = {"Status": 16.0, "Assigned to": 16.0, "Note": 30.0, "Snooze until": 13.0}


# ---------------------------------------------------------------------------------------------
# The client workbook


def render_client_xlsx(report: ClientReport) -> bytes:
    table, order, group_of, first_row = _ordered_items(report)
    buffer = io.BytesIO()
    book = _new_workbook(
        buffer,
        rows=len(table),
        title=f"Publishing failures: {report.client}",
        subject=report.period,
        author=f"analyzer {report.version}",
        company=report.practice,
        created=report.run_date,
        comments=f"{report.item_count} item(s) that failed to publish from Dext to Xero.",
    )
    formats = _Formats(book)
    summary = book.add_worksheet("Summary")
    actions = book.add_worksheet("Actions")
    items = book.add_worksheet("Items")
    for name, value in heading_properties(_write_items(items, formats, table, order, group_of)).items():
        book.set_custom_property(name, value)  # which Items columns are the run's (see tracking)
    _write_summary(summary, formats, report, first_row, len(table))
    _write_actions(actions, formats, report)
    if report.client_asks:
        _write_client_asks(book.add_worksheet("For the client"), formats, report)
    if report.set_aside:
        _write_set_aside(book.add_worksheet("Set aside"), formats, report)
    if report.cleared_items:
        _write_cleared(book.add_worksheet("Cleared"), formats, report)
    if report.templates:
        _write_unrecognised(book, formats, report)
    summary.activate()
    return _close_workbook(book, buffer)


def _ordered_items(report: ClientReport) -> tuple[RowArrays, np.ndarray | None, list[int | None], dict[int, int]]:
    """The client's table and the order of its rows on the Items sheet (positions; None when
    unchanged): fix-group order, each group's own items together in the group's order, then any
    row no group claimed. Also the group number of each sheet row and, per group, the sheet
    position of its first row."""
    table = RowArrays.of(report.items_table)
    if not table.columns:
        table = RowArrays.of(_table_from_items(report))
    index = table.index.tolist()
    known = set(index)
    order: list = []
    numbers: list[int | None] = []
    placed: set = set()
    first_row: dict[int, int] = {}
    for group in report.groups:
        for item in group.items:
            if item.fix_key == group.key and item.row in known and item.row not in placed:
                first_row.setdefault(group.number, len(order))
                placed.add(item.row)
                order.append(item.row)
                numbers.append(group.number)
    for label in index:
        if label not in placed:
            placed.add(label)
            order.append(label)
            numbers.append(None)
    if len(order) != len(index):  # duplicate labels: keep the table as it is
        return table, None, [None] * len(table), {}
    positions = {label: position for position, label in enumerate(order)}
    for group in report.groups:  # a group all of whose items are listed under an earlier fix
        if group.number not in first_row:
            found = [positions[i.row] for i in group.items if i.row in positions]
            if found:
                first_row[group.number] = min(found)
    if order == index:
        return table, None, numbers, first_row
    where = {label: position for position, label in enumerate(index)}
    return table, np.array([where[label] for label in order], dtype=np.int64), numbers, first_row


def _table_from_items(report: ClientReport) -> pd.DataFrame:
    """When the report carries no items table (built by hand, or already rendered): the items
    the groups hold, once each."""
    seen: dict[int, Item] = {}
    for group in report.groups:
        for item in group.items:
            seen.setdefault(item.row, item)
    items = list(seen.values())
    titles = {g.key: g.title for g in report.groups}
    return pd.DataFrame({
        "Fix": [titles.get(i.fix_key, "") for i in items],
        "Also needs": ["; ".join(i.also) for i in items],
        "Categories": [i.categories for i in items],
        "Item ID": [i.item_id for i in items],
        "Date": np.array([np.datetime64(i.date, "D") if i.date else np.datetime64("NaT") for i in items],
                         dtype="datetime64[s]"),
        "Supplier": [i.supplier for i in items],
        "Amount": np.array([np.nan if i.amount is None else i.amount for i in items], dtype=float),
        "Currency": [i.currency for i in items],
        "Category": [i.category for i in items],
        "Tax": [i.tax for i in items],
        "Link": [i.link for i in items],
        "Error": [i.error for i in items],
        "Source file": [i.source.rsplit(", row ", 1)[0] for i in items],
        "Source row": np.array([i.source_row for i in items], dtype="int64"),
    }, index=pd.Index([i.row for i in items]))


def _item_headings(table: RowArrays) -> list[str]:
    """The table's headings, renamed where they would repeat the tracking columns."""
    taken = {h.casefold() for h in (*TRACKING_COLUMNS, GROUP_COLUMN, ATTENTION, "Who acts")}
    headings = []
    for name in table.columns:
        heading = _text(name) or "Column"
        while heading.casefold() in taken:
            heading = f"{heading} (input)"
        taken.add(heading.casefold())
        headings.append(heading)
    return headings


IDENTITY_COLUMNS = ("Item ID", "Date", DATE_AS_WRITTEN, "Supplier", "Customer", "Amount", AMOUNT_AS_WRITTEN, "Currency")


def _write_items(sheet: Worksheet, formats: _Formats, table: RowArrays, order: np.ndarray | None,
                 group_of: list[int | None]) -> list[str]:
    """The bookkeeper's sheet: tracking columns first (Status as a drop-down, except on rows that
    repeat an item listed above), which item it is (id, date, supplier, amount), who acts, the fix
    number, then the fix and the item's other columns. Status stays in view when scrolling right."""
    own = [c for c in (*TRACKING, REPEAT_COLUMN) if c in table.columns]
    rest = table.without(own)
    # Which item each row is, beside its tracking: what a bookkeeper reads while setting a Status.
    first = [c for c in IDENTITY_COLUMNS if c in rest.columns]
    identity, rest = rest.select(first), rest.without(first)
    repeats = _repeat_rows(table, order)
    status = _taken(table, "_status", order, "To do")
    for position, first in repeats.items():
        status[position] = f"{REPEAT_PREFIX} {first}" if first else f"{REPEAT_PREFIX} an item above"
    columns = [
        _Column("Status", "text", _texts(status), formats.text, _TRACKING_WIDTHS["Status"]),
        _Column("Assigned to", "text", _texts(_taken(table, "_assigned_to", order, "")), formats.text, 16.0),
        _Column("Note", "text", _texts(_taken(table, "_note", order, "")), formats.wrap, 30.0),
        _snooze_column(table, order, formats),
        *_frame_columns(identity, order, formats, _item_headings(identity)),
        _text_column("Who acts", _taken(table, "_who", order, ""), formats, width=22),
        _text_column(ATTENTION, _taken(table, "_flag", order, ""), formats, width=24, wrap=True),
        _Column(GROUP_COLUMN, "number", group_of, formats.integer, 7.0),
        *_frame_columns(rest, order, formats, _item_headings(rest)),
    ]
    columns = [c for c in columns if c.heading != ATTENTION or any(c.cells)]
    written = _write_table(sheet, formats, columns, frozen_columns=1)  # Status stays in view
    if written:
        _tracking_validation(sheet, formats, written, set(repeats))
    _page_setup(sheet)
    return [c.heading for c in columns]


def _taken(table: RowArrays, column: str, order: np.ndarray | None, default: str) -> list:
    """A column's cells in sheet order (the default where the table has no such column)."""
    if column not in table:
        return [default] * len(table)
    values = table[column]
    values = values if order is None else values[order]
    return [v if isinstance(v, str) and v else default for v in values.tolist()]


def _snooze_column(table: RowArrays, order: np.ndarray | None, formats: _Formats) -> _Column:
    if "_snooze_until" in table:
        values = table["_snooze_until"].astype("datetime64[us]")
        cells = _excel_dates(values if order is None else values[order])
    else:
        cells = []
    return _Column("Snooze until", "date", cells, formats.date, _TRACKING_WIDTHS["Snooze until"], formats.text)


def _repeat_rows(table: RowArrays, order: np.ndarray | None) -> dict[int, int | None]:
    """Sheet positions of rows repeating an item, each with the sheet row of its first copy."""
    if REPEAT_COLUMN not in table:
        return {}
    first = table[REPEAT_COLUMN]
    first = first if order is None else first[order]
    labels = table.index if order is None else table.index[order]
    sheet_row = {int(label): position + 2 for position, label in enumerate(labels.tolist())}
    return {position: sheet_row.get(int(f)) for position, f in enumerate(first.tolist()) if f >= 0}


def _tracking_validation(sheet: Worksheet, formats: _Formats, rows: int, repeats: set[int]) -> None:
    """The Status drop-down on every row but repeats, a date check on Snooze until, and a colour
    per status."""
    runs, start = [], None
    for position in range(rows + 1):
        if position < rows and position not in repeats:
            start = position if start is None else start
        elif start is not None:
            runs.append(f"A{start + 2}:A{position + 1}")
            start = None
    if runs:
        sheet.data_validation(1, 0, rows, 0, {
            "validate": "list",
            "source": list(STATUS_CHOICES),
            "multi_range": " ".join(runs),
            "input_title": "Status",
            "input_message": "Pick: " + ", ".join(STATUS_CHOICES),
            "error_title": "Status",
            "error_message": "Choose one of: " + ", ".join(STATUS_CHOICES),
        })
    sheet.data_validation(1, 3, rows, 3, {
        "validate": "date", "criteria": ">", "value": dt.date(2000, 1, 1),
        "input_title": "Snooze until", "input_message": "Leave out of the counts until this date",
        "error_title": "Snooze until", "error_message": "Type a date, such as 15/12/2026",
    })
    for value, fmt in ((DONE, formats.done), (CANNOT, formats.cannot), (DISMISSED, formats.not_needed),
                       (WAITING, formats.waiting)):
        sheet.conditional_format(1, 0, rows, 0, {
            "type": "cell", "criteria": "==", "value": '"' + value.replace('"', '""') + '"', "format": fmt,
        })


def _write_summary(sheet: Worksheet, formats: _Formats, report: ClientReport, first_row: dict[int, int],
                   item_rows: int) -> None:
    row = 0
    sheet.write_string(row, 0, clean_text(f"Publishing failures: {report.client}"), formats.title)
    row += 2

    def fact(label: str, value=None, fmt=None) -> None:
        nonlocal row
        if label:
            sheet.write_string(row, 0, label, formats.label)
        _write_value(sheet, formats, row, 1, value, fmt)
        row += 1

    if report.practice:
        fact("Practice", report.practice)
    fact("Client", report.client)
    fact("Period", report.period)
    fact("Run date", report.run_date)
    fact("Status", report.status_label, formats.status.get(report.status, formats.label))
    fact("State", STATE_LABELS[report.state])
    fact("Items to fix", report.item_count)
    if report.failing_items != report.item_count:
        fact("Failing in Dext", report.failing_items)
    for label, items in (("Dismissed", report.dismissed), ("Snoozed", report.snoozed)):
        if items:
            fact(label, len(items))
    rows = report.rows or item_rows
    if report.repeated_rows:
        fact("Input rows", f"{rows:,} rows, {report.failing_items:,} items: {report.repeated_rows:,} repeated"
                           " (the same item ID again); each is counted once and marked in the Items sheet.")
    if report.money:
        for position, money in enumerate(report.money):
            fact("Value at risk" if position == 0 else "", money.amount, formats.currency(money.currency))
            if not money.currency:
                sheet.write_string(row - 1, 2, "currency not stated in the export", formats.text)
    else:
        fact("Value at risk", "none")
    for label, value in (("New since last run", report.new_items), ("Carried over", report.carried_over),
                         ("Cleared since last run", report.cleared)):
        if value is not None:
            fact(label, value)
    if report.previous_period:
        fact("Last run", report.previous_period)
    if item_rows >= MAX_ROWS - 1:
        fact("Warning", f"Only the first {MAX_ROWS - 1:,} items fit in the Items sheet.")
    rows_format = formats.book.add_format({"valign": "top", "num_format": '#,##0 "rows"'})
    skipped_format = formats.book.add_format({"valign": "top", "num_format": '#,##0 "skipped"'})
    for position, source in enumerate(report.sources):
        if position == 0:
            sheet.write_string(row, 0, "Sources", formats.label)
        sheet.write_string(row, 1, clean_text(source.name), formats.wrap)
        sheet.write_number(row, 2, source.rows, rows_format)
        if source.skipped:
            sheet.write_number(row, 3, source.skipped, skipped_format)
        if source.status != "ok" or source.message:
            sheet.write_string(row, 4, clean_text(" ".join(filter(None, (source.status, source.message)))),
                               formats.wrap)
        row += 1
    fact("Made by", f"analyzer {report.version}")
    for position, note in enumerate(report.notes):
        fact("Notes" if position == 0 else "", note, formats.wrap)
        # Tall enough for the note wrapped in column B (about 50 characters a line): a spreadsheet
        # does not grow a row for wrapped text written by a program, and LibreOffice cut it.
        sheet.set_row(row - 1, LINE_HEIGHT * max(1, -(-len(note) // 50)))

    row += 1
    sheet.write_string(row, 0, "Fixes, in the order to do them", formats.heading)
    row += 1
    groups = report.groups
    currencies = _currencies([*report.money, *(m for g in groups for m in g.money)])
    links = []
    for group in groups:
        position = first_row.get(group.number)
        links.append(None if position is None else (f"'Items'!A{position + 2}", f"Items row {position + 2}"))
    columns = [
        _number_column("#", [g.number for g in groups], formats.integer, 24),
        _text_column("Fix", [g.title for g in groups], formats, width=50, wrap=True),
        _text_column("Who", [g.who for g in groups], formats, width=28, wrap=True),
        _text_column("Scope", [g.scope_label for g in groups], formats, width=30, wrap=True),
        _number_column("Items", [g.item_count for g in groups], formats.count, 10),
        *_money_columns([g.money for g in groups], currencies, formats),
        _Column("Items sheet", "internal", links, formats.link, 16),
    ]
    if any(g.recurring for g in groups):
        columns.insert(5, _text_column("Needed last run too", ["Yes" if g.recurring else "" for g in groups],
                                       formats, width=21, wrap=True))  # the heading on one line
    if not groups:
        sheet.write_string(row, 0, "Nothing to fix for this client." if report.failing_items
                           else "Nothing failed to publish for this client.", formats.text)
        sheet.set_column(0, 0, 24)
        sheet.set_column(1, 1, 50)
        return
    _write_table(sheet, formats, columns, first_row=row, freeze=False)
    sheet.set_portrait()
    sheet.fit_to_pages(1, 0)


def _write_actions(sheet: Worksheet, formats: _Formats, report: ClientReport) -> None:
    lines: list[tuple[Group, object]] = [(g, a) for g in report.groups for a in g.actions]
    currencies = _currencies([*report.money, *(m for _, a in lines for m in a.money)])
    columns = [
        _number_column("#", [g.number for g, _ in lines], formats.integer, 6),
        _text_column("Fix", [g.title for g, _ in lines], formats, width=40, wrap=True),
        _text_column("For", [a.label or "All items" for _, a in lines], formats),
        _number_column("Items", [a.items for _, a in lines], formats.count, 8),
        *_money_columns([a.money for _, a in lines], currencies, formats),
        _text_column("Who", [g.who for g, _ in lines], formats, width=24, wrap=True),
        _text_column("Where", [g.where for g, _ in lines], formats, width=24, wrap=True),
        _text_column("Steps", ["\n".join(f"{n}. {s}" for n, s in enumerate(g.steps, 1)) for g, _ in lines],
                     formats, width=WIDTH_CAP, wrap=True),
        _text_column("Warnings", ["\n".join(g.warnings) for g, _ in lines], formats, width=WIDTH_CAP - 15, wrap=True),
        _text_column("Publishable", ["Yes" if g.publishable else "No" for g, _ in lines], formats, width=13),
        _date_column("First date", [a.first_date for _, a in lines], formats),
        _date_column("Last date", [a.last_date for _, a in lines], formats),
    ]
    _write_table(sheet, formats, columns)
    _page_setup(sheet)




def _write_unrecognised(book, formats: _Formats, report: ClientReport) -> None:
    """Messages the catalog does not know, each with the category it looks most like (or why the
    catalog was not consulted), and the Category drop-down."""
    templates = report.templates
    write_unrecognised(book, formats, [
        _text_column("Template", (t for t, _ in templates), formats),
        _number_column("Count", [n for _, n in templates], formats.count, 10),
        _text_column("Looks like", [report.looks_like(t) for t, _ in templates], formats, width=40, wrap=True),
    ], report.category_titles)


def _write_client_asks(sheet: Worksheet, formats: _Formats, report: ClientReport) -> None:
    """"What we need from you": only what the client's own Xero admin must do, in plain words
    and with no internal ids, ready to send."""
    sheet.write_string(0, 0, clean_text(f"What we need from you: {report.client}"), formats.title)
    row = 2
    intro = ("To publish your documents from Dext to Xero we need you (or whoever manages your Xero"
             " subscription and users) to do the following. Each step clears every item listed under it.")
    sheet.write_string(row, 0, intro, formats.wrap)
    sheet.set_row(row, LINE_HEIGHT * 3)
    row += 2
    for number, group in enumerate(report.client_asks, start=1):
        sheet.write_string(row, 0, clean_text(f"{number}. {group.title}"), formats.heading)
        row += 1
        # The catalog's words for the client where it has them, as the HTML page has them.
        for cause in (group.client_why,) if group.client_why else group.causes:
            sheet.write_string(row, 0, clean_text(f"Why: {cause}"), formats.wrap)
            sheet.set_row(row, LINE_HEIGHT * max(1, -(-len(cause) // 90)))
            row += 1
        for step_number, step in enumerate(group.client_steps or group.steps, start=1):
            sheet.write_string(row, 0, clean_text(f"  {step_number}. {step}"), formats.wrap)
            sheet.set_row(row, LINE_HEIGHT * max(1, -(-len(step) // 90)))
            row += 1
        items = group.items
        sheet.write_string(row, 0, f"Documents waiting on this ({group.item_count}):", formats.label)
        row += 1
        for item in items:
            parts = [item.date_text if not item.date else format_date(item.date), item.supplier,
                     str(item.money) if item.money else ""]
            sheet.write_string(row, 0, clean_text("  " + " · ".join(p for p in parts if p)), formats.text)
            row += 1
        row += 1
    sheet.set_column(0, 0, 100)
    sheet.set_portrait()
    sheet.fit_to_pages(1, 0)


def _write_set_aside(sheet: Worksheet, formats: _Formats, report: ClientReport) -> None:
    """Dismissed and snoozed items: listed, left out of the counts and the value at risk. To bring
    one back, change its Status or Snooze until on the Items sheet."""
    items = report.set_aside
    columns = [
        _text_column("Set aside", ["Dismissed" if i.tracking.aside == "dismissed" else "Snoozed" for i in items],
                     formats, width=11),
        _date_column("Snooze until", [i.tracking.snooze_until for i in items], formats),
        _text_column("Assigned to", [i.tracking.assigned_to for i in items], formats, width=16),
        _text_column("Note", [i.tracking.note for i in items], formats, width=30, wrap=True),
        _text_column("Item ID", [i.item_id for i in items], formats),
        _date_column("Date", [i.date for i in items], formats),
        _text_column("Supplier", [i.supplier for i in items], formats),
        _number_column("Amount", [i.amount for i in items], formats.money),
        _text_column("Currency", [i.currency for i in items], formats, width=9),
        _text_column("Error", [i.error for i in items], formats, width=WIDTH_CAP, wrap=True),
    ]
    _write_table(sheet, formats, columns)
    _page_setup(sheet)


def _write_cleared(sheet: Worksheet, formats: _Formats, report: ClientReport) -> None:
    """Items that failed in the last run and are not failing now, with who had them."""
    items = report.cleared_items
    columns = [
        _text_column("Item ID", [i.item_id for i in items], formats),
        _date_column("Date", [i.day for i in items], formats),
        _text_column("Supplier", [i.supplier for i in items], formats),
        _number_column("Amount", [i.amount for i in items], formats.money),
        _text_column("Currency", [i.currency for i in items], formats, width=9),
        _text_column("Fix it needed", ["; ".join(i.fixes) for i in items], formats, width=40, wrap=True),
        _text_column("Assigned to", [i.assigned_to for i in items], formats, width=16),
        _text_column("Last status", [i.status for i in items], formats, width=16),
    ]
    _write_table(sheet, formats, columns)
    _page_setup(sheet)

