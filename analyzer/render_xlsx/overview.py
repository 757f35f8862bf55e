"""The overview workbook across the practice's clients."""

from __future__ import annotations

import io

from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from analyzer.render_xlsx.cells import (  # private helpers, named for readers
    _Column, _Formats, _amounts, _close_workbook, _date_column, _currencies, _fit, _measure, _money_columns,
    _new_workbook, _number_column, _page_setup, _text_column, _texts, _write_table, _write_value,
)
from analyzer.overview import Overview
from analyzer.render_xlsx.unrecognised import write_unrecognised


# ---------------------------------------------------------------------------------------------
# The overview workbook


def render_overview_xlsx(overview: Overview) -> bytes:
    buffer = io.BytesIO()
    book = _new_workbook(
        buffer,
        title="Publishing failures: overview",
        subject=overview.period,
        author=f"analyzer {overview.version}",
        company=overview.practice,
        created=overview.run_date,
        comments=f"{len(overview.clients)} client(s), {overview.item_count} item(s).",
    )
    formats = _Formats(book)
    sheet = book.add_worksheet("Overview")
    _write_overview(sheet, formats, overview)
    _page_setup(sheet)
    if overview.who:
        who = book.add_worksheet("Who acts")
        _write_who(who, formats, overview)
    if overview.unrecognised:
        _write_unrecognised(book, formats, overview)
    sources = book.add_worksheet("Sources")
    src = overview.sources
    _write_table(sources, formats, [
        _text_column("Path", [s.path for s in src], formats),
        _number_column("Rows", [s.rows for s in src], formats.count, 10),
        _number_column("Skipped", [s.skipped for s in src], formats.count, 10),
        _text_column("Status", [s.status for s in src], formats, width=10),
        _text_column("Message", [s.message for s in src], formats),
    ])
    _page_setup(sources)
    run = book.add_worksheet("Run")
    _write_run(run, formats, overview)
    sheet.activate()
    return _close_workbook(book, buffer)


def _write_overview(sheet: Worksheet, formats: _Formats, overview: Overview) -> None:
    clients = overview.clients
    currencies = _currencies([*overview.money, *(m for c in clients for m in c.money)])
    columns = [
        _text_column("Client", [c.client for c in clients], formats),
        _text_column("Status", [c.status_label for c in clients], formats),
        _text_column("State", [c.state_label for c in clients], formats),
        _number_column("Items to fix", [c.item_count for c in clients], formats.count, 10),
        *_money_columns([c.money for c in clients], currencies, formats),
        _date_column("Oldest item", [c.oldest_date for c in clients], formats),
        _number_column("Dismissed", [c.dismissed or None for c in clients], formats.count, 10),
        _number_column("Snoozed", [c.snoozed or None for c in clients], formats.count, 10),
    ]
    totals: list = [None, None, None, overview.item_count, *_amounts(overview.money, currencies), None,
                    sum(c.dismissed for c in clients), sum(c.snoozed for c in clients)]
    for fix_id, title, items, _ in overview.fixes:
        columns.append(_number_column(title, [c.fix_items.get(fix_id) or None for c in clients], formats.count, 14))
        totals.append(items)
    if any(c.previous_items is not None for c in clients):
        columns.append(_number_column("Items last run", [c.previous_items for c in clients], formats.count, 12))
        totals.append(sum(c.previous_items or 0 for c in clients))
    if any(c.cleared is not None for c in clients):
        columns.append(_number_column("Cleared", [c.cleared for c in clients], formats.count, 10))
        totals.append(sum(c.cleared or 0 for c in clients))
    files = _texts(c.xlsx_file for c in clients)
    columns.append(_Column("Workbook", "file", [(c.xlsx_file, f) if f else None for c, f in zip(clients, files)],
                           formats.link, _fit("Workbook", _measure(files)[0]), formats.text))
    statuses = _texts(c.status_label for c in clients)  # each status cell carries its light's colour
    columns[1] = _Column("Status", "styled",
                         [(text, formats.status.get(c.status, formats.text)) if text else None
                          for c, text in zip(clients, statuses)],
                         width=_fit("Status", _measure(statuses)[0]))
    rows = _write_table(sheet, formats, columns)
    total_row = rows + 1
    sheet.write_string(total_row, 0, "Total", formats.total_label)
    for col, value in enumerate(totals):
        if value is None:
            continue
        fmt = formats.total_money if columns[col].format is formats.money else formats.total_count
        letter = xl_col_to_name(col)
        if rows:
            sheet.write_formula(total_row, col, f"=SUM({letter}2:{letter}{rows + 1})", fmt, value)
        else:
            sheet.write_number(total_row, col, value, fmt)


def _write_unrecognised(book, formats: _Formats, overview: Overview) -> None:
    """Every client's unrecognised messages in one list: a category chosen here is taught for
    every client at once."""
    lines = overview.unrecognised
    write_unrecognised(book, formats, [
        _text_column("Template", [u.template for u in lines], formats),
        _number_column("Items", [u.items for u in lines], formats.count, 10),
        _text_column("Clients", [", ".join(u.clients) for u in lines], formats, width=40, wrap=True),
        _text_column("Looks like", [u.looks_like for u in lines], formats, width=40, wrap=True),
    ], overview.category_titles)


def _write_run(sheet: Worksheet, formats: _Formats, overview: Overview) -> None:
    row = 0
    sheet.write_string(row, 0, "Publishing failures: overview", formats.title)
    row += 2
    facts: list[tuple[str, object, object]] = []
    if overview.practice:
        facts.append(("Practice", overview.practice, None))
    facts += [("Period", overview.period, None), ("Run date", overview.run_date, None),
              ("Clients", len(overview.clients), formats.count), ("Items", overview.item_count, formats.count)]
    for position, money in enumerate(overview.money):
        facts.append(("Value at risk" if position == 0 else "", money.amount, formats.currency(money.currency)))
    facts.append(("Rows skipped", overview.skipped, formats.count))
    facts.append(("Made by", f"analyzer {overview.version}", None))
    for position, failure in enumerate(overview.failures):
        facts.append(("Inputs not read" if position == 0 else "", failure, None))
    for label, value, fmt in facts:
        if label:
            sheet.write_string(row, 0, label, formats.label)
        _write_value(sheet, formats, row, 1, value, fmt)
        row += 1
    sheet.set_column(0, 0, 18)
    sheet.set_column(1, 1, 70)


def _write_who(sheet: Worksheet, formats: _Formats, overview: Overview) -> None:
    """The month's work by who must act, so a manager can hand it out."""
    lines = overview.who
    currencies = _currencies([m for w in lines for m in w.money])
    _write_table(sheet, formats, [
        _text_column("Who acts", [w.label for w in lines], formats, width=28),
        _number_column("Items", [w.items for w in lines], formats.count, 10),
        _number_column("Clients", [w.clients for w in lines], formats.count, 10),
        *_money_columns([w.money for w in lines], currencies, formats),
    ])
    _page_setup(sheet)
