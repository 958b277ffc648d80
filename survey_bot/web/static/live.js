// Keep the live calls page current over Server-Sent Events (progressive enhancement: the page is
// complete without this script; with it, answers and transcripts fill in and ended calls move to the table).
(function () {
  "use strict";
  var main = document.querySelector("main[data-live-page]");
  if (!main || !window.EventSource) { return; }
  var list = document.getElementById("live-calls");
  var none = document.getElementById("no-calls");
  var endedRows = document.getElementById("ended-rows");
  var status = document.getElementById("stream-status");
  var announce = document.getElementById("announce");
  var MAX_ENDED = 10;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function when(iso) {
    return iso ? iso.replace("T", " ").slice(0, 19) + " UTC" : "—";
  }

  function card(c) {
    var article = el("article", { "class": "call", id: "call-" + c.id, "data-id": c.id, "aria-labelledby": "call-" + c.id + "-h" });
    var header = el("header");
    var h3 = el("h3", { id: "call-" + c.id + "-h" });
    h3.appendChild(el("a", { href: c.url }, c.form_title));
    header.appendChild(h3);
    header.appendChild(el("p", { "class": "meta" }, c.direction + " · from " + (c.from || "—") + " to " + (c.to || "—") +
      " · started " + when(c.started_at)));
    if (c.current_field) { header.appendChild(el("p", { "class": "asking" }, "Asking on the keypad: " + c.current_field)); }
    article.appendChild(header);
    var body = el("div", { "class": "call-body" });
    var answers = el("section");
    answers.appendChild(el("h4", {}, "Answers"));
    var dl = el("dl", { "class": "answers" });
    c.answers.forEach(function (a) {
      var row = el("div", { "class": "answer" + (a.value === null ? " pending" : ""), "data-field": a.name });
      row.appendChild(el("dt", {}, a.title));
      var dd = el("dd");
      dd.appendChild(el("span", { "class": "value" }, a.value === null ? "…" : a.value));
      if (a.source) {
        dd.appendChild(document.createTextNode(" "));
        dd.appendChild(el("span", { "class": "badge src-" + a.source }, a.source_label));
      }
      row.appendChild(dd);
      dl.appendChild(row);
    });
    answers.appendChild(dl);
    body.appendChild(answers);
    var transcript = el("section");
    transcript.appendChild(el("h4", {}, "Transcript"));
    var ol = el("ol", { "class": "transcript" });
    if (!c.transcript.length) { ol.appendChild(el("li", { "class": "empty" }, "Nothing said yet.")); }
    c.transcript.forEach(function (t) {
      var li = el("li", { "class": "turn role-" + t.role });
      li.appendChild(el("span", { "class": "role" }, t.role.charAt(0).toUpperCase() + t.role.slice(1)));
      li.appendChild(document.createTextNode(" " + t.content));
      ol.appendChild(li);
    });
    transcript.appendChild(ol);
    body.appendChild(transcript);
    article.appendChild(body);
    return article;
  }

  function refreshEmpty() { none.hidden = list.children.length > 0; }

  function showCall(c) {
    var old = document.getElementById("call-" + c.id);
    var fresh = card(c);
    if (old) { old.replaceWith(fresh); } else { list.insertBefore(fresh, list.firstChild); announce.textContent = "New call: " + c.form_title; }
    refreshEmpty();
  }

  function endCall(e) {
    var old = document.getElementById("call-" + e.id);
    if (old) { old.remove(); }
    var stale = endedRows.querySelector('tr[data-id="' + e.id + '"]');
    if (stale) { stale.remove(); }
    var tr = el("tr", { "data-id": e.id });
    var first = el("td");
    first.appendChild(el("a", { href: e.url }, when(e.started_at)));
    tr.appendChild(first);
    tr.appendChild(el("td", {}, e.form_title));
    tr.appendChild(el("td", {}, e.outcome));
    tr.appendChild(el("td", {}, e.answered));
    endedRows.insertBefore(tr, endedRows.firstChild);
    while (endedRows.children.length > MAX_ENDED) { endedRows.removeChild(endedRows.lastChild); }
    announce.textContent = "Call ended: " + e.form_title + ", " + e.outcome;
    refreshEmpty();
  }

  function sync(data) {
    Array.prototype.slice.call(list.children).forEach(function (node) {
      if (data.live.indexOf(node.getAttribute("data-id")) < 0) { node.remove(); }
    });
    refreshEmpty();
  }

  var source = new EventSource(main.getAttribute("data-stream"));
  source.addEventListener("open", function () { status.textContent = "Live: calls update here as they happen."; main.setAttribute("data-stream-state", "open"); });
  source.addEventListener("error", function () { status.textContent = "Connection lost; reconnecting…"; main.setAttribute("data-stream-state", "reconnecting"); });
  source.addEventListener("call", function (event) { showCall(JSON.parse(event.data)); });
  source.addEventListener("ended", function (event) { endCall(JSON.parse(event.data)); });
  source.addEventListener("sync", function (event) { sync(JSON.parse(event.data)); });
  window.addEventListener("pagehide", function () { source.close(); });
}());
