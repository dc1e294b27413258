// Refreshes the live part of a page every data-refresh seconds, without reloading it: fetches
// the server-rendered (escaped) fragment at data-fragment and swaps it into the element whose
// id is data-target, all three read from the page's <main>. No inline code, so the
// Content-Security-Policy stays strict. A failed fetch keeps what is shown and marks it stale.
(function () {
  "use strict";
  var main = document.querySelector("main[data-refresh]");
  if (!main) {
    return;
  }
  var seconds = parseInt(main.getAttribute("data-refresh"), 10);
  var url = main.getAttribute("data-fragment");
  var target = document.getElementById(main.getAttribute("data-target") || "");
  if (!(seconds > 0) || !url || !target) {
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
        target.innerHTML = html;
        target.classList.remove("stale");
      })
      .catch(function () {
        target.classList.add("stale");
      });
  }
  window.setInterval(refresh, seconds * 1000);
})();
