// Refreshes the health page's report every data-refresh seconds, without reloading the page:
// fetches the server-rendered (escaped) report and swaps it in. The server shares one round of
// checks among all the screens asking and reuses it a few seconds, so refreshing costs the
// checked systems little. A failed fetch keeps the report shown and marks it stale.
(function () {
  "use strict";
  var main = document.querySelector("main[data-refresh]");
  var report = document.getElementById("health-report");
  if (!main || !report) {
    return;
  }
  var seconds = parseInt(main.getAttribute("data-refresh"), 10);
  var url = main.getAttribute("data-fragment");
  if (!(seconds > 0) || !url) {
    return;
  }
  function refresh() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        report.innerHTML = html;
        report.classList.remove("stale");
      })
      .catch(function () {
        report.classList.add("stale");
      });
  }
  window.setInterval(refresh, seconds * 1000);
})();
