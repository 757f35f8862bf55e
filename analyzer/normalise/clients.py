"""Whose rows they are: the client column, else the sheet or file name without what exports and
copying add to it; one spelling per client."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from analyzer.cells import change_text, passes, with_text
from analyzer.columns import header_key
from analyzer.normalise.model import Options
from analyzer.normalise.text import empty_text


_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")



# A period as people name tabs and files: Oct 2026, October, Oct26, 2026-10, 10.2026, Q3, FY26.
_PERIOD = rf"(?:{_MONTH}\.?(?:[\s_\-']*\d{{2,4}})?|q[1-4](?:[\s_\-]*\d{{2,4}})?|fy\d{{2,4}}|\d{{1,4}}(?:[-_.]\d{{1,4}}){{0,2}})"



_GENERIC_SHEET = re.compile(
    rf"^(?:sheet|page|tabelle|feuil|hoja)\s*\d*$|^(?:data|export|errors?|items?|report|failed.*|publish.*|dext.*)"
    rf"(?:\s*\(?\d+\)?)?$|^{_PERIOD}(?:\s+{_PERIOD})?$", re.I
)



_FILE_NOISE = re.compile(
    rf"(?:[\s_\-–—]+(?:dext|xero|failed|failures?|publish(?:ing)?|errors?|items?|export(?:ed)?|report|{_PERIOD}))+$",
    re.I,
)



# What copying a file adds to its name: "Copy of ...", "... - Copy", "... copy", "... (2)", "... (Oct 2026)".
_COPY_MARKS = re.compile(rf"^copy of\s+|(?:\s*-?\s*copy(?:\s*\(\d+\))?|\s*\((?:\d+|{_PERIOD}(?:\s+{_PERIOD})?)\))+$", re.I)



# A period before the name: only with its year or in digits ("May Foods Ltd" is a client).
_LEADING_PERIOD = re.compile(rf"^(?:(?:{_MONTH}\.?[\s_\-']*\d{{2,4}}|\d{{1,4}}(?:[-_.]\d{{1,4}}){{1,2}}|q[1-4][\s_\-]*\d{{2,4}})"
                             rf"[\s_\-–—]+)+", re.I)



# Invisible characters: bidirectional controls (an RTL override can make a name display as another)
# and zero-width ones (a zero-width space made a second "Beta Ltd" that looked the same).
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                                        "\u200b\u200c\u200d\u2060\ufeff\u00ad"))



# What a client cell holds when it names no client.
_NO_CLIENT = frozenset({"-", "--", "–", "—", "n/a", "na", "#n/a", "none", "null", "nil", "?", "unknown", "tbc"})



def tidy_client_name(name: str) -> str:
    """One spelling per name: Unicode NFC (Café from a Mac is Café from Windows), without the
    invisible bidirectional controls that can make a name display as another (an RTL override)."""
    if name.isascii():
        return name
    return unicodedata.normalize("NFC", name).translate(_BIDI_CONTROLS)



def _plain_ascii(text: pd.Series) -> pd.Series:
    return text.map(str.isascii)



def fallback_client(path: str, sheet_name: str | None, sheet_count: int, options: Options) -> str:
    """The client of rows with no client cell: --client, else the sheet name, else the file name
    without export noise, else the folder name; aliases applied."""
    if options.client:
        name = options.client
    elif sheet_name and not (_GENERIC_SHEET.match(sheet_name.strip()) or (sheet_count == 1 and _is_file_like(sheet_name, path))):
        name = sheet_name.strip()
    else:
        name = client_from_path(path)
    name = tidy_client_name(name)
    return {k.casefold(): v for k, v in options.client_aliases.items()}.get(name.casefold(), name)



NOT_STATED = "Client not stated"



def name_key(name: str) -> str:
    """What makes two spellings of a client one client: Unicode form (Café typed on a Mac or
    on Windows), accents (Lumière, Lumiere), letter case, spacing and a closing full stop
    (Acme Ltd.) do not."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_BIDI_CONTROLS))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split()).rstrip(".").rstrip()



def client_names(values: pd.Series, path: str, sheet_name: str | None, sheet_count: int, options: Options,
                 header: str = "", rows: pd.Series | None = None) -> tuple[pd.Series, str]:
    """Client column, else sheet name, else file name without export noise, else folder name;
    and a note when rows of a practice-wide export (a client column naming other clients) have
    no client: those are put under NOT_STATED, not passed off as a client named after the file."""
    fallback = fallback_client(path, sheet_name, sheet_count, options)
    names = values if not options.client else empty_text(len(values))
    empty = (names == "").to_numpy(dtype=bool) | passes(names, lambda t: t.str.strip().str.casefold().isin(_NO_CLIENT))
    note = ""
    if empty.any():  # else the column itself, not a copy
        named = [str(n) for n in pd.unique(names[~empty])] if not empty.all() else []
        if len(named) > 1 or (named and name_key(named[0]) != name_key(fallback)):
            where = f"row {int(rows.iat[int(np.flatnonzero(empty)[0])])}" if rows is not None else "a row"
            note = (f"column {header!r}: {int(empty.sum())} row(s) name no client (first: {where}); they are"
                    f" shown under {NOT_STATED!r}: fill in the client")
            fallback = NOT_STATED
        names = with_text(names, empty, fallback)
    if not passes(names, _plain_ascii).all():
        names = change_text(names, lambda text: text.map(tidy_client_name))
    if options.client_aliases:
        aliases = {k.casefold(): v for k, v in options.client_aliases.items()}
        names = change_text(names, lambda text: text.map(lambda n: aliases.get(n.casefold(), n)))
    return names, note



def _is_file_like(sheet_name: str, path: str) -> bool:
    return header_key(sheet_name) in header_key(path)



def client_from_path(path: str) -> str:
    """`Acme Plumbing Ltd - failed items Oct 2026.csv` -> `Acme Plumbing Ltd`."""
    parts = re.split(r"[\\/]", path)
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", parts[-1]).replace("_", " ")
    for _ in range(3):  # "Copy of X - failed items Oct 2026 (1)": marks and noise, peeled in turn
        stem = _LEADING_PERIOD.sub("", _FILE_NOISE.sub("", _COPY_MARKS.sub("", stem.strip()))).strip(" -–—_.")
    name = stem
    if re.search(r"[A-Za-z]", name) and not re.fullmatch(r"(?i)(dext|xero|failed|export|errors?|items?)", name):
        return " ".join(name.split())
    folder = parts[-2] if len(parts) > 1 and parts[-2] not in ("", ".", "..") else "Unnamed client"
    return folder
