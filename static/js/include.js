// Fills every [data-include] element with the HTML fragment at its URL (other apps' partials);
// with data-refresh="<seconds>" it refreshes the fragment while the page is open. A fragment may
// itself hold [data-include] elements (the live session holds billing's cost; the charging region
// holds the live session): they are started after each swap, and stopped before the next one.
// A fragment holding [data-include-done] ends its region's refreshing (the outcome is known).
// A region holding a focused form field is not swapped under the user's fingers.
(function () {
  function busy(el) {
    var active = document.activeElement;
    return active && el.contains(active) && /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(active.tagName);
  }
  function stop(el) {
    if (el._includeTimer) { clearInterval(el._includeTimer); el._includeTimer = null; }
  }
  function load(el) {
    fetch(el.dataset.include, {headers: {"X-Requested-With": "fetch"}, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (!html || !el.isConnected || busy(el)) { return; }
        el.querySelectorAll("[data-include]").forEach(stop);
        el.innerHTML = html;
        if (el.querySelector("[data-include-done]")) { stop(el); }
        el.querySelectorAll("[data-include]").forEach(function (inner) {
          if (inner.parentElement.closest("[data-include]") === el) { start(inner); }
        });
      })
      .catch(function () {});
  }
  function start(el) {
    load(el);
    var every = parseInt(el.dataset.refresh || "0", 10);
    if (every > 0) { el._includeTimer = setInterval(function () { load(el); }, every * 1000); }
  }
  document.querySelectorAll("[data-include]").forEach(function (el) {
    if (!el.parentElement.closest("[data-include]")) { start(el); }
  });
})();
