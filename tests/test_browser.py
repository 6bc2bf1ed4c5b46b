"""Headless Chromium (Debian's, driven by Playwright) against a real `qa serve` on loopback.

The server runs with an API key and an allow-list holding one extra localhost port, so the
iframe test covers the embed token and the CSP frame-ancestors rule. Screenshots go to
test-artifacts/ at the repository root.
"""

from __future__ import annotations

import http.server
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

sync_api = pytest.importorskip("playwright.sync_api")

from ui.testing import serve_subprocess  # noqa: E402

from conftest import ROOT  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
SNIPPET = ROOT / "ui" / "static" / "embed-snippet.html"  # the auto-height snippet the README shows
ARTIFACTS = ROOT / "test-artifacts"
EXAMPLE = "Where will Russian troops remain in Armenia after the withdrawal?"
KEY = "browser-test-key"
WRITE_KEY = "browser-write-key"

pytestmark = [pytest.mark.browser, pytest.mark.tier2]  # tier2: a live server and headless Chromium per module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def host_page(port: int, html: str) -> Iterator[str]:
    """Serve one HTML page at http://127.0.0.1:PORT/ (the 'wiki')."""
    body = html.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.shutdown()
        server.server_close()


def wiki_html(qa_url: str) -> str:
    """What a wiki admin pastes (README), inside a minimal wiki page."""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Team wiki: Caucasus desk</title>
<style>body{{font:15px system-ui,sans-serif;margin:24px 40px;color:#222;background:#f6f6f3}}
h1{{font-family:Georgia,serif;font-weight:normal;border-bottom:1px solid #ccc}}</style></head>
<body><h1>Caucasus desk</h1><p>Ask our news archive below.</p>
<iframe src="{qa_url}/embed" title="Ask the news" width="100%" height="520"
        style="border:1px solid #ddd;border-radius:8px;max-width:760px" loading="lazy"></iframe>
</body></html>"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def wiki_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(browser, sample_index, tmp_path_factory, wiki_port) -> Iterator[str]:
    index = tmp_path_factory.mktemp("browser") / "qa-index"
    shutil.copytree(sample_index, index)
    ARTIFACTS.mkdir(exist_ok=True)
    env = {"QA_API_KEY": KEY, "QA_WRITE_KEY": WRITE_KEY, "QA_CORS_ORIGINS": f"http://127.0.0.1:{wiki_port}"}
    with serve_subprocess(index, env=env, log_path=ARTIFACTS / "browser-serve.log") as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    try:
        yield pg
    finally:
        context.close()


def log_in(page, server: str, key: str) -> None:
    """The UI's key form (the server has an API key: / redirects to /login first)."""
    page.goto(server + "/", wait_until="networkidle")
    page.locator("#qa-key").fill(key)
    page.locator("#qa-login").click()
    page.wait_for_selector("#qa-question")


def stat(page, name: str) -> str:
    """The value of one row of the index stats panel (e.g. "Articles" -> "5")."""
    return page.locator("#qa-stats dt", has_text=name).locator("xpath=following-sibling::dd[1]").inner_text().strip()


def test_ui_example_question_gives_a_cited_answer(server, page):
    log_in(page, server, KEY)
    page.wait_for_selector("#qa-stats dd")
    assert stat(page, "Articles") == "5"
    page.screenshot(path=str(ARTIFACTS / "ui-home.png"), full_page=True)

    page.get_by_text(EXAMPLE[:40]).first.click()  # an example fills the question box
    sync_api.expect(page.locator("#qa-question textarea")).to_have_value(EXAMPLE, timeout=30_000)
    page.locator("#qa-ask").click()
    cite = page.locator("#qa-answer a.qa-cite").first
    cite.wait_for()
    answer = page.locator("#qa-answer").inner_text()
    assert "Turkey and Iran" in answer
    cards = page.locator("#qa-cards article.qa-card--cited")
    assert cards.count() >= 1
    first = page.locator("#qa-card-1")
    assert first.locator("mark").count() >= 1
    assert "Turkey and Iran" in first.locator("mark").all_inner_texts()[-1] or "Turkey and Iran" in first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "ui-answer.png"), full_page=True)

    page.locator("#qa-answer a.qa-cite").last.click()  # jump to (and flash) the cited card
    target = page.locator("#" + page.locator("#qa-answer a.qa-cite").last.get_attribute("data-card"))
    page.wait_for_function("el => el.classList.contains('qa-card--flash')", arg=target.element_handle())
    page.screenshot(path=str(ARTIFACTS / "ui-citation.png"))


def test_ui_add_articles_upload(server, page, tmp_path):
    article = tmp_path / "sevan_level.txt"
    article.write_text("Lake Sevan water level reaches a ten-year high\n\nThe water level of Lake Sevan rose by 40 "
                       "centimetres this spring, the highest reading in ten years, the Armenian environment ministry "
                       "said on Monday. Fishermen in Martuni reported larger whitefish catches.\n", encoding="utf-8")
    log_in(page, server, WRITE_KEY)  # adding articles needs the write key
    page.locator("#qa-files input[type=file]").set_input_files(str(article))
    page.wait_for_selector("#qa-files >> text=sevan_level.txt")
    page.locator("#qa-add").click()
    page.wait_for_selector("#qa-add-status >> text=Added")
    sync_api.expect(page.locator("#qa-stats dt", has_text="Articles").locator("xpath=following-sibling::dd[1]")).to_have_text("6")
    page.screenshot(path=str(ARTIFACTS / "ui-added.png"), full_page=True)
    r = httpx.post(server + "/api/search", json={"query": "Lake Sevan whitefish", "k": 1},
                   headers={"X-API-Key": KEY}, timeout=60)
    assert r.json()["results"][0]["doc_id"] == "sevan_level"


def ask_widget(frame, question: str, wait_for: str = "#qa-answer a.qa-cite") -> None:
    """Ask in the /embed widget (inside ``frame``) and wait for ``wait_for`` (default: a cited answer)."""
    frame.locator("#qa-q").fill(question)
    frame.locator("#qa-go").click()
    frame.locator(wait_for).first.wait_for()


def test_embed_in_an_iframe_on_another_origin(server, page, wiki_port):
    with host_page(wiki_port, wiki_html(server)) as wiki:
        page.goto(wiki, wait_until="networkidle")
        frame = page.frame_locator("iframe")
        ask_widget(frame, EXAMPLE)
        assert "Turkey and Iran" in frame.locator("#qa-answer").inner_text()
        assert frame.locator("#qa-sources li").count() >= 1
        frame.locator("#qa-answer a.qa-cite").first.click()
        frame.locator("#qa-src-1.qa-src--flash").wait_for()
        page.screenshot(path=str(ARTIFACTS / "embed-iframe.png"), full_page=True)


def test_embed_refused_on_an_origin_outside_the_allow_list(server, page):
    with host_page(free_port(), wiki_html(server)) as other:
        page.goto(other, wait_until="networkidle")
        frame = page.frames[-1]
        assert frame is not page.main_frame
        assert page.frame_locator("iframe").locator("#qa-q").count() == 0  # blocked by frame-ancestors
        page.screenshot(path=str(ARTIFACTS / "embed-refused.png"))


# --------------------------------------------------------------------------- issue 10: a reader's UI
ALWAGHT_TITLE = "Russia-Armenia Relations Hit by Differences over Karabakh Dispute"
#: answered with a citation of the Alwaght article (the UI tests need a cited answer)
ALWAGHT_Q = "How much have the US and Europe spent equipping Ukraine with weapons?"


def ask_ui(page, question: str) -> None:
    """Ask in the UI and wait until a *new* answer (or error) has replaced the previous one."""
    before = page.locator("#qa-answer .qa-answer").first.inner_html() if page.locator("#qa-answer .qa-answer").count() else ""
    page.locator("#qa-question textarea").fill(question)
    page.locator("#qa-ask").click()
    page.wait_for_function(
        """(before) => { const a = document.querySelector('#qa-answer .qa-answer');
             const busy = document.querySelector('#qa-answer .progress-text, #qa-cards .progress-text');
             return a && !busy && a.innerHTML !== before && !a.classList.contains('qa-answer--empty'); }""",
        arg=before)


def card_meta(page) -> list[tuple[str, str]]:
    """(headline, "publisher · date") of every source card, cited and folded ones alike."""
    cards = page.locator("#qa-cards article.qa-card")
    return [(" ".join((c.locator(".qa-card__title").text_content() or "").split()),
             " ".join((c.locator(".qa-card__meta").text_content() or "").split()) if c.locator(".qa-card__meta").count() else "")
            for c in cards.all()]  # text_content: folded cards' text too


def test_ui_source_cards_one_per_article_with_headline_publisher_date(server, page):
    log_in(page, server, KEY)
    sync_api.expect(page.locator("#qa-ask")).to_be_enabled()
    assert page.locator("#qa-mode").is_hidden()  # retrieval knobs are folded under "Advanced"
    chips = page.locator("#qa-examples button")
    assert chips.count() == 4
    for chip in chips.all():  # whole questions, not "Where will Russian troops remain in Armenia after the withdr..."
        text = chip.inner_text().strip()
        assert text.endswith("?") and "..." not in text and "…" not in text
        assert chip.evaluate("b => b.scrollWidth <= b.clientWidth + 1")  # nothing clipped
    ask_ui(page, ALWAGHT_Q)
    meta = card_meta(page)
    titles = [t for t, _ in meta]
    assert len(titles) == len(set(titles)), titles  # one card per article
    assert (ALWAGHT_TITLE, "Alwaght · 11 Sep 2023") in meta
    for title, _ in meta:
        assert not title.endswith(".txt") and not title.startswith("News") and "Alwaght |" not in title
    cards_text = page.locator("#qa-cards").inner_text()
    assert "score" not in cards_text.lower() and "0.0" not in cards_text  # raw scores only behind the toggle
    page.screenshot(path=str(ARTIFACTS / "ui-cards.png"), full_page=True)

    details = page.locator("#qa-cards .qa-card__details").first
    details.locator("summary").click()
    assert "fused score" in details.inner_text()

    cite = page.locator("#qa-answer a.qa-cite").first
    preview = page.locator("#qa-answer .qa-preview").first
    assert preview.is_hidden()
    cite.hover()
    sync_api.expect(preview).to_be_visible()
    assert ALWAGHT_TITLE in preview.inner_text() or preview.locator(".qa-preview__quote").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "ui-cite-preview.png"))
    page.mouse.move(5, 5)
    sync_api.expect(preview).to_be_hidden()
    cite.focus()  # keyboard users get the same preview
    sync_api.expect(preview).to_be_visible()


def test_ui_filters_by_publisher_and_date(server, page):
    log_in(page, server, KEY)
    box = page.locator("#qa-sources input[role=combobox]")
    box.click()
    options = page.locator("[role=listbox] [role=option]")
    names = [o.inner_text().strip() for o in options.all()]
    assert "Alwaght" in names and "Insight News Media" in names  # publisher choices come from the index
    assert not any(n.endswith(".txt") for n in names)
    page.locator("[role=listbox] [role=option]", has_text="Alwaght").first.click()
    page.locator("#qa-header-wrap").click()  # close the list
    ask_ui(page, ALWAGHT_Q)
    meta = card_meta(page)
    assert meta and all(m == "Alwaght · 11 Sep 2023" for _, m in meta), meta
    page.screenshot(path=str(ARTIFACTS / "ui-filter-publisher.png"), full_page=True)

    page.goto(server + "/", wait_until="networkidle")
    page.locator("#qa-since input").fill("2024-01-01")
    page.locator("#qa-since input").press("Enter")
    page.locator("#qa-sort label", has_text="Newest first").click()
    ask_ui(page, "Why did Russia withdraw from Karabakh?")
    meta = card_meta(page)
    assert meta and all(m.endswith("22 Apr 2024") for _, m in meta), meta
    page.screenshot(path=str(ARTIFACTS / "ui-filter-dates.png"), full_page=True)

    page.locator("#qa-since input").fill("2030-01-01")
    page.locator("#qa-since input").press("Enter")
    ask_ui(page, "Why did Russia withdraw from Karabakh?")
    assert "No indexed article matches these filters" in page.locator("#qa-answer").inner_text()


def test_embed_resizes_its_iframe_to_the_content(server, page, wiki_port):
    snippet = SNIPPET.read_text(encoding="utf-8")
    for doc in ("README.md", "docs/serving.md"):  # both show exactly this
        assert snippet in (ROOT / doc).read_text(encoding="utf-8"), doc
    html = (f'<!doctype html><html><head><meta charset="utf-8"><title>Team wiki</title></head>'
            f'<body style="font:15px system-ui;margin:24px 40px;background:#f6f6f3"><h1>Caucasus desk</h1>'
            f'{snippet.replace("https://newsqa.example.org", server)}<p id="after">Text after the widget.</p></body></html>')
    with host_page(wiki_port, html) as wiki:
        page.goto(wiki, wait_until="networkidle")
        iframe = page.locator("iframe#newsqa")
        frame = page.frame_locator("iframe#newsqa")
        ask_widget(frame, ALWAGHT_Q)
        assert ALWAGHT_TITLE in frame.locator("#qa-sources").inner_text()
        assert "Alwaght · 11 Sep 2023" in frame.locator("#qa-sources").inner_text()
        # the host page grew the iframe to the widget's content: no scrollbar inside the widget
        page.wait_for_function("() => document.getElementById('newsqa').getBoundingClientRect().height > 250")  # from 170
        inner = page.frame_locator("iframe#newsqa").locator("html")
        content = inner.evaluate("e => Math.ceil(e.getBoundingClientRect().height)")
        viewport = inner.evaluate("() => window.innerHeight")
        assert abs(viewport - content) <= 2, (viewport, content)
        assert inner.evaluate("e => e.scrollHeight <= window.innerHeight")
        assert iframe.bounding_box()["height"] >= content
        page.screenshot(path=str(ARTIFACTS / "embed-autoheight.png"), full_page=True)


def test_docs_render_offline(server, browser):
    """/docs with every request off this server blocked: Swagger UI still renders the API."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []

    def only_local(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    try:
        log_in(pg, server, KEY)  # with an API key set, every non-API page needs the session
        pg.goto(server + "/docs", wait_until="networkidle")
        pg.locator(".swagger-ui .opblock-summary-path", has_text="/api/search").first.wait_for(timeout=30_000)
        assert pg.locator(".swagger-ui .opblock").count() >= 3
        pg.screenshot(path=str(ARTIFACTS / "docs-offline.png"), full_page=False)
        assert blocked == [], blocked
    finally:
        context.close()


# --------------------------------------------------------------------------- issue 8: the UI's guard
def test_ui_asks_for_the_key_before_answering(server, page):
    page.goto(server + "/", wait_until="networkidle")
    assert page.url.startswith(server + "/login")
    assert page.locator("#qa-question").count() == 0 and page.locator("#qa-key").count() == 1
    page.locator("#qa-key").fill("not-the-key")
    page.locator("#qa-login").click()
    page.wait_for_selector("text=Wrong key")
    assert page.locator("#qa-question").count() == 0
    page.screenshot(path=str(ARTIFACTS / "ui-login.png"))
    # the session cookie is HttpOnly: page scripts cannot read it
    log_in(page, server, KEY)
    assert "qa_session" not in page.evaluate("document.cookie")
    cookie = next(c for c in page.context.cookies() if c["name"] == "qa_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.locator("#qa-question textarea").fill(EXAMPLE)
    page.locator("#qa-ask").click()
    page.locator("#qa-answer a.qa-cite").first.wait_for()


def test_root_cannot_be_framed_by_another_origin(server, page):
    """Logged in (the cookie is same-site, so the frame would get it), a page on another origin
    that frames / gets nothing: frame-ancestors 'self' + the allow-list, X-Frame-Options."""
    log_in(page, server, KEY)
    html = f'<!doctype html><html><body><h1>evil</h1><iframe src="{server}/" width="900" height="600"></iframe></body></html>'
    with host_page(free_port(), html) as evil:
        page.goto(evil, wait_until="networkidle")
        page.wait_for_timeout(1500)
        assert len(page.frames) == 2
        assert page.frame_locator("iframe").locator("#qa-question").count() == 0  # blocked
        page.screenshot(path=str(ARTIFACTS / "ui-frame-refused.png"))


def test_readers_do_not_see_the_upload_panel(server, page):
    """Writes are on (a write key is set), but a visitor logged in with the read key never sees
    "Add articles" (it would answer 403); the write key's holder does."""
    log_in(page, server, KEY)
    page.wait_for_selector("#qa-stats dd")
    page.wait_for_timeout(1000)  # the page-load events have run
    assert not page.locator("#qa-files").is_visible() and not page.locator("#qa-add").is_visible()
    page.context.clear_cookies()
    log_in(page, server, WRITE_KEY)
    page.locator("#qa-add").wait_for(state="visible")


def test_graded_answers_show_the_evidence_or_say_none_in_the_ui_and_the_widget(server, page, wiki_port):
    """Issue 23: a question the articles discuss without a direct answer shows its closest sentences,
    quoted and cited under the label (the flagship, refused before); an off-topic one says so with no
    quotes and no cards. The same sentences in the API, the UI and the widget; screenshots at 1366 and
    390 px wide."""
    q, off = "why did Russia withdraw peacekeepers?", "How do I descale a kettle with vinegar?"
    body = httpx.post(server + "/api/ask", json={"question": q}, headers={"X-API-Key": KEY}, timeout=60).json()
    assert body["status"] == "evidence" and body["confident"] is False and body["citations"] and body["label"]
    none = httpx.post(server + "/api/ask", json={"question": off}, headers={"X-API-Key": KEY}, timeout=60).json()
    assert none["status"] == "none" and none["citations"] == []
    first = " ".join(body["citations"][0]["quote"].split())
    log_in(page, server, KEY)
    sync_api.expect(page.locator("#qa-ask")).to_be_enabled()
    for width, height in ((1366, 900), (390, 844)):  # the off-topic question between: each answer is new
        page.set_viewport_size({"width": width, "height": height})
        ask_ui(page, q)
        page.locator("#qa-answer .qa-answer--evidence a.qa-cite").first.wait_for()
        assert body["label"] in page.locator("#qa-answer").inner_text()
        assert page.locator("#qa-answer a.qa-cite").count() == len(body["citations"])
        assert first.split(",")[0] in " ".join(page.locator("#qa-answer").inner_text().split())
        page.screenshot(path=str(ARTIFACTS / f"ui-evidence-{width}.png"), full_page=True)
        ask_ui(page, off)
        page.locator("#qa-answer .qa-answer--none").wait_for()
        assert page.locator("#qa-answer a.qa-cite").count() == 0 and page.locator("#qa-cards .qa-card").count() == 0
    with host_page(wiki_port, wiki_html(server)) as wiki:
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto(wiki, wait_until="networkidle")
        frame = page.frame_locator("iframe")
        ask_widget(frame, q, wait_for="#qa-answer.qa-answer--evidence a.qa-cite")
        assert body["label"] in frame.locator("#qa-answer").inner_text()
        text = " ".join(frame.locator("#qa-sources").inner_text().split())
        # the widget reads at most 5 passages (an embed token's cap): the API's answer over the same 5
        widget_body = httpx.post(server + "/api/ask", json={"question": q, "k": 5}, headers={"X-API-Key": KEY},
                                 timeout=60).json()
        assert widget_body["status"] == "evidence" and widget_body["citations"]
        assert all(" ".join(c["quote"].split()) in text for c in widget_body["citations"])
        page.screenshot(path=str(ARTIFACTS / "widget-evidence-1366.png"), full_page=True)
        ask_widget(frame, off, wait_for="#qa-status.qa-status--warn")
        assert frame.locator("#qa-answer a.qa-cite").count() == 0 and frame.locator("#qa-sources li").count() == 0


def test_two_quotes_of_one_passage_are_two_sources_in_the_ui_and_the_widget(server, page, wiki_port):
    """One number per quote everywhere: the API's citations, the UI's markers (both leading to the
    passage's card) and the widget's markers (each to its own quote)."""
    q = "Which countries had already left the CSTO before Armenia?"  # quotes one passage twice
    body = httpx.post(server + "/api/ask", json={"question": q}, headers={"X-API-Key": KEY}, timeout=60).json()
    cites = body["citations"]
    assert len(cites) >= 2 and len({c["passage_id"] for c in cites}) < len(cites), cites
    assert [c["n"] for c in cites] == list(range(1, len(cites) + 1))
    log_in(page, server, KEY)
    sync_api.expect(page.locator("#qa-ask")).to_be_enabled()
    ask_ui(page, q)
    markers = page.locator("#qa-answer a.qa-cite")
    assert markers.all_inner_texts() == [str(c["n"]) for c in cites]
    for a in markers.all():  # every marker leads to a card that exists
        assert page.locator("#" + a.get_attribute("data-card")).count() == 1
    page.locator("#qa-cards article.qa-card--cited").first.screenshot(path=str(ARTIFACTS / "ui-one-passage-two-quotes.png"))
    with host_page(wiki_port, wiki_html(server)) as wiki:
        page.goto(wiki, wait_until="networkidle")
        frame = page.frame_locator("iframe")
        ask_widget(frame, q)
        assert frame.locator("#qa-answer a.qa-cite").all_inner_texts() == [str(c["n"]) for c in cites]
        frame.locator("#qa-answer a.qa-cite").nth(1).click()
        frame.locator("#qa-src-2.qa-src--flash").wait_for()


def test_embed_clears_the_answer_when_a_question_is_refused_as_empty(server, page, wiki_port):
    """An empty question after an answer: the widget says so and no longer shows the old answer."""
    with host_page(wiki_port, wiki_html(server)) as wiki:
        page.goto(wiki, wait_until="networkidle")
        frame = page.frame_locator("iframe")
        ask_widget(frame, EXAMPLE)
        frame.locator("#qa-q").fill("   ")
        frame.locator("#qa-go").click()
        sync_api.expect(frame.locator("#qa-status")).to_have_text("Type a question first.")
        sync_api.expect(frame.locator("#qa-result")).to_be_hidden()
        assert frame.locator("#qa-answer").inner_text() == "" and frame.locator("#qa-sources li").count() == 0


TIMELINE_TOPIC = "Russia Armenia relations"


def timeline_page(browser, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900 if width > 600 else 844})
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    return context, pg


@pytest.mark.parametrize("width", [1366, 390])
def test_ui_timeline_view(server, browser, width):
    """Issue 26: the Timeline button shows the story as a vertical timeline with year markers, each
    event a card with its reports highlighted; one event told by three articles is one card."""
    context, page = timeline_page(browser, width)
    try:
        log_in(page, server, KEY)
        page.locator("#qa-question textarea").fill("How did relations between Russia and Armenia fall apart?")
        page.locator("#qa-ask").click()
        page.locator("#qa-answer .qa-tl__offer").wait_for()  # ask offers the timeline of a story question
        page.locator("#qa-timeline-btn").click()
        page.locator("#qa-cards .qa-tl__event").first.wait_for()
        assert re.search(r"\d+ dated events from 5 articles", page.locator("#qa-answer").inner_text())
        years = page.locator("#qa-cards .qa-tl__year-label").all_inner_texts()
        assert years == sorted(years) and {"2018", "2020", "2023", "2024"} <= set(years)
        eagle = page.locator("#qa-cards .qa-tl__event", has_text="EAGLE PARTNER")
        assert eagle.count() == 1
        assert "reported by 3 articles" in eagle.inner_text() and "11–20 Sep 2023" in eagle.inner_text()
        assert eagle.locator("mark").count() == 3 and eagle.locator(".qa-tl__mention").count() == 3
        # the vertical layout: at 390 px the date sits above its card, at 1366 beside it
        box_when = page.locator("#qa-cards .qa-tl__when").first.bounding_box()
        box_card = page.locator("#qa-cards .qa-tl__card").first.bounding_box()
        assert (box_card["y"] > box_when["y"] + box_when["height"] - 1) if width < 600 else (box_card["x"] > box_when["x"])
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing overflows sideways
        page.screenshot(path=str(ARTIFACTS / f"ui-timeline-{width}.png"), full_page=True)
    finally:
        context.close()


def test_embed_timeline_widget_shows_the_api_events(server, browser):
    context, page = timeline_page(browser, 390)
    try:
        page.goto(server + "/embed?timeline=1&q=" + TIMELINE_TOPIC.replace(" ", "%20"), wait_until="networkidle")
        page.locator(".qa-tl__event").first.wait_for()
        shown = page.locator(".qa-tl__when").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
        token = page.locator('meta[name="qa-embed-token"]').get_attribute("content")
        api = httpx.post(server + "/api/timeline", json={"topic": TIMELINE_TOPIC}, headers={"X-Embed-Token": token},
                         timeout=120).json()
        assert shown == [e["date"] for e in api["events"]] and len(shown) >= 3
        assert page.locator(".qa-tl__year").count() >= 2 and page.locator(".qa-tl__quote mark").count() >= len(shown)
        assert page.locator(".qa-label").inner_text() == "Trace a story"
        page.screenshot(path=str(ARTIFACTS / "embed-timeline-390.png"), full_page=True)
    finally:
        context.close()
