// Forms with data-confirm="question" ask before they submit (instead of an inline onsubmit, which the
// Content-Security-Policy forbids).
document.querySelectorAll("form[data-confirm]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  });
});
