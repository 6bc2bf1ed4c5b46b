/* newsqa /embed widget: ask /api/ask, render the answer with clickable [n] markers; with
   ?timeline=1, trace a story through /api/timeline and render its dated events as a vertical timeline.
   All article text is inserted as text nodes (textContent), never parsed as HTML: no XSS from content.
   Every [n] in data.answer is a citation marker (the server leaves the articles' own bracketed
   numbers out of the answer text), and marker [n] names citations[n - 1]: one quote each. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var meta = function (name) { var m = document.querySelector('meta[name="' + name + '"]'); return m ? m.content : ""; };
  var token = meta("qa-embed-token");
  var form = $("qa-form"), input = $("qa-q"), button = $("qa-go"), status = $("qa-status");
  var result = $("qa-result"), answerEl = $("qa-answer"), sources = $("qa-sources"), sourcesTitle = $("qa-sources-title");
  var timelineEl = $("qa-timeline"), offer = $("qa-offer");
  var params = new URLSearchParams(window.location.search);
  var timelineMode = params.get("timeline") === "1";
  if (timelineMode) {  // the same form, for a topic
    document.querySelector(".qa-label").textContent = "Trace a story";
    input.placeholder = "e.g. Russia Armenia relations";
    button.textContent = "Timeline";
    document.title = "Timeline of the news";
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function safeUrl(u) {
    try { var p = new URL(u); return (p.protocol === "http:" || p.protocol === "https:") ? p.href : null; }
    catch (e) { return null; }
  }
  function setStatus(text, kind) {
    status.textContent = text || "";
    status.className = "qa-status" + (kind ? " qa-status--" + kind : "");
  }
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function niceDate(iso) {  // "2023-10-13T05:56:00-04:00" -> "13 Oct 2023"
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(iso || ""));
    return m ? parseInt(m[3], 10) + " " + MONTHS[parseInt(m[2], 10) - 1] + " " + m[1] : String(iso || "");
  }
  // Auto-height: tell the host page how tall the widget is whenever that changes, so its
  // iframe can fit the content exactly (the listener snippet is in the README). Only a number
  // is sent, so any origin may receive it.
  var lastHeight = 0;
  function notifyHeight() {
    if (window.parent === window) return;  // not framed
    var h = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (h === lastHeight) return;
    lastHeight = h;
    try { window.parent.postMessage({ type: "newsqa:height", height: h }, "*"); } catch (e) { /* ignore */ }
  }
  if (window.ResizeObserver) new ResizeObserver(notifyHeight).observe(document.documentElement);
  function jump(n) {
    var li = $("qa-src-" + n);
    if (!li) return;
    Array.prototype.forEach.call(sources.querySelectorAll(".qa-src--flash"), function (x) { x.classList.remove("qa-src--flash"); });
    void li.offsetWidth;
    li.classList.add("qa-src--flash");
    li.scrollIntoView({ behavior: "smooth", block: "nearest" });
    li.focus({ preventScroll: true });
  }

  function clearResult() {  // nothing of an earlier answer stays on screen after a failed question
    result.hidden = true;
    answerEl.textContent = "";
    sources.textContent = "";
    sourcesTitle.hidden = true;
    offer.hidden = true;
    offer.textContent = "";
    timelineEl.hidden = true;
    timelineEl.textContent = "";
  }

  function whenText(ev) {  // "3 Oct 2023", "Sep 2023", "2018", "11 Sep 2023 – 20 Sep 2023"
    var d = String(ev.date || "");
    if (ev.precision === "year") return d;
    if (ev.precision === "month") { var m = /^(\d{4})-(\d{2})/.exec(d); return m ? MONTHS[parseInt(m[2], 10) - 1] + " " + m[1] : d; }
    if (ev.precision === "range" && ev.end) return niceDate(d) + " – " + niceDate(ev.end);
    return niceDate(d);
  }

  function renderTimeline(data) {  // year markers, then one card per event: its reports highlighted
    timelineEl.textContent = "";
    var events = data.events || [];
    if (!events.length) { setStatus("No dated events found in the articles about this.", "warn"); return; }
    var year = null, list = null;
    events.forEach(function (ev) {
      var y = String(ev.date || "").slice(0, 4);
      if (y !== year) {
        year = y;
        timelineEl.appendChild(el("h2", "qa-tl__year", y));
        list = el("ol", "qa-tl__events");
        timelineEl.appendChild(list);
      }
      var li = el("li", "qa-tl__event");
      var when = el("time", "qa-tl__when", whenText(ev));
      when.setAttribute("datetime", String(ev.date || ""));
      li.appendChild(when);
      var docs = {};
      (ev.citations || []).forEach(function (c) { docs[c.doc_id] = true; });
      var n = Object.keys(docs).length;
      if (n > 1) li.appendChild(el("span", "qa-tl__badge", "reported by " + n + " articles"));
      (ev.citations || []).forEach(function (c) {
        var q = el("blockquote", "qa-tl__quote");
        q.appendChild(el("mark", null, c.quote));
        li.appendChild(q);
        var bits = [c.title || c.doc_id, c.source, niceDate(c.date)].filter(function (x) { return x; });
        li.appendChild(el("div", "qa-src__meta", bits.join(" · ")));
      });
      list.appendChild(li);
    });
    timelineEl.hidden = false;
  }

  function renderAnswer(data) {
    answerEl.textContent = "";
    sources.textContent = "";
    var known = {};
    (data.citations || []).forEach(function (c) { known[c.n] = c; });
    var parts = String(data.answer || "").split(/\[(\d+)\]/);
    for (var i = 0; i < parts.length; i++) {
      if (i % 2 === 0) { if (parts[i]) answerEl.appendChild(document.createTextNode(parts[i])); continue; }
      var n = parseInt(parts[i], 10);
      if (!known[n]) { answerEl.appendChild(document.createTextNode("[" + parts[i] + "]")); continue; }
      var a = el("a", "qa-cite", n);
      a.href = "#qa-src-" + n;
      a.setAttribute("aria-label", "source " + n + ": " + (known[n].title || known[n].doc_id));
      a.title = known[n].title || known[n].doc_id;
      a.addEventListener("click", (function (k) { return function (ev) { ev.preventDefault(); jump(k); }; })(n));
      answerEl.appendChild(a);
    }
    answerEl.className = "qa-answer" + (data.status === "evidence" ? " qa-answer--evidence" : data.confident ? "" : " qa-answer--unsure");
    if (data.status === "evidence" && data.label) {  // the closest sentences, under an honest label
      answerEl.insertBefore(el("span", "qa-answer__label", data.label), answerEl.firstChild);
    }

    // one list item per article, its quotes in order; numbered [n] when they are citations
    function byArticle(list, numbered) {
      var out = [], byDoc = {};
      list.forEach(function (c) {
        var it = byDoc[c.doc_id];
        if (!it) { it = byDoc[c.doc_id] = { c: c, quotes: [] }; out.push(it); }
        it.quotes.push({ n: numbered ? c.n : null, text: c.quote });
      });
      return out;
    }
    var items = byArticle(data.citations || [], true);
    if (data.status === "none") items = [];  // nothing retrieved is about the question: no quotes
    sourcesTitle.textContent = "Sources";
    sourcesTitle.hidden = items.length === 0;
    items.forEach(function (it) {
      var li = el("li", "qa-src");
      var head = el("div", "qa-src__head");
      var url = safeUrl(it.c.url || "");
      var title = el(url ? "a" : "span", "qa-src__title", it.c.title || it.c.doc_id);
      if (url) { title.href = url; title.target = "_blank"; title.rel = "noopener noreferrer"; }
      head.appendChild(title);
      li.appendChild(head);
      var bits = [it.c.source, niceDate(it.c.date)].filter(function (x) { return x; });
      if (bits.length) li.appendChild(el("div", "qa-src__meta", bits.join(" · ")));
      it.quotes.forEach(function (q) {
        var bq = el("blockquote", "qa-src__quote");
        if (q.n !== null) {
          bq.id = "qa-src-" + q.n;  // one number per quote
          bq.tabIndex = -1;
          bq.appendChild(el("span", "qa-src__n", q.n));
        }
        bq.appendChild(document.createTextNode(q.text));
        li.appendChild(bq);
      });
      sources.appendChild(li);
    });
    sources.className = "qa-sources";
    offer.textContent = "";
    offer.hidden = !data.timeline;
    if (data.timeline) {  // a question about how a story developed: offer its timeline
      var link = el("a", null, "See the timeline of “" + data.timeline.topic + "”");
      link.href = "?timeline=1&q=" + encodeURIComponent(data.timeline.topic);
      offer.appendChild(link);
    }
    result.hidden = false;
  }

  var busy = false;
  function ask(question) {
    question = (question || "").trim();
    if (busy) return;
    if (!question) {
      clearResult(); setStatus(timelineMode ? "Type a topic first." : "Type a question first.", "error");
      input.focus(); notifyHeight(); return;
    }
    busy = true;
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    setStatus(timelineMode ? "Reading the articles for dated events…" : "Searching the articles…", "busy");
    var headers = { "Content-Type": "application/json" };
    if (token) headers["X-Embed-Token"] = token;
    var path = timelineMode ? "api/timeline" : "api/ask";
    var body = timelineMode ? { topic: question } : { question: question };
    fetch(path, { method: "POST", headers: headers, body: JSON.stringify(body) })
      .then(function (r) {
        return r.json().catch(function () { return { error: { message: "The server sent an unreadable reply (HTTP " + r.status + ")." } }; })
          .then(function (body) { return { ok: r.ok, body: body }; });
      })
      .then(function (res) {
        if (!res.ok || res.body.error) {
          clearResult();
          setStatus((res.body.error && res.body.error.message) || "Something went wrong.", "error");
          return;
        }
        if (timelineMode) { setStatus("", ""); clearResult(); renderTimeline(res.body); return; }
        setStatus(res.body.status === "none" ? "Nothing in the articles is about this." : "", res.body.status === "none" ? "warn" : "");
        renderAnswer(res.body);
      })
      .catch(function () { clearResult(); setStatus("Could not reach the server. Try again.", "error"); })
      .then(function () { busy = false; button.disabled = false; form.removeAttribute("aria-busy"); notifyHeight(); });
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); ask(input.value); });
  var q = params.get("q");
  if (q) { input.value = q; ask(q); }
  window.addEventListener("load", notifyHeight);
})();
