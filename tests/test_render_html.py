"""HTML reports: built from the real pipeline on the sample exports, then checked for what a
practice relies on: escaping, no scripts or outside resources, template overrides, headings,
anchors, unambiguous dates and money with its currency code."""

import datetime as dt
import re
from urllib.parse import quote
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from markupsafe import escape

from analyzer.pipeline import ReportSettings, analyse, client_jobs, run_report
from analyzer.render import build_report
from analyzer.errors import TemplateProblem
from analyzer import render_html
from analyzer.render_html import (
    client_html_bytes, date_range, environment, money_text, plural, render_client_html, render_index_html,
)
from analyzer.report_model import ActionLine, Money, format_date

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_exports"
RUN_DATE = dt.datetime(2026, 11, 3, 9, 0)
DATE = re.compile(r"^\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}$")


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def run(out):
    """The written run, with each client's full report (run_report returns summaries)."""
    settings = ReportSettings(out=out, formats=("html",), practice="Hartley & Cole")
    analysis = analyse([str(SAMPLES)])
    written = run_report(analysis, settings, RUN_DATE)
    plan = analysis.plan()
    report_date = dt.datetime.combine(RUN_DATE.date(), dt.time())
    jobs = client_jobs(analysis, plan, plan.clients, settings, written.overview.period, report_date)
    return replace(written, reports=tuple(build_report(job) for job in jobs))


@pytest.fixture(scope="module")
def pages(run, out):
    """Every client page as the pipeline wrote it, by client name."""
    return {r.client: (out / r.html_file).read_text(encoding="utf-8") for r in run.reports}


def text(value) -> str:
    """How a piece of model text appears in the page."""
    return str(escape(value))


@pytest.fixture(scope="module")
def busy(run):
    """The sample client with the most fix groups, made to show every kind of flag."""
    report = max(run.reports, key=lambda r: len(r.groups))
    first, second, *rest = report.groups
    items = list(first.items)
    items[0] = replace(items[0], in_approval=True, history="carried over", first_seen="September 2026")
    first = replace(first, publishable=False, approval_items=2, recurring=True,
                    warnings=("Void the Xero copy first.",) + first.warnings, items=tuple(items))
    lock = replace(second, value_name="lock_date", actions=(
        ActionLine("Lock date 30/09/2026", "30/09/2026", 3, (Money("GBP", 300.5),), dt.date(2026, 9, 2), dt.date(2026, 9, 28)),
    ))
    return replace(report, groups=(first, lock, *rest), new_items=4, carried_over=11, cleared=3, previous_items=14)


class Outline(HTMLParser):
    """Headings, ids, in-page links, links out, and the text of every date cell."""

    def __init__(self, html: str):
        super().__init__()
        self.headings, self.ids, self.anchors, self.hrefs, self.srcs = [], [], [], [], []
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.date_cells: list[str] = []
        self._in_date = False
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        attrs = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if "id" in attrs:
            self.ids.append(attrs["id"])
        href = attrs.get("href")
        if href is not None:
            (self.anchors if href.startswith("#") else self.hrefs).append(href)
        if "src" in attrs:
            self.srcs.append(attrs["src"])
        if tag == "td" and "num-dates" in (attrs.get("class") or "").split():
            self._in_date, self._text = True, []

    def handle_endtag(self, tag):
        if tag == "td" and self._in_date:
            self.date_cells.append("".join(self._text).strip())
            self._in_date = False

    def handle_data(self, data):
        if self._in_date:
            self._text.append(data)


# -- filters ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, currency, expected", [
    (Money("GBP", 1234.5), None, "GBP\u00a01,234.50"),  # a no-break space: never split on a narrow card
    (Money("EUR", -12), None, "EUR\u00a0-12.00"),
    (1234567.891, "USD", "USD\u00a01,234,567.89"),
    (0, "NZD", "NZD\u00a00.00"),
    (None, "GBP", ""),
])
def test_money_always_has_its_code(value, currency, expected):
    assert money_text(value, currency) == expected


@pytest.mark.parametrize("count, words, expected", [
    (1, ("item",), "1 item"), (2, ("item",), "2 items"), (0, ("item",), "0 items"),
    (1, ("fix", "fixes"), "1 fix"), (1200, ("row",), "1,200 rows"),
])
def test_plural(count, words, expected):
    assert plural(count, *words) == expected


@pytest.mark.parametrize("first, last, expected", [
    (dt.date(2026, 10, 3), dt.date(2026, 10, 3), "3 Oct 2026"),
    (dt.date(2026, 10, 3), dt.date(2026, 10, 28), "3 Oct 2026 – 28 Oct 2026"),
    (None, dt.date(2026, 8, 31), "31 Aug 2026"),
    (None, None, ""),
])
def test_date_range(first, last, expected):
    assert date_range(first, last) == expected


def test_one_environment_per_templates_folder(tmp_path):
    env = environment("")
    assert env is environment("")
    assert env.autoescape("x.html") and env.autoescape(None)
    assert environment(str(tmp_path)) is not env


# -- client pages from the sample exports ---------------------------------------------------------

def test_every_client_page_is_complete(run, pages):
    assert pages and len(pages) == len(run.reports)
    for report in run.reports:
        html = pages[report.client]
        assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
        assert '<html lang="en-GB">' in html
        assert f"<h1>{text(report.client)}</h1>" in html and text(report.status_label) in html
        assert f"Run on</dt><dd>{format_date(RUN_DATE)}" in html


def test_no_script_and_nothing_loaded_from_anywhere(run, pages):
    for report in run.reports:
        html = pages[report.client]
        outline = Outline(html)
        assert "<script" not in html.lower() and "script" not in outline.tags
        assert not [a for a in outline.attributes if a.startswith("on")], "no event handlers"
        assert "@import" not in html and "url(" not in html and "@font-face" not in html
        assert 'http-equiv="Content-Security-Policy"' in html
        links = {i.link for g in report.groups for i in g.items if i.link}
        assert links, "the samples have permalinks"
        assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= links
        pages_beside = {quote(report.asks_file)} if report.asks_file else set()
        assert all(h in links | pages_beside for h in outline.hrefs), "the only links are item permalinks"
        assert outline.srcs == [] and not outline.tags & {"img", "link", "iframe", "object", "embed"}


def test_headings_run_in_order(run, pages):
    for report in run.reports:
        levels = Outline(pages[report.client]).headings
        assert levels[0] == 1 and levels.count(1) == 1, report.client
        for before, after in zip(levels, levels[1:]):
            assert after <= before + 1, f"{report.client}: h{before} then h{after}"


def test_every_group_is_linked_from_the_order_list(run, pages):
    for report in run.reports:
        html = pages[report.client]
        order = html[html.index('<ol class="order">'): html.index("</ol>", html.index('<ol class="order">'))]
        outline = Outline(html)
        assert len(outline.ids) == len(set(outline.ids)), "ids must be unique"
        for group in report.groups:
            assert f'href="#{group.anchor}"' in order
            assert group.anchor in outline.ids
        assert set(a[1:] for a in outline.anchors) <= set(outline.ids)


def test_dates_are_unambiguous(run, pages):
    for report in run.reports:
        cells = Outline(pages[report.client]).date_cells
        items = [i for g in report.groups for i in g.items]
        assert len([c for c in cells if DATE.match(c)]) >= sum(1 for i in items if i.date)
        for cell in cells:
            for part in cell.split(" – "):
                assert DATE.match(part) or part == "—" or any(part == i.date_text for i in items if not i.date), cell


def test_amounts_carry_their_currency_code(run, pages):
    for report in run.reports:
        html = pages[report.client]
        for group in report.groups:
            for item in group.items:
                if item.money:
                    assert money_text(item.money) in html
        for money in report.money:  # in the summary card, where the code may go to a line of its own
            assert money_text(money).replace("\xa0", " ") in html


def test_each_group_shows_who_steps_and_items(run, pages):
    for report in run.reports:
        html = pages[report.client]
        for group in report.groups:
            section = html[html.index(f'id="{group.anchor}"'):]
            section = section[: section.index("</section>")]
            assert text(group.who) in section and text(group.scope_label) in section
            assert section.count("<li>") >= len(group.steps)
            assert f"{plural(group.item_count, 'item')} in this group" in section


def test_an_item_in_two_groups_names_under_each_the_other_it_needs(run, pages):
    """An item needing two fixes is listed under both; under each, "Also needs" names the other
    group, never the one it is listed under."""
    checked = 0
    for report in run.reports:
        html = pages[report.client]
        for group in report.groups:
            section = html[html.index(f'id="{group.anchor}"'):]
            section = section[: section.index("</section>")]
            for item in group.items:
                # the other groups listing the same item, in the page's order (not the field under test)
                others = [g.title for g in report.groups if g is not group and any(i.row == item.row for i in g.items)]
                row = section[section.index(f'<span class="item-id">{text(item.item_id)}</span>'):]
                row = row[: row.index("</tr>")]
                if others:
                    checked += 1
                    assert f"<strong>Also needs:</strong> {text('; '.join(others))}</p>" in row
                else:
                    assert "Also needs" not in row
    assert checked >= 10  # the samples hold items in two groups, listed under each


def test_unrecognised_templates_are_listed(run, pages):
    with_templates = [r for r in run.reports if r.templates]
    assert with_templates
    for report in with_templates:
        html = pages[report.client]
        assert "Unrecognised errors" in html
        for template, count in report.templates:
            assert f'<td class="pattern">{text(template)}</td><td class="num">{count}</td>' in html


def test_provenance_names_every_source_with_rows(run, pages):
    for report in run.reports:
        footer = pages[report.client].split('<footer class="provenance">')[1]
        assert f"analyzer {report.version}" in footer
        for source in report.sources:
            assert text(source.name) in footer and f"{plural(source.rows, 'row')} read" in footer


def test_rendering_is_deterministic(run):
    report = run.reports[0]
    assert render_client_html(report, None) == render_client_html(report, None)


@pytest.mark.parametrize("every", [1, 7, 1024, 1 << 16])
def test_the_page_encoded_as_it_renders_is_the_page(run, pages, monkeypatch, every):
    """The written page is encoded a batch of pieces at a time (memory): byte for byte the page
    rendered whole, however the batches fall (the samples hold accented names: Café, Lumière)."""
    monkeypatch.setattr(render_html, "_PIECES_AT_ONCE", every)
    for report in run.reports:
        written = client_html_bytes(report, None)
        assert written == render_client_html(report, None).encode("utf-8")
        assert written.decode("utf-8") == pages[report.client]


# -- flags, history and the chart ----------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Cannot be published from Dext",
    "2 items are waiting in an approval workflow",
    "Keeps coming back",
    "<span class=\"callout-title\">Warning:</span> Void the Xero copy first.",
    "Carried over, first seen September 2026",
    "In approval",
    "New since last run</span><span class=\"fact-value\">4",
    "Carried over</span><span class=\"fact-value\">11",
    "Cleared since last run</span><span class=\"fact-value\">3",
    "<th scope=\"col\">Lock date</th>",
    "<th scope=\"row\">30/09/2026</th>",
    "2 Sep 2026 – 28 Sep 2026",
])
def test_flags_and_history_show_as_words(busy, text):
    assert text in render_client_html(busy, None)


def test_no_history_means_no_history_counts(run, pages):
    for report in run.reports:
        assert report.new_items is None
        body = pages[report.client].split("</style>")[1]
        assert "since last run" not in body
        assert "marker-carried" not in body and "Carried over</span>" not in body


def test_chart_bars_are_proportional(busy):
    html = render_client_html(busy, None)
    svg = html[html.index("<svg"): html.index("</svg>")]
    assert "<title" in svg and "<desc" in svg and 'role="img"' in svg
    widths = [float(w) for w in re.findall(r'class="chart-bar"[^>]*width="([\d.]+)"', svg)]
    counts = [g.item_count for g in busy.groups]
    assert len(widths) == len(counts)
    biggest = max(counts)
    for width, count in zip(widths, counts):
        assert width == pytest.approx(max(2, count / biggest * max(widths)), abs=0.1)


def test_a_client_with_nothing_failed(busy):
    html = render_client_html(replace(busy, groups=(), item_count=0, money=(), templates=(), status="green",
                                      status_label="Nothing failed"), None)
    assert "Nothing to fix" in html and "<svg" not in html and "Do these in order" not in html


# -- escaping -------------------------------------------------------------------------------------

NASTY = [  # (what an export cell holds, how the page must show it)
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ('"><img src=x onerror=alert(1)>', "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"),
    ("' onmouseover='alert(1)", "&#39; onmouseover=&#39;alert(1)"),
    ("{{ 7*7 }}", "{{ 7*7 }}"),  # shown as typed, never evaluated
]


@pytest.mark.parametrize("payload, shown", NASTY)
@pytest.mark.parametrize("where", ["supplier", "error", "item_id", "category", "tax", "client", "practice", "title",
                                   "step", "warning", "cause", "template", "note"])
def test_text_from_the_inputs_stays_text(busy, payload, shown, where):
    group = busy.groups[0]
    item = group.items[0]
    if where in ("supplier", "error", "item_id", "category", "tax"):
        group = replace(group, items=(replace(item, **{where: payload}),) + group.items[1:])
    elif where == "title":
        group = replace(group, title=payload)
    elif where == "step":
        group = replace(group, steps=(payload,))
    elif where == "warning":
        group = replace(group, warnings=(payload,))
    elif where == "cause":
        group = replace(group, causes=(payload,))
    report = replace(busy, groups=(group,) + busy.groups[1:])
    if where in ("client", "practice"):
        report = replace(report, **{where: payload})
    elif where == "template":
        report = replace(report, templates=((payload, 1),))
    elif where == "note":
        report = replace(report, notes=(payload,))
    html = render_client_html(report, None)
    assert shown in html
    if shown != payload:
        assert payload not in html
    outline = Outline(html)
    assert not outline.tags & {"script", "img"}
    assert not [a for a in outline.attributes if a.startswith("on")]


def test_only_web_links_become_links(busy):
    group = busy.groups[0]
    item = replace(group.items[0], link="")  # the model drops javascript:, file: and the like
    html = render_client_html(replace(busy, groups=(replace(group, items=(item,)),)), None)
    assert "javascript:" not in html
    assert html.count("Open in Dext") == 0


# -- templates ------------------------------------------------------------------------------------

def test_one_partial_can_be_overridden(busy, tmp_path):
    default = render_client_html(busy, None)
    brand = (ROOT / "templates" / "_brand.html").read_text(encoding="utf-8")
    (tmp_path / "_brand.html").write_text(
        brand.replace("--brand: #1d3b5c;", "--brand: #123456;").replace(
            'Dext to Xero publishing report', 'Acme Accounting · Month-end publishing check'),
        encoding="utf-8")
    custom = render_client_html(busy, tmp_path)
    assert "Acme Accounting · Month-end publishing check" in custom and "#123456" in custom
    assert "Acme Accounting" not in default and "#123456" not in default
    # everything else is still the built-in layout
    for part in ("Do these in order", "Good to know", "About this report", 'class="items"'):
        assert part in custom
    assert custom.replace("#123456", "#1d3b5c").replace(
        "Acme Accounting · Month-end publishing check", "Dext to Xero publishing report") == default


@pytest.mark.parametrize("template, text", [
    ("_notes.html", "{{ no_such_variable }}"),
    ("_order.html", "{{ report.no_such_field }}"),
    ("_brand.html", "{% macro colours() %}{{ missing_colour }}{% endmacro %}{% macro masthead(p) %}{% endmacro %}"
                    "{% macro footer_note(p) %}{% endmacro %}"),
])
@pytest.mark.parametrize("render", [render_client_html, client_html_bytes])
def test_a_missing_variable_is_an_error_not_a_blank(busy, tmp_path, monkeypatch, template, text, render):
    """One line naming the practice's template and its line, never a blank in the report; also
    when the page is encoded as it renders and part of it is already encoded."""
    monkeypatch.setattr(render_html, "_PIECES_AT_ONCE", 8)
    (tmp_path / template).write_text(text, encoding="utf-8")
    with pytest.raises(TemplateProblem, match=rf"{template} line 1 fails: .*undefined|no attribute"):
        render(busy, tmp_path)


def test_a_template_failing_deep_into_the_page_is_one_line(busy, tmp_path, monkeypatch):
    """A practice's template that fails after much of the page is out (and encoded)."""
    monkeypatch.setattr(render_html, "_PIECES_AT_ONCE", 8)
    (tmp_path / "_notes.html").write_text("{% for n in range(2000) %}<p>{{ n }}</p>{% endfor %}\n{{ 1 // 0 }}",
                                          encoding="utf-8")
    with pytest.raises(TemplateProblem, match=r"_notes.html line 2 fails: .*division"):
        client_html_bytes(busy, tmp_path)


def test_a_users_template_cannot_switch_escaping_off_by_accident(busy, tmp_path):
    (tmp_path / "_notes.html").write_text("{% for note in report.notes %}<p>{{ note }}</p>{% endfor %}", encoding="utf-8")
    report = replace(busy, notes=("<b>bold</b>",))
    assert "&lt;b&gt;bold&lt;/b&gt;" in render_client_html(report, tmp_path)


# -- index ----------------------------------------------------------------------------------------

def test_index_lists_every_client_with_a_working_link(run):
    html = render_index_html(run.overview, None)
    outline = Outline(html)
    targets = {unquote(h) for h in outline.hrefs}
    assert not [h for h in outline.hrefs if " " in h], "file names are URL-encoded"
    for line in run.overview.clients:
        assert line.html_file in targets
        assert text(line.status_label) in html and text(line.biggest_fix) in html
    for _, title, items, clients in run.overview.fixes:
        assert f'<tr><th scope="row">{text(title)}</th><td class="num">{items}</td><td class="num">{clients}</td></tr>' in html
    for source in run.overview.sources:
        assert text(source.name) in html
    assert "<script" not in html.lower() and not re.findall(r"https?://", html)
    levels = outline.headings
    assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:]))


def test_index_trend_and_failures(run):
    overview = run.overview
    first = replace(overview.clients[0], previous_items=overview.clients[0].item_count - 3, cleared=2)
    overview = replace(overview, clients=(first,) + overview.clients[1:], failures=("broken.csv: not a table",))
    html = render_index_html(overview, None)
    assert f"{first.previous_items} → {first.item_count}" in html and "up 3" in html and "2 cleared" in html
    assert "broken.csv: not a table" in html and "Warning:" in html


def test_written_index_links_resolve(run, out):
    html = (out / "index.html").read_text(encoding="utf-8")
    for href in Outline(html).hrefs:
        assert (out / unquote(href)).is_file(), href


# -- the page as a browser sees it ------------------------------------------------------------------

@pytest.mark.browser
def test_prints_to_a4(busy, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium:
        pytest.skip("no Chromium")
    page = tmp_path / "report.html"
    page.write_text(render_client_html(busy, None), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", page.as_uri()], capture_output=True, timeout=120, check=False)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    boxes = re.findall(rb"MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", data)
    assert boxes and all(abs(float(w) - 595) < 1 and abs(float(h) - 842) < 1 for w, h in boxes)
    assert len(boxes) >= 2  # a long report spreads over pages instead of being cut off


@pytest.mark.parametrize("written, shown", [
    ("31-Mar-2026", "31 Mar 2026"),
    ("2026-03-31", "31 Mar 2026"),
    ("30/09/2026", "30 Sep 2026"),  # the day first: it cannot be a month
    ("09/30/2026", "30 Sep 2026"),  # the month first: 30 cannot be a month
    ("03/04/2026", "03/04/2026"),  # March or April: shown as written
    ("04/04/2026", "4 Apr 2026"),
    ("September 30, 2026", "30 Sep 2026"),
    ("31/02/2026", "31/02/2026"),  # no such day
    ("soon", "soon"),
])
def test_a_lock_date_is_shown_one_way_unless_it_could_be_read_two(written, shown):
    from analyzer.report_model import readable_date

    assert readable_date(written) == shown


def test_a_template_linking_a_file_outside_its_folder_is_refused(busy, tmp_path):
    """A link in a practice's templates folder could paste any file of the machine into the pages
    sent to clients."""
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-TOKEN", encoding="utf-8")
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "logo.svg").symlink_to(secret)
    (folder / "_notes.html").write_text('{% include "logo.svg" %}', encoding="utf-8")
    with pytest.raises(TemplateProblem, match="logo.svg leads outside the templates folder"):
        render_client_html(busy, folder)
    linked = tmp_path / "linked"  # a folder of its own: templates are compiled once per folder
    linked.mkdir()
    (linked / "_notes.html").symlink_to(secret)
    with pytest.raises(TemplateProblem, match="_notes.html leads outside the templates folder"):
        render_client_html(busy, linked)


def test_loops_that_would_run_for_hours_stop_with_one_line(busy, tmp_path):
    (tmp_path / "_notes.html").write_text(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", encoding="utf-8")
    with pytest.raises(TemplateProblem, match="more than 5,000,000 steps"):
        client_html_bytes(busy, tmp_path)
    small = tmp_path / "small"
    small.mkdir()
    (small / "_notes.html").write_text("{% for i in range(3000000) %}{% endfor %}ok", encoding="utf-8")
    for _ in range(3):  # the count starts again with each page: 3 pages of 3,000,000 steps are fine
        assert "ok" in render_client_html(busy, small)


def test_a_template_too_big_to_compile_is_one_line(tmp_path, monkeypatch):
    """Compiling folds constants: {{ 'x' * 2000000000 }} runs out of memory before rendering."""
    from analyzer import render_html

    (tmp_path / "_notes.html").write_text("{{ 1 }}", encoding="utf-8")

    def out_of_memory(self, name, *args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(render_html.ImmutableSandboxedEnvironment, "get_template", out_of_memory)
    render_html.environment.cache_clear()
    try:
        with pytest.raises(TemplateProblem, match=r"_notes.html fails: MemoryError; fix the template"):
            render_html.check_templates(tmp_path)
    finally:
        render_html.environment.cache_clear()


@pytest.mark.parametrize("link, offered", [
    ("https://app.dext.com/receipts/view/59462513", True),
    ("https://dext.com/x", True),
    ("http://app.receipt-bank.com/view/1", True),
    ("https://evil.example/phish", False),
    ("https://app.dext.com.evil.example/view/1", False),
    ("https://evil.example/?next=app.dext.com", False),
    ("javascript:alert(1)", False),
])
def test_only_dexts_own_links_are_offered_as_open_in_dext(link, offered):
    from analyzer.report_model import _dext_address

    assert _dext_address(link) is offered
