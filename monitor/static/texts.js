// The page's texts in the reader's language, for the app's scripts: `t("Show more")`,
// `t("%(n)s alerts", {n: 3})`, `label("case_status", "open")`; `both()` and `bothLabels()` add the English (the public board). The server embeds the translations as
// JSON in every page (base.html); a text missing there is shown as written.
"use strict";
const HW_TEXTS = JSON.parse(document.getElementById("client-texts").textContent);
function t(message, values = {}) {
  const text = HW_TEXTS.texts[message] || message;
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key]));
}
// The text in the reader's language followed by the English (the public board), or just the English.
function both(message) {
  const translated = t(message);
  return translated === message ? message : `${translated} ${message}`;
}
function bothLabels(group, value) {
  const english = (HW_TEXTS.names[group] || {})[value] || String(value);
  const translated = label(group, value);
  return translated === english ? english : `${translated} ${english}`;
}
function label(group, value) {
  return (HW_TEXTS.labels[group] || {})[value] || String(value).replaceAll("_", " ");
}
const HW_TZ = document.querySelector('meta[name="site-tz"]')?.content || undefined;
// A moment as the site's wall clock shows it: "14:03:09" (or with the date: "2026-03-01 14:03").
function clock(iso, withDate = false) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {timeZone: HW_TZ, hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"})
    .formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return withDate ? `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`
    : `${parts.hour}:${parts.minute}:${parts.second}`;
}
