// Keyboard grading: a grade in at most three keystrokes. Enter saves; f / z set every criterion to its
// full / zero points; j / k pick a criterion; h / l (or arrows) move it one allowed value; a digit sets it.
(function () {
  "use strict";
  const form = document.getElementById("grade-form");
  if (!form) {
    const start = document.getElementById("start");
    document.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && start && document.activeElement === document.body) { start.click(); }
    });
    return;
  }
  const rows = Array.from(form.querySelectorAll(".criterion"));
  let current = 0;
  const radios = (row) => Array.from(row.querySelectorAll("input[type=radio]"));
  const choose = (row, index) => {
    const options = radios(row);
    if (!options.length || options[0].disabled) { return; }
    options[Math.max(0, Math.min(options.length - 1, index))].checked = true;
  };
  const select = (index) => {
    if (!rows.length) { return; }
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((row, i) => row.classList.toggle("sel", i === current));
    const id = rows[current].dataset.criterion;
    document.querySelectorAll("mark").forEach((m) => m.classList.toggle("sel", m.dataset.criterion === id));
    rows[current].scrollIntoView({ block: "nearest" });
  };
  const checkedIndex = (row) => radios(row).findIndex((r) => r.checked);
  select(0);
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    const typing = e.target instanceof HTMLTextAreaElement || (e.target instanceof HTMLInputElement && e.target.type !== "radio");
    if (typing) {
      if (e.key === "Escape") { e.target.blur(); }
      return;
    }
    const row = rows[current];
    let handled = true;
    if (e.key === "Enter") { form.requestSubmit(); }
    else if (e.key === "j" || e.key === "ArrowDown") { select(current + 1); }
    else if (e.key === "k" || e.key === "ArrowUp") { select(current - 1); }
    else if (e.key === "h" || e.key === "ArrowLeft") { const i = checkedIndex(row); choose(row, i < 0 ? 0 : i - 1); }
    else if (e.key === "l" || e.key === "ArrowRight") { const i = checkedIndex(row); choose(row, i < 0 ? radios(row).length - 1 : i + 1); }
    else if (e.key === "f") { rows.forEach((r) => choose(r, radios(r).length - 1)); }
    else if (e.key === "z") { rows.forEach((r) => choose(r, 0)); }
    else if (e.key === "c") { document.getElementById("comment").focus(); }
    else if (e.key === "n") { document.getElementById("skip").click(); }
    else if (/^[0-9]$/.test(e.key)) {
      const match = radios(row).findIndex((r) => Number(r.value) === Number(e.key));
      if (match >= 0) { choose(row, match); } else { handled = false; }
    } else { handled = false; }
    if (handled) { e.preventDefault(); }
  });
}());
