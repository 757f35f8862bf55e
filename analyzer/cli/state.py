"""history, clients and teach: the commands that read and change the practice's state store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TextIO

from analyzer.config import Config, find_config, load_config
from analyzer.errors import MissingExtra, StoreLocationError
from analyzer.store import Store
from analyzer.cli.common import EXIT_OK, UsageError, _load_catalog, _message



def _default_database(config: Path | None) -> Store | None:
    """The database the practice's other commands use, when there is one."""
    path = find_config(config, Path.cwd())
    candidate = _store(path)
    return candidate if candidate.exists() else None


def _database(args) -> Store:
    """--db, else the config's database, else reports/history.sqlite; the practice key is the
    config's (analyzer.toml here, or --config)."""
    return _store(find_config(args.config, Path.cwd()), args.db)


def _aliased(args) -> str:
    """--client as the practice names the client: a spelling the config lists as an alias is its
    client's name."""
    if not args.client:
        return ""
    config = find_config(args.config, Path.cwd())
    aliases = load_config(config).client_aliases if config else {}
    return aliases.get(args.client.casefold(), args.client)


def _store(config: Path | None, location: str | None = None) -> Store:
    settings = load_config(config) if config else None
    if settings is not None and not location:
        return configured_store(settings)
    return Store(location or Path("reports") / "history.sqlite", settings.practice_key if settings else "")


def configured_store(settings: Config) -> Store:
    """The config's database; a location it cannot use is named with the config file and key."""
    try:
        return Store(settings.database(), settings.practice_key)
    except (StoreLocationError, MissingExtra) as exc:
        raise type(exc)(f"{settings.source}: database {exc}") from None


def _teach(args, stdout, stderr) -> int:
    from analyzer import taught

    db = _database(args)
    catalog = _load_catalog(args.catalog, stderr)
    if args.list:
        table = taught.listing(db)
        if table.empty:
            stdout.write(f"Nothing taught yet in {db}.\n")
        for row in table.itertuples(index=False):
            stdout.write(f"{row.category:<30} {row.template}\n{'':<30} taught {row.taught_at[:10]} from: {row.message}"
                         f"{f' ({row.source})' if row.source != 'teach command' else ''}\n")
        return EXIT_OK
    message = _message(args.message, args.stdin, stderr) if args.message else ""
    if not message:
        raise UsageError("publish-failures teach: give the error message, quoted, and a category (see --help)")
    if args.forget:
        done = taught.forget(db, message, catalog, dt.datetime.now().replace(microsecond=0))
        stdout.write(f"Forgotten (in {db}).\n" if done else f"Nothing was taught for that message in {db}.\n")
        return EXIT_OK
    category = _category_named(args.category, catalog)
    _not_recognised_already(message, catalog)
    template = taught.teach(db, message, category, catalog, dt.datetime.now().replace(microsecond=0), "teach command")
    stdout.write(f"Taught: messages like {template!r} are {catalog.category(category).title} [{category}]"
                 f" (in {db}).\n")
    return EXIT_OK


def _not_recognised_already(message: str, catalog) -> None:
    """Teaching a message the catalog's patterns claim would do nothing (patterns decide before
    taught errors): a usage error saying what it is read as, not 'Taught'."""
    from analyzer.classify import SecondStage, classify_cell

    findings = classify_cell(message, catalog, second=SecondStage(similarity=False))
    if findings and all(f.match == "pattern" for f in findings):
        read_as = ", ".join(f"{catalog.category(f.category).title} [{f.category}]" for f in findings)
        raise UsageError(f"publish-failures teach: the catalog already recognises this message as {read_as};"
                         " nothing taught (teaching is for messages it does not recognise; to read it otherwise,"
                         " add a catalog file with --catalog)")


def _category_named(name: str, catalog) -> str:
    """A category by id or title (without case); a usage error naming the known ids, closest first."""
    import difflib

    known = {c.id.casefold(): c.id for c in catalog.categories} | {c.title.casefold(): c.id for c in catalog.categories}
    if name.strip().casefold() in known:
        return known[name.strip().casefold()]
    ids = [c.id for c in catalog.categories]
    closest = difflib.get_close_matches(name.casefold(), ids, n=len(ids), cutoff=0)
    raise UsageError(f"publish-failures teach: {name!r} is no category; categories, closest first: "
                     f"{', '.join(closest[:12])}{' …' if len(closest) > 12 else ''}")


def _clients(args, stdout, stderr) -> int:
    from analyzer.history import NoSuchClient, retire, roster

    db = _database(args)
    if args.retire or args.restore:
        try:
            name = retire(db, args.retire or args.restore, dt.datetime.now().replace(microsecond=0),
                          restore=bool(args.restore))
        except NoSuchClient as exc:
            raise UsageError(f"publish-failures: {exc.args[0]}") from None
        stdout.write(f"{name}: {'retired: left out of the index until an export of it comes again' if args.retire else 'restored'}\n")
        config = find_config(args.config, Path.cwd())
        from analyzer.normalise import name_key  # one rule for what makes two spellings one client

        named = {name_key(n) for n in load_config(config).clients} if config and args.retire else set()
        if name_key(name) in named:  # the config's [clients] keep a client in the index, retired or not
            stdout.write(f"{name}: {config} names it under [clients], so it stays in the index (its export missing"
                         " when none comes) until it is taken out of the config\n")
        return EXIT_OK
    table = roster(db)
    if args.json:
        json.dump(_records(table.assign(retired=table["retired"].astype(bool))), stdout, indent=2, ensure_ascii=False)
        stdout.write("\n")
        return EXIT_OK
    width = max([len("Client"), *map(len, table["client"])])
    # Failing: in Dext then; to fix: as the index counted them (dismissed and snoozed items left out).
    stdout.write(f"{'Client'.ljust(width)}  Last period     State            Failing  To fix  Retired\n")
    for row in table.itertuples(index=False):
        from analyzer.report_model import EXPORT_MISSING, STATE_WORDS

        state = STATE_WORDS.get(row.last_state, row.last_state)
        # No export: how many fail is not known, which is not none
        failing, to_fix = ("—", "—") if row.last_state == EXPORT_MISSING else (row.items, row.to_fix)
        stdout.write(f"{row.client.ljust(width)}  {row.last_period:<14}  {state:<15}  {failing:>7}"
                     f"  {to_fix:>6}  {'yes' if row.retired else ''}".rstrip() + "\n")
    return EXIT_OK


def _history(args, stdout, stderr) -> int:
    db = _database(args)
    from analyzer.history import items as history_items
    from analyzer.history import summary as history_summary

    from analyzer.history import states as history_states

    client = _aliased(args)
    counts, recurring = history_summary(db, client)
    client_states = history_states(db, client)
    recorded = history_items(db, client) if args.items else None
    if client and counts.empty and client_states.empty:  # a misspelt name: a usage error, --json or not
        from analyzer.history import known_clients
        from analyzer.workflow import check_wanted

        check_wanted((client,), known_clients(db))
    if args.json:
        data = {"runs": _records(counts), "states": _records(client_states), "recurring": _records(recurring)}
        if recorded is not None:
            data["items"] = _records(recorded)
        json.dump(data, stdout, indent=2)
        stdout.write("\n")
        return EXIT_OK
    if counts.empty and client_states.empty:
        stdout.write(f"No runs recorded{' for ' + client if client else ''} in {db}.\n")
        return EXIT_OK
    stdout.write(f"Failed items per client per run ({db})\n")
    labels = dict(zip(client_states["slug"], client_states["period"])) | dict(zip(counts["slug"], counts["period"]))
    _write_runs(stdout, counts, labels, recorded, client_states)
    if not recurring.empty:
        stdout.write(f"\nItems failing in more than one run ({len(recurring)})\n")
        _write_recurring(stdout, recurring.head(RECURRING_SHOWN), labels)
        if len(recurring) > RECURRING_SHOWN:
            stdout.write(f"\n... and {len(recurring) - RECURRING_SHOWN} more (use --json for all)\n")
    return EXIT_OK


RECURRING_SHOWN = 200


def _records(frame) -> list[dict]:
    """Rows for JSON: missing values (SQL NULL, NaN) as null, never as the invalid NaN."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _text(value) -> str:
    return "" if value is None or value != value else str(value)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _aligned(rows: list[tuple[str, ...]], right: tuple[int, ...] = ()) -> list[str]:
    """Rows of cells as lines in aligned columns (the columns in `right` aligned right)."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["   ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
            for row in rows]


def _item_name(row) -> str:
    return _text(row.item_id) or _text(row.item_key)


def _categories(text) -> str:
    return _text(text).replace("+", ", ")


def _write_runs(stdout: TextIO, counts, labels: dict[str, str], recorded, client_states) -> None:
    """Per client a block: its name, then each period it was in, its number of items (0 for a
    run that recorded none of the client's items) and, where the run says, why none (clean,
    cleared, export missing); with `recorded`, each period's items below it."""
    slugs = sorted(labels)
    per_client = {client: dict(zip(part["slug"], part["items"])) for client, part in counts.groupby("client", sort=True)}
    for client in client_states["client"]:
        per_client.setdefault(client, {})
    per_client = dict(sorted(per_client.items()))
    from analyzer.report_model import FAILING, STATE_WORDS

    # Why a run recorded no failing items of a client (a failing run needs no word: it has items).
    state_of = {key: STATE_WORDS.get(state, "") for key, state in
                zip(zip(client_states["client"], client_states["slug"]), client_states["state"]) if state != FAILING}
    # Only the runs a client was in: before it joined, after it was retired, or in a run for other
    # clients only, it has no line ("0 items" there said nothing true; --client and --json agree).
    # A run recorded without its roster (an older database) cannot say who was in it: all shown.
    present = set(zip(counts["client"], counts["slug"])) | set(zip(client_states["client"], client_states["slug"]))
    with_roster = set(client_states["slug"])
    keys = [(client, slug) for client in per_client for slug in slugs
            if (client, slug) in present or slug not in with_roster]
    numbers = [str(int(per_client[client].get(slug, 0))) for client, slug in keys]
    width = max((len(n) for n in numbers), default=1)
    cells = [(labels[key[1]], f"{n.rjust(width)} {'item' if n == '1' else 'items'}", state_of.get(key, ""))
             for key, n in zip(keys, numbers)]
    lines = dict(zip(keys, _aligned(cells)))
    items_of: dict[tuple[str, str], list[str]] = {}
    if recorded is not None and not recorded.empty:
        rows = [(_item_name(r), _text(r.supplier), _text(r.date), _amount(r.amount, r.currency), _categories(r.categories))
                for r in recorded.itertuples(index=False)]
        for key, line in zip(zip(recorded["client"], recorded["slug"]), _aligned(rows, right=(3,))):
            items_of.setdefault(key, []).append(line)
    for client in per_client:
        stdout.write(f"\n{client}\n")
        for slug in slugs:
            if (client, slug) not in lines:
                continue
            stdout.write(f"  {lines[(client, slug)]}\n")
            for line in items_of.get((client, slug), ()):
                stdout.write(f"      {line}\n")


def _amount(amount, currency) -> str:
    if amount is None or amount != amount:
        return _text(currency)
    return f"{float(amount):,.2f} {_text(currency)}".rstrip()


def _write_recurring(stdout: TextIO, recurring, labels: dict[str, str]) -> None:
    """Per client a block: each item's id (or key), supplier, runs, first and last period, categories."""
    def period(slug) -> str:
        return labels.get(slug, _text(slug))

    rows = [(_item_name(r), _text(r.supplier), _plural(int(r.runs), "run"),
             f"{period(r.first_period)} to {period(r.last_period)}", _categories(r.categories))
            for r in recurring.itertuples(index=False)]
    blocks: dict[str, list[str]] = {}
    for client, line in zip(recurring["client"], _aligned(rows, right=(2,))):
        blocks.setdefault(client, []).append(line)
    for client in sorted(blocks):
        stdout.write(f"\n{client}\n")
        for line in blocks[client]:
            stdout.write(f"  {line}\n")
