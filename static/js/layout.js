// Every page: keep the browser's time zone in a cookie (pages show times in it unless the user chose
// one under Preferences), and submit the header's language switcher as soon as a language is picked.
// A file, not inline script, so the Content-Security-Policy can forbid inline script.
(function () {
  "use strict";
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.split("; ").indexOf("tz=" + zone) < 0) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) {}
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-submit-on-change]")) event.target.form.submit();
  });
})();
