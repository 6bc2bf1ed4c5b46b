"""The JSON API's request and response bodies (pydantic models): what every request is checked
against and what ``/docs`` shows (:mod:`ui.api` serves them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr

from index.defaults import ASK_K, MAX_QUERY_CHARS, SEARCH_K as DEFAULT_SEARCH_K
from index.errors import QueryError
from qa.filters import SearchFilter
from qa.query import is_blank
from qa.timeline import TIMELINE_K


def not_empty(value: str, name: str) -> str:
    """``value`` unless it is blank (:func:`qa.query.is_blank`): the engine refuses it too, but the
    API names the field (``question is empty`` on /api/ask)."""
    if is_blank(value):
        raise QueryError(f"{name} is empty")
    return value


def no_surrogates(value: str) -> str:
    """A lone UTF-16 surrogate (``"\\ud800"`` in JSON) is valid JSON but no text: reject it (422)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"contains a lone surrogate (\\u{ord(value[exc.start]):04x}), which is not text") from None
    return value


#: A JSON string that is real Unicode text.
Text = Annotated[StrictStr, AfterValidator(no_surrogates)]


def k_description(default: int, what: str, max_k: int | None = None) -> str:
    """``k``'s OpenAPI text; :func:`ui.api.create_api` rewrites it with the server's ``max_k``."""
    if max_k is None:
        return f"{what}, 1..max_k (max_k: a server setting; default {default}, or max_k when that is smaller)"
    return f"{what}, 1..{max_k} (default {min(default, max_k)})"


def k_of(body: BaseModel, default: int, max_k: int) -> int:
    """The request's ``k``; omitted, the route's default capped at the server's ``max_k``."""
    return body.k if "k" in body.model_fields_set else min(default, max_k)  # type: ignore[attr-defined]


class FilterFields(BaseModel):
    """``since``/``until``/``source``/``sort``: the same names as ``qa search --since ...``."""

    since: Text | None = Field(None, description="only articles published on or after this day (exactly YYYY-MM-DD)",
                               examples=["2024-01-01"])
    until: Text | None = Field(None, description="only articles published on or before this day (exactly YYYY-MM-DD)")
    source: Text | list[Text] | None = Field(
        None, description="only these publishers, case-insensitive exact names: a list of names, or one string "
                          "that is split on commas like `qa search --source` (\"Alwaght,Insight News Media\" is two)")
    sort: Literal["relevance", "newest"] = Field("relevance", description="relevance, or newest first")

    def search_filter(self) -> SearchFilter:
        """The :class:`SearchFilter`; a bad date raises :class:`QueryError` (400 ``bad_query``). A string
        ``source`` goes to :meth:`SearchFilter.parse` as is, which splits it on commas exactly as for the CLI."""
        return SearchFilter.parse(since=self.since, until=self.until, sources=self.source, sort=self.sort)


class SearchRequest(FilterFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"query": "Why did Russia withdraw its peacekeepers from Karabakh?", "k": 5, "mode": "hybrid"},
        {"query": "Armenia", "k": 5, "since": "2024-01-01", "sort": "newest"}]})

    query: Text = Field(description=f"the question or keywords (at most {MAX_QUERY_CHARS} characters)")
    k: StrictInt = Field(DEFAULT_SEARCH_K, description=k_description(DEFAULT_SEARCH_K, "number of passages"))
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


class AskRequest(FilterFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"question": "Why did Russia withdraw from Karabakh?"},
        {"question": "Why are relations between Russia and Armenia strained?", "source": ["Alwaght"]}]})

    question: Text = Field(description=f"the question (at most {MAX_QUERY_CHARS} characters)")
    k: StrictInt = Field(ASK_K, description=k_description(ASK_K, "passages to read"))
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


class TimelineRequest(FilterFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"topic": "Russia Armenia relations"},
        {"topic": "Russia Armenia relations", "since": "2023-09-01", "source": ["Alwaght"]}]})

    topic: Text = Field(description=f"the story to trace (at most {MAX_QUERY_CHARS} characters)")
    k: StrictInt = Field(TIMELINE_K, description=k_description(TIMELINE_K, "passages whose articles are read"))


class HitOut(BaseModel):
    rank: int
    score: float
    passage_id: str
    doc_id: str
    title: str = Field(description="the article's headline")
    source: str = Field(description="its publisher; empty when unknown")
    date: str = Field(description="its publication date, ISO 8601; empty when unknown")
    author: str = Field("", description="its byline; empty when unknown")
    url: str
    text: str
    start: int = Field(description="offset of the passage in the article's cleaned text")
    end: int


class SearchResponse(BaseModel):
    query: str
    mode: str
    filters: dict[str, Any] = Field(description="the filters applied: since, until, source, sort")
    results: list[HitOut]


class CitationOut(BaseModel):
    n: int = Field(description="the number used by the [n] markers in the answer")
    passage_id: str
    doc_id: str
    title: str
    source: str
    date: str
    url: str
    text: str = Field(description="the whole cited passage")
    quote: str = Field(description="the cited sentence; equals article text[start:end]")
    start: int
    end: int
    score: float


class AskResponse(BaseModel):
    question: str
    status: Literal["answered", "evidence", "none"] = Field(
        description="answered: a sentence is judged to answer; evidence: the articles are about the question but no "
                    "sentence is judged a direct answer, so the closest sentences are quoted under `label`; none: "
                    "nothing retrieved is about the question (no quotes)")
    label: str = Field("", description="the line to show above the quotes of an `evidence` answer")
    answer: str = Field(description="answer text with [n] citation markers (status none: a sentence saying so)")
    confident: bool = Field(description="true exactly when status is answered")
    citations: list[CitationOut]
    results: list[HitOut]
    question_type: str = Field("", description="why, how, how many, when, where, who, which, yes/no or other")
    related: list[CitationOut] = Field(default_factory=list,
                                       description="always empty: an evidence answer quotes the closest sentences "
                                                   "as citations (kept for older clients)")
    reason: str = Field("", description="why the answer is (not) marked answered")
    timeline: TimelineOffer | None = Field(
        None, description="present only when the question asks how a story developed (\"How did X evolve?\"): "
                          "the topic to send to /api/timeline")


class TimelineOffer(BaseModel):
    topic: str = Field(description="the story the question asks about: POST it to /api/timeline")
    hint: str


class MentionOut(BaseModel):
    text: str = Field(description="the date phrase as the article writes it (\"four days later\")")
    start: int = Field(description="its offset in the article's cleaned text")
    end: int
    date: str = Field(description="what this report dates the event to (ISO at its precision)")
    precision: Literal["day", "range", "month", "year"]
    end_date: str | None = Field(description="a range's last day")
    basis: Literal["absolute", "publication", "paragraph"] = Field(
        description="what the phrase was resolved against: its own year, the publication date, or a date "
                    "stated earlier in the paragraph")


class TimelineCitationOut(BaseModel):
    doc_id: str
    title: str
    source: str
    date: str = Field(description="the article's publication date, ISO 8601; empty when unknown")
    quote: str = Field(description="the sentence that reports the event; equals article text[start:end]")
    start: int
    end: int
    mention: MentionOut


class TimelineEventOut(BaseModel):
    date: str = Field(description="2023-10-03 (day), 2023-09 (month), 2018 (year) or a range's first day")
    precision: Literal["day", "range", "month", "year"]
    end: str | None = Field(description="a range's last day; null otherwise")
    text: str = Field(description="the sentence that tells the event")
    citations: list[TimelineCitationOut] = Field(description="every report of the event, one per sentence")


class TimelineResponse(BaseModel):
    topic: str
    filters: dict[str, Any] = Field(description="the filters that chose the articles: since, until, source, sort")
    events: list[TimelineEventOut] = Field(description="in date order (first day, then last day)")


class DeleteResponse(BaseModel):
    deleted: list[str] = Field(description="the doc ids removed from the index")


class HealthResponse(BaseModel):
    status: Literal["ok"]
    version: str
    model: str
    index: dict[str, Any]
    auth_required: bool
    limits: dict[str, int]
