// Behaviour that pages declare in their markup, so that no page carries inline script: the
// Content-Security-Policy lets only this app's own script files run.

// <form data-confirm="Question?">: ask before submitting.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (message && !window.confirm(message)) event.preventDefault();
});

// <input data-default-now>: an empty field starts at now, in the device's own time zone, as
// 2026-03-01T10:42:00+08:00 (an inspector standing in the hall plans for the moment they are in).
document.addEventListener("DOMContentLoaded", () => {
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  for (const field of document.querySelectorAll("input[data-default-now]")) {
    if (field.value) continue;
    const d = new Date(), off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-";
    field.value = new Date(d.getTime() + off * 60000).toISOString().slice(0, 19) + sign + pad(off / 60) + ":"
      + pad(off % 60);
  }
});

// <select class="autosubmit">: choosing an option submits its form (the language switch).
document.addEventListener("change", (event) => {
  if (event.target.matches && event.target.matches("select.autosubmit")) event.target.form.submit();
});
