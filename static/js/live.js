// The dashboard's live feed: one WebSocket to /ws/events/, and on each domain event the page's
// live regions that care re-fetch their server-rendered fragment (htmx swaps it in place).
//
// A live region:  <div id="x" data-live-url="?fragment=x" data-live-events="connector.status_changed"
//                      data-live-station="12">…</div>
// Other markup can listen for the DOM event "cn-<event with dots as dashes>" on <body>
// (e.g. hx-trigger="cn-cdr-created from:body").
(function () {
  "use strict";
  var statusEl = document.getElementById("live-status");
  var pending = {};
  var inflight = {};
  var again = {};
  var kept = {};
  var socket = null;
  var retry = 1000;
  var pingTimer = null;

  function setStatus(text, state) {
    if (!statusEl) return;
    // The page gives the words in its language (data-text-live, data-text-retry, data-text-off).
    statusEl.textContent = statusEl.dataset["text" + state.charAt(0).toUpperCase() + state.slice(1)] || text;
    statusEl.dataset.state = state;
  }

  function regions() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live-url]"));
  }

  function refresh(el) {
    var id = el.id;
    if (!id) return;
    // An event during the region's own fetch may postdate what that fetch returns: fetch again after.
    if (inflight[id]) { again[id] = true; return; }
    if (pending[id]) return;
    // Coalesce bursts (a station booting sends a status per connector) into one request.
    pending[id] = setTimeout(function () {
      delete pending[id];
      var current = document.getElementById(id);
      if (!current || !window.htmx) return;
      // Keep the user's place: a region holding focus (e.g. a form being typed in) is not swapped.
      if (current.contains(document.activeElement) && document.activeElement.matches("input, textarea, select")) return;
      inflight[id] = true;
      var done = function () {
        delete inflight[id];
        restoreFields(id);
        if (!again[id]) return;
        delete again[id];
        var next = document.getElementById(id);
        if (next) refresh(next);
      };
      // The region is the request's source: htmx serialises requests per source element, and with
      // the default source (<body>) simultaneous refreshes of different regions replaced each other.
      htmx.ajax("GET", current.dataset.liveUrl, { source: current, target: current, swap: "outerHTML" })
        .then(done, done);
    }, 150);
  }

  // A refresh re-renders the region's forms with their defaults: what the user chose meanwhile (a
  // select, a box ticked, a field typed in but left) is carried over to the new region by id, so a
  // live update landing between choosing and pressing the button never changes what is sent.
  function changedFields(region) {
    var values = {};
    region.querySelectorAll("select[id], input[id], textarea[id]").forEach(function (field) {
      if (field.type === "hidden") return;
      if (field.tagName === "SELECT") {
        var changed = Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
        if (changed) values[field.id] = { value: field.value };
      } else if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) values[field.id] = { checked: field.checked };
      } else if (field.value !== field.defaultValue) {
        values[field.id] = { value: field.value };
      }
    });
    return values;
  }

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id && inflight[target.id]) kept[target.id] = changedFields(target);
  });

  function restoreFields(id) {
    var values = kept[id];
    delete kept[id];
    var region = values ? document.getElementById(id) : null;
    if (!region) return;
    Object.keys(values).forEach(function (fieldId) {
      var field = region.querySelector("#" + CSS.escape(fieldId));
      if (!field) return;
      if ("checked" in values[fieldId]) field.checked = values[fieldId].checked;
      else field.value = values[fieldId].value;
    });
  }

  function concerns(el, type, data) {
    var events = (el.dataset.liveEvents || "").split(/\s+/);
    var wanted = events.some(function (name) {
      return name === "*" || name === type || (name.slice(-1) === "." && type.indexOf(name) === 0);
    });
    if (!wanted) return false;
    var station = el.dataset.liveStation;
    return !station || !data || data.station_id === undefined || String(data.station_id) === station;
  }

  function onEvent(type, data) {
    document.body.dispatchEvent(new CustomEvent("cn-" + type.replace(/\./g, "-"), { detail: data }));
    regions().forEach(function (el) {
      if (concerns(el, type, data)) refresh(el);
    });
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/events/");
    socket.onopen = function () {
      var reconnected = retry > 1000 || document.body.dataset.liveWasOpen === "1";
      retry = 1000;
      document.body.dataset.liveWasOpen = "1";
      setStatus("Live", "live");
      // Events may have been missed while the socket was down: refresh every region once.
      if (reconnected) regions().forEach(refresh);
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, 60000);
    };
    socket.onmessage = function (message) {
      var frame;
      try { frame = JSON.parse(message.data); } catch (e) { return; }
      if (frame.type === "event") onEvent(frame.event, frame.data || {});
    };
    socket.onclose = function (event) {
      clearInterval(pingTimer);
      if (event.code === 4403) { setStatus("Not live (signed out)", "off"); return; }
      setStatus("Reconnecting…", "retry");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  if (window.WebSocket) connect();
})();
