// Refreshes the overview's table body every data-refresh seconds, without reloading the page:
// fetches the server-rendered (escaped) rows and swaps them in. No inline code, so the
// Content-Security-Policy stays strict. A failed fetch keeps the rows shown and marks them stale.
(function () {
  "use strict";
  var main = document.querySelector("main[data-refresh]");
  var body = document.getElementById("overview-rows");
  if (!main || !body) {
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
        body.innerHTML = html;
        body.classList.remove("stale");
      })
      .catch(function () {
        body.classList.add("stale");
      });
  }
  window.setInterval(refresh, seconds * 1000);
})();
