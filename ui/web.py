"""The Gradio web UI (Blocks): question box with example chips, cited answer, one source card
per article, a Timeline button (the story's dated events as a vertical timeline, same filters); a sidebar with date-range / publisher filters and sort order, retrieval knobs
(mode, k) under "Advanced", the "Add articles" upload with progress, and index stats.

A thin layer over :class:`qa.engine.Engine`; HTML comes from :mod:`ui.render`. Event
handlers are plain functions of component values (easy to wrap, e.g. with an auth check).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from index import __version__
from index.errors import QAError
from index.ingest import SUPPORTED_SUFFIXES
from index.tables import ArticleInfo
from qa.engine import Engine
from qa.filters import SearchFilter

from qa.question import story_topic

from . import render, render_timeline
from .config import ServeConfig
from .guard import Guard, upload_folder  # security hooks (docs/security.md)
from .guard_events import reader, upload_panel, writer  # security hooks

log = logging.getLogger("ui.web")

#: Shown under the question box; all answerable from sample_corpus/.
EXAMPLES = [
    "Why did Russia withdraw from Karabakh?",
    "Where will Russian troops remain in Armenia after the withdrawal?",
    "How many Armenians fled Karabakh after Azerbaijan's September offensive?",
    "What did Pashinyan call relying solely on Russia for security?",
]

#: Click on an [n] marker: scroll to card n, flash it and move focus there (keyboard users too).
CITE_JS = """
element.addEventListener('click', function (ev) {
  var a = ev.target.closest ? ev.target.closest('a.qa-cite') : null;
  if (!a) return;
  ev.preventDefault();
  var card = document.getElementById(a.getAttribute('data-card'));
  if (!card) return;
  var details = card.closest('details');
  if (details) details.open = true;
  document.querySelectorAll('.qa-card--flash').forEach(function (c) { c.classList.remove('qa-card--flash'); });
  void card.offsetWidth;
  card.classList.add('qa-card--flash');
  card.scrollIntoView({behavior: 'smooth', block: 'center'});
  card.focus({preventScroll: true});
});
"""

CSS = (Path(__file__).parent / "static" / "ui.css").read_text(encoding="utf-8")


def theme() -> gr.themes.Base:
    # System fonts only: the UI must work offline (no Google Fonts).
    return gr.themes.Soft(
        primary_hue="indigo",
        secondary_hue="sky",
        neutral_hue="slate",
        radius_size="lg",
        font=["Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    ).set(  # a primary button that looks pressable (Soft's pale default reads as disabled)
        button_primary_background_fill="*primary_600",
        button_primary_background_fill_hover="*primary_700",
        button_primary_text_color="white",
        button_primary_text_color_hover="white",
    )


def index_articles(service: Engine) -> list[ArticleInfo]:
    """The loaded index's articles (``[]`` when there is no index yet)."""
    try:
        return service.articles()
    except QAError:
        return []


def publishers(service: Engine) -> list[str]:
    """The publishers of the loaded index's articles, for the filter's choices (A-Z, unknown left out)."""
    return sorted({a.source for a in index_articles(service) if a.source.strip()}, key=str.casefold)


def index_panel(service: Engine) -> str:
    """The Index panel: the served generation's counts, model and time of its last write (the
    manifest's ``updated``, :attr:`IndexStats.updated`: an add or a delete changes it; ``created``
    never does)."""
    try:
        return render.stats_html(service.stats(), extra=render.coverage(index_articles(service)))
    except QAError as exc:
        return render.stats_html(None, str(exc))


def discard_uploads(paths: Sequence[str]) -> list[str]:
    """Delete the files of one "Add articles" job once it is over (indexed, refused or failed).

    ``paths`` are what the guard let through: files this session itself uploaded
    (:func:`ui.guard.checked_upload_paths`). Each is deleted only if it is still a regular file
    (not a link) inside Gradio's upload folder, and then its folder (Gradio keeps every upload in
    a folder of its own, named by a hash of its content) if nothing else is in it; anything else
    is left alone. Returns the files deleted."""
    root = upload_folder()
    removed = []
    for p in paths:
        path = Path(p)
        try:
            if path.is_symlink() or not path.is_file():
                continue
            real = path.resolve()
            if root not in real.parents:
                continue
            real.unlink()
            removed.append(str(real))
            if real.parent.parent == root:
                with contextlib.suppress(OSError):  # not empty: another upload's file, kept
                    real.parent.rmdir()
        except OSError as exc:
            log.warning("could not delete the upload %s: %s", path.name, exc)
    return removed


def ask_filters(since: Any, until: Any, sources: Any, sort: Any) -> SearchFilter:
    """The UI's filter widgets as a :class:`SearchFilter` (raises :class:`QAError` when bad)."""
    return SearchFilter.parse(since=since or None, until=until or None, sources=list(sources or []), sort=sort or None)


def header_html() -> str:
    return (
        '<header class="qa-header">'
        '<div class="qa-brand"><span class="qa-logo" aria-hidden="true">N</span>'
        '<div><h1>newsqa</h1><p>Ask the news. Every sentence of the answer cites the article it comes from.</p></div></div>'
        '<nav class="qa-links" aria-label="Other ways in">'
        '<a href="/docs" target="_blank" rel="noopener">JSON API</a>'
        '<a href="/embed" target="_blank" rel="noopener">Wiki widget</a>'
        f'<span class="qa-version">v{render.esc(__version__)}</span></nav></header>'
    )


def build_blocks(service: Engine, config: ServeConfig, *, uploads: bool = True, guard: Guard | None = None) -> gr.Blocks:
    default_k = min(service.answer_k, config.max_k)

    def stats_now() -> str:
        return index_panel(service)

    def sources_now() -> Any:
        return gr.update(choices=publishers(service))

    def on_ask(question: str, mode: str, k: float, since: Any, until: Any, sources: list[str] | None,
               sort: str) -> tuple[str, str]:
        if not (question or "").strip():
            return render.error_html("Type a question first, or pick an example."), ""
        try:
            filters = ask_filters(since, until, sources, sort)
            answer = service.ask(question, k=int(k), mode=mode, filters=filters)
        except QAError as exc:
            return render.error_html(str(exc)), ""
        if filters.active and not answer.results:
            return render.error_html("No indexed article matches these filters: widen the dates or pick other "
                                     "publishers."), ""
        return render.answer_html(answer), render.cards_html(answer)

    def on_timeline(question: str, since: Any, until: Any, sources: list[str] | None, sort: str) -> tuple[str, str]:
        """The Timeline view: the topic is the question box's text ("How did X evolve?" asks for X)."""
        text = (question or "").strip()
        if not text:
            return render.error_html("Type a topic first (e.g. Russia Armenia relations), then press Timeline."), ""
        try:
            filters = ask_filters(since, until, sources, sort)
            timeline = service.timeline(story_topic(text) or text, filters=filters)
        except QAError as exc:
            return render.error_html(str(exc)), ""
        if filters.active and not timeline.articles:
            return render.error_html("No indexed article matches these filters: widen the dates or pick other "
                                     "publishers."), ""
        return render_timeline.summary_html(timeline), render_timeline.timeline_html(timeline)

    def on_add(files: list[Any] | None, progress: gr.Progress = gr.Progress()) -> tuple[str, str, None, Any]:
        if not files:
            return "Choose one or more files first.", stats_now(), None, sources_now()
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in files]
        try:
            return add_paths(paths, progress)
        finally:  # indexed or not, the uploaded copies have served their purpose
            discard_uploads(paths)

    def add_paths(paths: list[str], progress: Any) -> tuple[str, str, None, Any]:
        total = sum(Path(p).stat().st_size for p in paths if Path(p).is_file())
        if total > config.max_upload_mb * 2**20:
            return (f"**Not added:** these files hold {total / 2**20:.1f} MB, over the {config.max_upload_mb} MB "
                    "limit of one upload; nothing was changed (split them, or index them with `qa index`)"), \
                stats_now(), None, sources_now()
        try:
            report = service.add_files(paths, lambda frac, desc: progress(frac, desc=desc))
        except QAError as exc:
            return f"**Not added:** {exc}", stats_now(), None, sources_now()
        if not report.written:
            msg = f"Nothing new: {len(paths)} file(s) were already indexed."
        else:
            msg = (f"**Added.** {report.articles_added} new and {report.articles_updated} updated article(s); "
                   f"{report.passages_embedded} passage(s) embedded in {report.seconds:.1f}s. "
                   f"The index now holds {report.articles_total:,} articles.")
        return msg, stats_now(), None, sources_now()

    with gr.Blocks(title="newsqa: ask the news", analytics_enabled=False, fill_width=False) as demo:
        gr.HTML(header_html(), elem_id="qa-header-wrap")
        with gr.Row(equal_height=False, elem_id="qa-main"):
            with gr.Column(scale=7, min_width=360, elem_id="qa-left"):
                with gr.Row(elem_id="qa-ask-row", equal_height=True):
                    question = gr.Textbox(label="Question", show_label=False, placeholder="Ask a question about the news…",
                                          lines=1, max_lines=4, scale=8, elem_id="qa-question", autofocus=True,
                                          max_length=2000, container=False)
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="qa-ask")
                    show_timeline = gr.Button("Timeline", variant="secondary", scale=1, min_width=100,
                                              elem_id="qa-timeline-btn")
                gr.HTML('<p class="qa-try">Try an example</p>', elem_id="qa-try", js_on_load=None)
                with gr.Row(elem_id="qa-examples"):
                    chips = [gr.Button(q, size="sm", variant="secondary", scale=0, min_width=0, elem_classes=["qa-chip"])
                             for q in EXAMPLES]
                answer = gr.HTML(render.EMPTY_ANSWER, elem_id="qa-answer", js_on_load=CITE_JS, apply_default_css=False)
                cards = gr.HTML("", elem_id="qa-cards", js_on_load=None, apply_default_css=False)
            with gr.Column(scale=3, min_width=260, elem_id="qa-side"):
                with gr.Group(elem_classes=["qa-panel"], elem_id="qa-filters"):
                    gr.HTML('<h2 class="qa-panel__title">Filters</h2>', js_on_load=None)
                    since = gr.DateTime(label="Published from", include_time=False, type="string", elem_id="qa-since")
                    until = gr.DateTime(label="Published until", include_time=False, type="string", elem_id="qa-until")
                    sources = gr.Dropdown(choices=publishers(service), value=[], multiselect=True, label="Publishers",
                                          info="none chosen: every publisher", elem_id="qa-sources")
                    sort = gr.Radio([("Most relevant", "relevance"), ("Newest first", "newest")], value="relevance",
                                    label="Order", elem_id="qa-sort")
                with gr.Accordion("Advanced", open=False, elem_id="qa-advanced", elem_classes=["qa-panel"]):
                    mode = gr.Radio(["hybrid", "dense", "bm25"], value="hybrid", label="Search mode",
                                    info="hybrid fuses meaning (dense) and keywords (BM25)", elem_id="qa-mode")
                    k = gr.Slider(1, config.max_k, value=default_k, step=1, label="Passages (k)",
                                  info="how many retrieved passages the answer may quote", elem_id="qa-k")
                if uploads:  # hidden until the page's load event finds the visitor may write
                    with gr.Group(elem_classes=["qa-panel"], elem_id="qa-add-panel", visible=False) as add_panel:
                        gr.HTML('<h2 class="qa-panel__title">Add articles</h2>'
                                '<p class="qa-panel__hint">.txt, .md, .html or .jsonl; headline, date and publisher '
                                "are read from each file; only new passages are embedded.</p>", js_on_load=None)
                        files = gr.File(file_count="multiple", file_types=sorted(SUPPORTED_SUFFIXES), show_label=False,
                                        height=120, elem_id="qa-files")
                        add = gr.Button("Add to index", variant="secondary", elem_id="qa-add")
                        add_status = gr.Markdown(elem_id="qa-add-status")
                with gr.Group(elem_classes=["qa-panel"]):
                    gr.HTML('<h2 class="qa-panel__title">Index</h2>', js_on_load=None)
                    stats = gr.HTML(stats_now(), elem_id="qa-stats", js_on_load=None, apply_default_css=False)

        for chip, text in zip(chips, EXAMPLES):
            chip.click(_constant(text), None, [question], api_visibility="private", queue=False)
        # --- security hooks: every event re-checks the caller's role (ui/guard_events.py)
        guard = guard or Guard.from_config(config)

        def load_now() -> tuple[str, Any]:
            return stats_now(), sources_now()

        ask_fn, load_fn, add_fn = reader(guard, on_ask), reader(guard, load_now), writer(guard, on_add, config.index_budget_s)
        timeline_fn = reader(guard, on_timeline)
        # --- end of security hooks
        ask_inputs = [question, mode, k, since, until, sources, sort]
        ask.click(ask_fn, ask_inputs, [answer, cards], concurrency_limit=8, api_visibility="private")
        question.submit(ask_fn, ask_inputs, [answer, cards], concurrency_limit=8, api_visibility="private")
        show_timeline.click(timeline_fn, [question, since, until, sources, sort], [answer, cards], concurrency_limit=8,
                            api_visibility="private")
        if uploads:
            # one indexing job at a time, in its own queue group: questions (their own group of 8)
            # keep being answered while it runs; the uploader sees its progress in add_status
            add.click(add_fn, [files], [add_status, stats, files, sources], concurrency_limit=1,
                      concurrency_id="index-job", api_visibility="private")
            demo.load(upload_panel(guard), None, [add_panel], api_visibility="private")
        demo.load(load_fn, None, [stats, sources], api_visibility="private")
    demo.queue(max_size=64)
    return demo


def _constant(value: str):  # noqa: ANN202 - an event handler returning ``value``
    def fill() -> str:
        return value

    return fill
