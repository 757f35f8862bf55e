"""Month end as a workflow: which clients a run shows and in what state, and what carried over
from the last run (the bookkeepers' tracking, the items that cleared).

Pure functions over what the run read and what the state store holds; the pipeline fetches the
one and writes the other.
"""

from __future__ import annotations

import difflib
import math

import numpy as np
import pandas as pd

from analyzer.catalog import Catalog
# raised here; defined where the CLI can name them cheaply
from analyzer.errors import NothingForThePeriod, UnknownClient  # noqa: F401
from analyzer.normalise import Batch, name_key  # noqa: F401  (name_key: one rule for both stages)
from analyzer.report_model import CLEAN, CLEARED, EXPORT_MISSING, FAILING, ClearedItem, Tracking
from analyzer.tracking import RowTracking


def covered_clients(batch: Batch) -> tuple[set[str], bool]:
    """Clients some input stands for (a per-client file or sheet, with rows or without), and
    whether any input is a practice-wide export with a client column (in which a client with
    nothing failing simply does not appear)."""
    covered = {t.client for t in batch.tables if t.client and not t.merged}
    return covered, any(t.merged for t in batch.tables)


def merged_clients(batch: Batch) -> set[str]:
    """Clients with rows in a practice-wide export."""
    fields = batch.fields
    clients: set[str] = set()
    for table in (t for t in batch.tables if t.merged):  # a few tables: compared, not turned into text
        rows = (fields["source_file"] == table.source_file) & (fields["sheet"] == table.sheet)
        clients.update(str(c) for c in pd.unique(fields.loc[rows, "client"]))
    return clients


def client_states(present: set[str], covered: set[str], merged: bool, roster: set[str],
                  previous: frozenset[str], unreadable: set[str] = frozenset(),
                  last_export: dict[str, str] | None = None) -> dict[str, str]:
    """Every client's state: failing (rows this run), clean (its export has no failed rows),
    cleared (had items last run, none now), export missing (expected, and no export came, or
    its own export could not be read: never taken as good news).

    A practice-wide export lists only failed items, so a client it does not hold may have
    nothing failing. When every export is practice-wide that is taken as so, but for a client
    that sent its own file before (`last_export` "own"): its file did not come, whatever the
    practice-wide export holds. When some clients send their own files too, the practice-wide
    export vouches only for the clients it held before (`last_export` "merged"); a client whose
    own file did not come, or one no export has ever held, is missing."""
    only_merged = merged and not covered
    last_export = last_export or {}
    states = {}
    for client in sorted(present | covered | roster, key=lambda name: (name.casefold(), name)):
        kind = last_export.get(client, "")
        if client in present:
            states[client] = FAILING
        elif client in unreadable:
            states[client] = EXPORT_MISSING
        elif client in covered or (merged and (kind == "merged" or (only_merged and kind != "own"))):
            states[client] = CLEARED if client in previous else CLEAN
        else:
            states[client] = EXPORT_MISSING
    return states


def kept_from_earlier(earlier: dict[str, tuple[str, str]], period: str, reported: set[str], merged: bool,
                      unreadable: set[str]) -> tuple[tuple[str, ...], str]:
    """The clients to report when this period was reported before: all of them (), unless some
    client reported then from an export has none in this run (a late export run alone), when
    only this run's clients are reported (an export that came and could not be read among them:
    it is shown unreadable) and the others keep the period's earlier report, and a note saying
    so. A client the practice-wide export spoke for then is spoken for by this run's, when it
    has one (clean or cleared by its absence from it). A run with nothing of any of them is
    refused: what would it report? `earlier`: the period's record (client -> state, export)."""
    came = reported | (unreadable & set(earlier))
    absent = sorted((c for c, (state, export) in earlier.items()
                     if state != EXPORT_MISSING and c not in came and not (merged and export == "merged")),
                    key=str.casefold)
    if not absent:
        return (), ""
    if not came:
        raise NothingForThePeriod(
            f"{period} was reported before, and this run has no export of any client it holds ({len(absent)}):"
            f" its report is kept as it is; to replace it with this run's exports, run again with --replace")
    names = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
    return tuple(sorted(came)), (
        f"{len(absent)} client(s) reported earlier for {period} have no export in this run and keep that"
        f" report ({names}); to replace the period's report with this run's exports alone, run again with --replace")


def export_kinds(states: dict[str, str], covered: set[str], merged_rows: set[str],
                 last_export: dict[str, str]) -> dict[str, str]:
    """How each client's export came this run, for next month's `client_states`: "own" when a
    file or sheet of its own came, "merged" when only a practice-wide export held it (with rows,
    or vouching for it), else what was known before."""
    kinds = {}
    for client, state in states.items():
        if client in covered:
            kinds[client] = "own"
        elif client in merged_rows or (state in (CLEAN, CLEARED)):
            kinds[client] = "merged"
        else:
            kinds[client] = last_export.get(client, "")
    return kinds


def canonical_names(this_run: set[str], known: set[str], expected: tuple[str, ...],
                    aliases: dict[str, str]) -> dict[str, str]:
    """Each name this run or the history holds -> the one spelling the practice uses: the
    config's, else the history's (the name the work was recorded under), else this run's. Aliases
    rename old names too, so a client renamed in the config keeps its history and tracking."""
    by_alias = {name_key(k): v for k, v in aliases.items()}
    preferred: dict[str, str] = {}
    for name in sorted(this_run, key=_untidiness):  # of this run's spellings, the tidiest
        preferred.setdefault(name_key(name), " ".join(name.split()))
    for name in sorted(known, key=lambda n: (n.casefold(), n)):
        preferred[name_key(name)] = name
    for name in expected:
        preferred[name_key(name)] = name
    mapping = {}
    for name in this_run | known:
        target = by_alias.get(name_key(name), name)
        mapping[name] = preferred.get(name_key(target), target)
    # A sheet name cut at Excel's 31 characters ("Harbour View Dental Practice Lt") is the one
    # longer name it begins.
    longer = {name_key(n): n for n in (*this_run, *known, *expected) if len(" ".join(n.split())) > EXCEL_SHEET_NAME}
    for name in this_run:
        if len(name) == EXCEL_SHEET_NAME and name_key(name) not in by_alias:
            whole = [key for key in longer if key.startswith(name_key(name))]
            if len(whole) == 1:
                mapping[name] = preferred.get(whole[0], longer[whole[0]])
    return mapping


EXCEL_SHEET_NAME = 31  # the most characters Excel allows a sheet name


def _untidiness(name: str) -> tuple:
    """Sorts the spellings of one client tidiest first: 'Acme Plumbing Ltd' (a file name) before
    'ACME PLUMBING LTD' (a sheet name typed in capitals) or 'acme  plumbing ltd'."""
    one_case = name.isupper() or name.islower()
    return one_case, " ".join(name.split()) != name, name.casefold(), name


def check_wanted(wanted: tuple[str, ...], known: set[str]) -> set[str]:
    """The known clients a `--client` run asks for (without case); one line naming the closest
    known clients for a name that matches none."""
    by_fold = {k.casefold(): k for k in known}
    chosen = set()
    for name in wanted:
        if name.casefold() in by_fold:
            chosen.add(by_fold[name.casefold()])
            continue
        closest = difflib.get_close_matches(name.casefold(), list(by_fold), n=max(1, len(by_fold)), cutoff=0)
        listed = ", ".join(by_fold[c] for c in closest[:10]) or "none"
        more = f" (and {len(closest) - 10} more)" if len(closest) > 10 else ""
        raise UnknownClient(f"--client {name!r}: no such client; known clients, closest first: {listed}{more}")
    return chosen


def row_tracking_of(rows: np.ndarray, tracking: RowTracking | None) -> dict[int, Tracking]:
    """Each of a client's rows' tracking, as the report shows it."""
    if tracking is None:
        return {}
    result = {}
    for row in rows.tolist():
        aside = "dismissed" if tracking.dismissed[row] else "snoozed" if tracking.snoozed[row] else ""
        result[row] = Tracking(
            status=tracking.status[row] or "To do", assigned_to=tracking.assigned_to[row], note=tracking.note[row],
            snooze_until=tracking.snooze_until[row], flag=tracking.flags[row], aside=aside)
    return result


def cleared_items(cleared: pd.DataFrame, records: pd.DataFrame, catalog: Catalog) -> dict[str, tuple[ClearedItem, ...]]:
    """Per client, the items of the last run that are not failing now: what they were, the
    fixes they had, and who had them with what status."""
    if cleared.empty:
        return {}
    kept = records.drop_duplicates(["client", "item_key"]).set_index(["client", "item_key"])
    result: dict[str, list[ClearedItem]] = {}
    for row in cleared.itertuples(index=False):
        key = (row.client, row.item_key)
        record = kept.loc[key] if key in kept.index else None
        amount = None if row.amount is None or (isinstance(row.amount, float) and math.isnan(row.amount)) else float(row.amount)
        fixes = tuple(catalog.fixes[f].title if f in catalog.fixes else f for f in str(row.fixes).split("+") if f)
        result.setdefault(row.client, []).append(ClearedItem(
            item_id=str(row.item_id or ""), supplier=str(row.supplier or ""), date=str(row.date or ""),
            amount=amount, currency=str(row.currency or ""), fixes=fixes,
            assigned_to=str(record["assigned_to"]) if record is not None else "",
            status=str(record["status"]) if record is not None else "",
        ))
    return {c: tuple(sorted(items, key=lambda i: (i.date, i.item_id))) for c, items in result.items()}


def shared_item_ids(clients: pd.Series, item_ids: pd.Series) -> str:
    """One line when Dext item ids appear under two or more clients: one client spelt two ways
    ("Harbour Lane Bakery" in the merged export, "... Ltd" in its own file) counts its items twice
    and doubles its value at risk. Dext's item ids are unique across a practice's clients.
    Worked on codes: a million ids are not turned into strings to find a few."""
    client_codes, client_names = pd.factorize(clients, sort=False)
    id_codes, ids = pd.factorize(item_ids, sort=False)
    named = id_codes >= 0
    blank = np.flatnonzero(pd.Index(ids).astype("str").str.strip() == "")
    named &= ~np.isin(id_codes, blank)
    pairs = np.unique(id_codes[named].astype(np.int64) * (len(client_names) + 1) + client_codes[named])
    per_id, counts = np.unique(pairs // (len(client_names) + 1), return_counts=True)
    shared = per_id[counts > 1]
    if not len(shared):
        return ""
    mine = pairs[np.isin(pairs // (len(client_names) + 1), shared)]
    spellings: dict[int, list[str]] = {}
    for pair in mine.tolist():
        spellings.setdefault(pair // (len(client_names) + 1), []).append(str(client_names[pair % (len(client_names) + 1)]))
    together = pd.Series([" and ".join(sorted(names)) for names in spellings.values()]).value_counts()
    listed = "; ".join(f"{who}: {n}" for who, n in list(together.items())[:3])
    return (f"{len(shared)} item id(s) appear under more than one client ({listed}): if they are one client spelt two"
            " ways, list one spelling as the other's alias in the config's [clients] (its items count twice now)")


def conflicting_repeats(fields: pd.DataFrame, duplicates: dict[int, int]) -> str:
    """One line when an item id is repeated within a client with another supplier or amount: a
    repeat is counted once, as its first row (`duplicates`: each repeat's row -> that first row,
    as the plan found them), so a different item under a reused id (a typing slip, two systems'
    numbers) would vanish from the counts and the value at risk unsaid."""
    if not duplicates:
        return ""
    repeats = np.fromiter(duplicates, dtype=np.int64, count=len(duplicates))
    firsts = np.fromiter(duplicates.values(), dtype=np.int64, count=len(duplicates))
    rows = np.concatenate([firsts, repeats])  # each group: its first row and its repeats
    group = np.concatenate([firsts, firsts])
    supplier = pd.factorize(fields["supplier"].iloc[rows].astype("str").str.strip().str.casefold().to_numpy())[0] \
        if "supplier" in fields else np.zeros(len(rows), dtype=np.int64)
    amount = fields["amount"].to_numpy(dtype="float64")[rows].round(2) if "amount" in fields else np.zeros(len(rows))
    kinds = pd.DataFrame({"group": group, "supplier": supplier, "amount": amount}).drop_duplicates() \
        .groupby("group", sort=True).nunique()
    differing = kinds.index[(kinds["supplier"] > 1) | (kinds["amount"] > 1)]
    if not len(differing):
        return ""
    first = int(differing[0])
    client, item = fields["client"].iat[first], fields["item_id"].iat[first]
    return (f"{len(differing)} item id(s) are listed more than once with another supplier or amount (first: {client},"
            f" id {item}): each is counted once, as its first row; check the export for a reused or mistyped id")
