"""Dates as exports and spreadsheets write them, in the order (day or month first) each file or
client uses."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from analyzer.cells import is_categorical, used_text


_DATE_FORMATS_DAYFIRST = ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y")



_DATE_FORMATS_MONTHFIRST = ("%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%m.%d.%Y")



# Year first is always year, month, day (2026/10/05 as Japanese and some ledgers write it).
_DATE_FORMATS_NAMED = ("%d-%b-%Y", "%d %b %Y", "%d-%b-%y", "%d %B %Y", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S",
                       "%Y-%m-%d %H:%M:%S", "%b %d, %Y", "%B %d, %Y", "%d-%B-%Y", "%Y/%m/%d", "%Y.%m.%d",
                       "%b %d %Y", "%B %d %Y")



# A day written as an ordinal: 3rd Oct 2026, October 3rd, 2026.
_ORDINAL_DAY = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b", re.IGNORECASE)



# 14/10/2026, and as Excel writes a date and time to CSV: 14/10/2026 13:45 (the time is left out).
_NUMERIC_DATE = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp][Mm])?)?$")



_SLASH_DATE = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}\b")



MIXED_ORDER = "dates mix day-first and month-first"



def order_per_client(dates: pd.Series, clients: pd.Series) -> tuple[np.ndarray, str] | None:
    """A merged export of UK and US clients: each client's dates in its own order, when each
    client's dates read one way only. Per row: day first or not; and a note naming the clients
    read month first."""
    codes, names = pd.factorize(clients.astype("str"), sort=True)
    orders = []
    for code in range(len(names)):
        first, note = infer_dayfirst(dates[codes == code].reset_index(drop=True))
        if note.startswith(MIXED_ORDER):
            return None  # one client's own dates disagree: no order per client helps
        orders.append(first)
    month_first = [str(n) for n, first in zip(names, orders) if not first]
    if not month_first or len(month_first) == len(names):
        return None
    shown = ", ".join(month_first[:5]) + (" and others" if len(month_first) > 5 else "")
    return (np.array(orders, dtype=bool)[codes],
            f"dates differ by client: read month first for {shown} (a date like 10/31 appears), day first for the rest")



def dates_in_order(values: pd.Series, dayfirst: bool | None, per_client: np.ndarray | None) -> pd.Series:
    if per_client is None:
        return parse_dates(values, dayfirst)
    return parse_dates(values, True).where(per_client, parse_dates(values, False))



def infer_dayfirst(dates: pd.Series) -> tuple[bool, str]:
    """Day first unless a date in the file can only be month first (e.g. 10/31/2026)."""
    distinct = used_text(dates) if is_categorical(dates) else dates.drop_duplicates()
    parts = distinct.str.extract(_SLASH_DATE).dropna().astype(int)
    if parts.empty:
        return True, ""
    # Evidence is a date that reads one way only: 31/10 day first, 10/31 month first. 32/13 reads
    # neither way (left to the unreadable-dates note), so it says nothing about the order.
    first, second = parts[0], parts[1]
    day_first_only = bool(((first > 12) & (first <= 31) & second.between(1, 12)).any())
    month_first_only = bool(((second > 12) & (second <= 31) & first.between(1, 12)).any())
    if month_first_only and not day_first_only:
        return False, "dates read month first (a date like 10/31 appears)"
    if day_first_only and month_first_only:
        return True, f"{MIXED_ORDER}; read day first, use --monthfirst if wrong"
    if not day_first_only:
        return True, "every date is ambiguous (day and month both 12 or less); read day first, use --monthfirst if wrong"
    return True, ""



def parse_dates(values: pd.Series, dayfirst: bool | None) -> pd.Series:
    """Dates as written by Dext, by spreadsheets in either order, or as Excel date cells.
    Each distinct value is parsed once: a month of items has few distinct dates."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = [_parse_date(u, dayfirst is not False) for u in uniques] + [None]
    table = np.array([np.datetime64(d, "ns") if d else _NAT for d in parsed], dtype="datetime64[ns]")
    return pd.Series(table[codes], dtype="datetime64[ns]")



_NAT = np.datetime64("NaT", "ns")



def _parse_date(value: object, dayfirst: bool) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 20000 < value < 80000:
        return dt.datetime(1899, 12, 30) + dt.timedelta(days=int(value))  # an Excel serial date
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    numeric = _NUMERIC_DATE.match(text)
    if numeric:  # the usual export: 06/10/2026; strptime for it is slow to fail on other formats
        first, second, year = int(numeric[1]), int(numeric[3]), int(numeric[4])
        day, month = (first, second) if dayfirst else (second, first)
        try:
            return dt.datetime(year, month, day)
        except ValueError:
            return None
    ordered = _DATE_FORMATS_DAYFIRST if dayfirst else _DATE_FORMATS_MONTHFIRST
    text = _ORDINAL_DAY.sub(r"\1", text)
    for fmt in (*_DATE_FORMATS_NAMED, *ordered):
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None



def readable_date(text: str) -> str:
    """A date as a message wrote it (31-Mar-2026, 2026-03-31, 30/09/2026) in the reports' one
    form, 31 Mar 2026; as written when reading it day first and month first disagree (03/04/2026:
    March or April?) or it is no date."""
    readings = {d for d in (_parse_date(text, True), _parse_date(text, False)) if d is not None}
    return readings.pop().strftime("%d %b %Y").lstrip("0") if len(readings) == 1 else text
