"""The catalog of error categories and the fixes they share, loaded from TOML data.

The catalog is data (``catalog.toml`` in this package, plus any files a practice adds); this
module only loads and validates it, failing loudly on a broken reference so that a bad catalog
never reaches a month-end run.
"""

from __future__ import annotations

import re
import tomllib

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from analyzer.catalog_check import CatalogError, check_document, check_replacement, compile_linear

UNCLASSIFIED = "unclassified"
MANUAL_REVIEW = "manual-review"
WHO = {
    "bookkeeper": "Bookkeeper, in Dext",
    "adviser": "Adviser, in Xero",
    "client_admin": "The client's Xero admin",
}
# Plan order: a connection problem blocks every item, a setting blocks many, an item only itself.
SCOPES = ("connection", "settings", "item", "review")
# Shorthands a pattern may use, so that the catalog stays readable.
MACROS = {
    "{q}": r"""['"]?""",
    # Letters of any script ("Café", not "Caf"), read case-sensitively: \pL holds both cases already,
    # and RE2 folding the case of every letter of Unicode cost 29 ms a pattern in the Latin-1 set.
    "{code}": r"""['"]?(?P<{name}>(?-i:[\pL\pN][\pL\pN_./&-]*))['"]?""",
    # Before "category": not "tracking", nor "trackin" with its last letter dropped (RE2 has no look-behind).
    "{not_tracking}": r"(?:^|[^gn\s]|[^i]n|[^k]in)",
    # Before "connection": nothing, punctuation, an article or Xero; not another product ("Bank connection").
    "{no_other_product}": r"(?:^|[^\w\s]\s*|\b(?:the|your|a|an|our|its|this|that|xero)\s+)",
}


@dataclass(frozen=True)
class Variant:
    """A different fix for the rows that pass a row test, e.g. tax greater than the net amount."""

    when: str  # a name in ROW_TESTS
    title: str
    steps: tuple[str, ...]
    publishable: bool = True
    who: str = ""  # when another person acts than for the fix (entered by hand in Xero: the adviser)
    where: str = ""


# Row tests a variant may name. Each takes the typed rows and answers per row.
ROW_TESTS = {
    "tax_exceeds_net": lambda rows: (rows["tax"] > rows["amount"] - rows["tax"]).fillna(False),
}


@dataclass(frozen=True)
class Fix:
    id: str
    title: str
    who: str
    where: str
    scope: str
    steps: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    publishable: bool = True
    clears_publishing_data: bool = False
    group_by: str = ""  # extracted value that makes one action per distinct value
    variants: tuple[Variant, ...] = ()
    transient: bool = False  # clears by itself (rate limit, outage): publish again later
    # For the client's own Xero admin ("What we need from you"): why, and only their steps, in plain
    # words; the practice's steps (in Dext, publishing again) stay with the practice.
    client_why: str = ""
    client_steps: tuple[str, ...] = ()
    blocks: bool = False  # stops the client's publishing (connection, plan, permission): a red light
    in_xero: bool = False  # the transaction is already in Xero: its amount is not at risk

    @property
    def who_label(self) -> str:
        return WHO[self.who]

    @property
    def rank(self) -> int:
        return SCOPES.index(self.scope)


@dataclass(frozen=True)
class Category:
    id: str
    title: str
    cause: str
    fix: str
    seed: bool
    patterns: tuple[re.Pattern[str], ...]
    extracts: tuple[str, ...]
    examples: tuple[str, ...]
    near_misses: tuple[str, ...]
    seed_wording: str = ""
    cues: tuple[Cue, ...] = ()
    cue_blockers: object | None = None  # one compiled pattern: any of these words vetoes the cues


@dataclass(frozen=True)
class Cue:
    """Key words of a category: a message the patterns miss that holds a word of every group
    (and none of the category's blockers) reads as that category. Written in the catalog as
    "account|category ; archived|deleted" (groups split by ";", alternatives by "|", a trailing
    "*" for any ending: "archiv*")."""

    text: str
    groups: tuple  # one compiled pattern per group




@dataclass(frozen=True)
class Mask:
    name: str
    pattern: re.Pattern[str]
    replace: str


@dataclass(frozen=True)
class Catalog:
    categories: tuple[Category, ...]
    fixes: dict[str, Fix]
    masks: tuple[Mask, ...]
    noise: tuple[re.Pattern[str], ...]
    sources: tuple[str, ...] = field(default=())
    # Said once per run: a practice's file replacing a category of an earlier file (by its id).
    notes: tuple[str, ...] = field(default=())
    # Other ledgers' names and their own error names (one compiled pattern, or None): a message
    # holding one and not naming Xero is another ledger's error, which no category here fixes.
    other_ledgers: object | None = None

    def category(self, category_id: str) -> Category:
        return self._by_id()[category_id]

    @property
    def value_names(self) -> tuple[str, ...]:
        """Every value any category extracts, in catalog order: the classify output columns."""
        names: dict[str, None] = {}
        for category in self.categories:
            names.update(dict.fromkeys(category.extracts))
        return tuple(names)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(c.id for c in self.categories)

    def _by_id(self) -> dict[str, Category]:
        return {c.id: c for c in self.categories}


def default_catalog_text() -> str:
    # Beside this module (importlib.resources would cost `explain` several milliseconds to import).
    return (Path(__file__).parent / "catalog.toml").read_text(encoding="utf-8")


@cache
def load_default_catalog() -> Catalog:
    return build_catalog([("catalog.toml", tomllib.loads(default_catalog_text()))], trusted=1)


def load_catalog(extra_files: list[Path] | tuple[Path, ...] = ()) -> Catalog:
    """The built-in catalog with a practice's own files layered on top, in the order given."""
    if not extra_files:
        return load_default_catalog()
    documents = [("catalog.toml", tomllib.loads(default_catalog_text()))]
    for path in extra_files:
        try:
            documents.append((str(path), tomllib.loads(Path(path).read_text(encoding="utf-8"))))
        except OSError as exc:
            raise CatalogError(f"{path}: cannot read catalog file ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"{path}: not valid TOML ({exc})") from None
    return build_catalog(documents, trusted=1)


def build_catalog(documents: list[tuple[str, dict]], trusted: int = 0) -> Catalog:
    """Merge catalog documents: a later entry with an existing id replaces the earlier one in
    place (keeping match order); a new category is matched before the built-in ones, so a
    practice's specific rule wins over a general built-in one.

    The first `trusted` documents (the built-in catalog, whose tests compile and check every
    pattern) have their category patterns and key words compiled when first used rather than
    here: compiling all of them was a fifth of `explain`'s time. A practice's file is checked
    whole as it loads, so a bad pattern is one line at once."""
    fixes: dict[str, Fix] = {}
    categories: dict[str, Category] = {}
    masks: list[Mask] = []
    noise: list[re.Pattern[str]] = []
    ledgers: dict[str, None] = {}  # other ledgers' names, every file's
    origins: dict[str, str] = {}  # category id -> the file it comes from
    notes: list[str] = []
    for index, (source, doc) in enumerate(documents):
        check_document(source, doc)
        for raw in doc.get("fix", []):
            fix = _build_fix(source, raw)
            fixes[fix.id] = fix
        new: dict[str, Category] = {}
        for raw in doc.get("category", []):
            category = _build_category(source, raw, deferred=index < trusted)
            if category.id in categories:
                notes.append(f"{source}: category {category.id!r} replaces the one of {origins[category.id]}"
                             f" ({categories[category.id].title!r}); give it another id to add a category instead")
                categories[category.id] = category
            else:
                new[category.id] = category
            origins[category.id] = source
        categories = {**new, **categories} if index else {**categories, **new}
        masks.extend(_build_mask(source, raw) for raw in doc.get("mask", []))
        noise.extend(_compile(source, "noise", p) for p in doc.get("noise", {}).get("patterns", []))
        other = doc.get("other_ledgers", {})
        ledgers.update(dict.fromkeys(_ledger_names(source, [*other.get("names", []), *other.get("wordings", [])])))
    catalog = Catalog(
        categories=tuple(categories.values()),
        fixes=fixes,
        masks=tuple(masks),
        noise=tuple(noise),
        sources=tuple(source for source, _ in documents),
        notes=tuple(notes),
        other_ledgers=_words_pattern("catalog", "other_ledgers", list(ledgers), deferred=True) if ledgers else None,
    )
    _check_references(catalog, origins)
    return catalog


def _ledger_names(source: str, names: list[str]) -> list[str]:
    if not all(name.strip() for name in names):
        raise CatalogError(f"{source}: other_ledgers: names and wordings hold an empty one")
    return [name.strip().lower() for name in names]


def _build_fix(source: str, raw: dict) -> Fix:
    where = f"fix {raw.get('id', '?')!r}"
    _check_keys(source, where, raw, {f.name for f in Fix.__dataclass_fields__.values()})
    _require(source, where, raw, ("id", "title", "who", "where", "scope", "steps"))
    if raw["who"] not in WHO:
        raise CatalogError(f"{source}: {where}: who must be one of {', '.join(WHO)}")
    if raw["scope"] not in SCOPES:
        raise CatalogError(f"{source}: {where}: scope must be one of {', '.join(SCOPES)}")
    variants = tuple(_build_variant(source, where, v) for v in raw.get("variants", ()))
    return Fix(**{**raw, "steps": tuple(raw["steps"]), "warnings": tuple(raw.get("warnings", ())),
                  "client_steps": tuple(raw.get("client_steps", ())), "variants": variants})


def _build_variant(source: str, where: str, raw: dict) -> Variant:
    _check_keys(source, f"{where} variant", raw, {"when", "title", "steps", "publishable", "who", "where"})
    _require(source, f"{where} variant", raw, ("when", "title", "steps"))
    if raw["when"] not in ROW_TESTS:
        raise CatalogError(f"{source}: {where}: variant when must be one of {', '.join(ROW_TESTS)}")
    if raw.get("who", "bookkeeper") not in WHO:
        raise CatalogError(f"{source}: {where}: variant who must be one of {', '.join(WHO)}")
    return Variant(raw["when"], raw["title"], tuple(raw["steps"]), bool(raw.get("publishable", True)),
                   raw.get("who", ""), raw.get("where", ""))


def _build_category(source: str, raw: dict, deferred: bool = False) -> Category:
    where = f"category {raw.get('id', '?')!r}"
    allowed = {f.name for f in Category.__dataclass_fields__.values()}
    _check_keys(source, where, raw, allowed)
    _require(source, where, raw, ("id", "title", "cause", "fix", "patterns", "examples"))
    extracts = tuple(raw.get("extracts", ()))
    if deferred:
        patterns = tuple(Deferred(source, where, expand_macros(p)) for p in raw["patterns"])
    else:
        patterns = tuple(_compile(source, where, p) for p in raw["patterns"])
        _check_extracts(source, where, patterns, extracts)
    return Category(
        id=raw["id"],
        title=raw["title"],
        cause=raw["cause"],
        fix=raw["fix"],
        seed=bool(raw.get("seed", False)),
        patterns=patterns,
        extracts=extracts,
        examples=tuple(raw["examples"]),
        near_misses=tuple(raw.get("near_misses", ())),
        seed_wording=raw.get("seed_wording", ""),
        cues=tuple(_build_cue(source, where, text, deferred) for text in raw.get("cues", ())),
        cue_blockers=_words_pattern(source, where, raw["cue_blockers"], deferred) if raw.get("cue_blockers") else None,
    )


# Columns classification adds beside the values a category extracts: a value may not take a name of one.
OUTPUT_COLUMNS = ("source_file", "sheet", "source_row", "client", "error", "categories", "fixes", "template", "match",
                  "confidence")


def _check_extracts(source: str, where: str, patterns, extracts: tuple[str, ...]) -> None:
    if taken := [name for name in extracts if name.casefold() in OUTPUT_COLUMNS]:
        raise CatalogError(f"{source}: {where}: extracts {', '.join(map(repr, taken))}: the name of an output"
                           f" column; rename the pattern's group (for example {taken[0]}_value)")
    groups = {name for p in patterns for name in p.groupindex}
    if unknown := groups - set(extracts):
        raise CatalogError(f"{source}: {where}: pattern group(s) {sorted(unknown)} not in extracts")
    if missing := set(extracts) - groups:
        raise CatalogError(f"{source}: {where}: extracts {sorted(missing)} captured by no pattern")


class Deferred:
    """A pattern of the built-in catalog, compiled (linear-time, as every pattern) when first
    used. `pattern` is its text, for the one RE2 set that scans a message for every category."""

    __slots__ = ("pattern", "_source", "_where", "_compiled")

    def __init__(self, source: str, where: str, pattern: str):
        self.pattern, self._source, self._where, self._compiled = pattern, source, where, None

    def compiled(self):
        if self._compiled is None:  # two threads may both compile it: the same result
            self._compiled = compile_linear(self._source, self._where, self.pattern)
        return self._compiled

    def search(self, text: str):
        return self.compiled().search(text)

    def finditer(self, text: str):
        return self.compiled().finditer(text)

    @property
    def groupindex(self):
        return self.compiled().groupindex


def _build_cue(source: str, where: str, text: str, deferred: bool = False) -> Cue:
    groups = [group.split("|") for group in text.split(";")]
    if not all(alternative.strip() for group in groups for alternative in group):
        raise CatalogError(f"{source}: {where}: cue {text!r} has an empty group or word")
    return Cue(text, tuple(_words_pattern(source, where, group, deferred) for group in groups))


def _words_pattern(source: str, where: str, words: list[str], deferred: bool = False):
    """Any of the words (or phrases) as whole words; a trailing "*" takes any ending."""
    def one(word: str) -> str:
        word = word.strip().lower()
        stem, any_ending = (word[:-1], True) if word.endswith("*") else (word, False)
        return r"\s+".join(re.escape(part) for part in stem.split()) + (r"\w*" if any_ending else "")
    pattern = r"\b(?:" + "|".join(one(w) for w in words) + r")\b"
    return Deferred(source, where, pattern) if deferred else compile_linear(source, where, pattern)


def _build_mask(source: str, raw: dict) -> Mask:
    where = f"mask {raw.get('name', '?')!r}"
    _require(source, where, raw, ("name", "pattern", "replace"))
    compiled = _compile(source, where, raw["pattern"])
    check_replacement(source, where, compiled, raw["replace"])
    return Mask(raw["name"], compiled, raw["replace"])


def expand_macros(pattern: str) -> str:
    """``{code:account_code}`` captures a code, quoted or not, as the named value; the other
    MACROS stand for their text."""
    pattern = re.sub(
        r"\{code:(\w+)\}", lambda m: MACROS["{code}"].replace("{name}", m.group(1)), pattern
    )
    for name, text in MACROS.items():
        if name != "{code}":
            pattern = pattern.replace(name, text)
    return pattern


def _compile(source: str, where: str, pattern: str):
    """Every pattern that runs over cell text is linear-time (RE2): see catalog_check."""
    return compile_linear(source, where, expand_macros(pattern))


def _check_keys(source: str, where: str, raw: dict, allowed: set[str]) -> None:
    if unknown := set(raw) - allowed:
        raise CatalogError(f"{source}: {where}: unknown key(s) {', '.join(sorted(unknown))}")


def _require(source: str, where: str, raw: dict, keys: tuple[str, ...]) -> None:
    if missing := [k for k in keys if not raw.get(k)]:
        raise CatalogError(f"{source}: {where}: missing {', '.join(missing)}")


def _check_references(catalog: Catalog, origins: dict[str, str]) -> None:
    ids = [c.id for c in catalog.categories]
    for category in catalog.categories:
        if category.fix not in catalog.fixes:
            raise CatalogError(f"{origins.get(category.id, 'catalog')}: category {category.id!r}: fix {category.fix!r}"
                               " is not defined; define it in a [[fix]] table or use a fix of the built-in catalog")
    if MANUAL_REVIEW not in catalog.fixes:
        raise CatalogError(f"the catalog must define the fix {MANUAL_REVIEW!r} for unclassified errors")
    if UNCLASSIFIED in ids:
        raise CatalogError(f"{UNCLASSIFIED!r} is built in; it cannot be a catalog category")
    for fix in catalog.fixes.values():
        users = [c for c in catalog.categories if c.fix == fix.id]
        lacking = [c for c in users if fix.group_by and fix.group_by not in c.extracts]
        if lacking:
            raise CatalogError(f"{origins.get(lacking[0].id, 'catalog')}: category {lacking[0].id!r} uses fix {fix.id!r},"
                               f" which groups by {fix.group_by!r}: extract it (extracts = [\"{fix.group_by}\"]) or"
                               " choose another fix")
