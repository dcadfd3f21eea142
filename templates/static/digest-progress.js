// Keeps a digest's delivery figures current while it sends, by asking the
// dashboard for them every few seconds until the digest is done. Without
// JavaScript a reload of the page shows the same figures.
(function () {
  "use strict";
  var section = document.getElementById("delivery");
  if (!section || section.dataset.status !== "sending" || !window.fetch) {
    return;
  }
  var interval = 2000;
  var bar = document.getElementById("delivery-progress");

  function show(d) {
    ["status", "sent", "failed", "pending", "cancelled", "recipients"].forEach(function (name) {
      var el = section.querySelector('[data-field="' + name + '"]');
      if (el) {
        el.textContent = String(d[name]);
      }
    });
    if (bar) {
      var done = d.sent + d.failed + d.cancelled;
      bar.max = d.recipients;
      bar.value = done;
      bar.textContent = done + " of " + d.recipients;
    }
    section.dataset.status = d.status;
  }

  function poll() {
    fetch(section.dataset.progress, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (resp) {
        if (!resp.ok || resp.headers.get("Content-Type").indexOf("application/json") !== 0) {
          throw new Error("progress: " + resp.status);
        }
        return resp.json();
      })
      .then(function (d) {
        show(d);
        if (d.status === "sending") {
          setTimeout(poll, interval);
        }
      })
      .catch(function () {
        // The session may have ended or the server gone: leave the figures
        // as they are; a reload shows where things stand.
      });
  }
  setTimeout(poll, interval);
})();
