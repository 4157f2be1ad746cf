// Explanations on demand: poll the item's explanation while the judge generates it, then show it in place.
(function () {
  "use strict";
  const status = document.getElementById("explanation-status");
  if (!status) return;
  const url = status.dataset.url;
  const csrf = document.querySelector('#grade-form input[name="csrf"]').value;

  function show(data) {
    status.dataset.state = data.state;
    for (const box of document.querySelectorAll(".explanation[data-criterion]")) {
      const e = data.criteria[box.dataset.criterion];
      if (e) {
        box.textContent = "";
        if (e.evidence) {
          const quote = document.createElement("span");
          quote.className = "quote";
          quote.textContent = e.evidence;
          box.append("«", quote, "»" + (e.evidence_verified ? "" : " (quote not found in the answer)") + " · ");
        }
        const rationale = document.createElement("span");
        rationale.className = "rationale";
        rationale.textContent = e.rationale;
        box.append(rationale);
      } else if (data.state !== "pending") {
        box.textContent = "no explanation";
      }
    }
    status.textContent = "";
    if (data.state === "pending") {
      status.textContent = "explanation: generating…";
      setTimeout(poll, 1000);
    } else if (data.state === "failed") {
      status.append("explanation failed: " + data.error + " ");
      const retry = document.createElement("button");
      retry.type = "button";
      retry.id = "explanation-retry";
      retry.textContent = "retry";
      retry.addEventListener("click", again);
      status.append(retry);
    }
  }

  function poll() {
    fetch(url, {credentials: "same-origin"}).then((r) => r.json()).then(show)
      .catch(() => setTimeout(poll, 3000));
  }

  function again() {
    const body = new URLSearchParams({csrf: csrf});
    fetch(url, {method: "POST", body: body, credentials: "same-origin"}).then((r) => r.json()).then(show);
  }

  const button = document.getElementById("explanation-retry");
  if (button) button.addEventListener("click", again);
  if (status.dataset.state === "pending") setTimeout(poll, 1000);
})();
