// The header's language switch submits on change (its button is for browsers without
// JavaScript), and the browser's time zone goes to the server once, in a cookie the
// PreferencesMiddleware reads (accounts/preferences.py), so server-rendered dates follow it.
const TIME_ZONE_COOKIE = "voxa_tz";

const form = document.getElementById("language-form");
if (form) {
  form.querySelector("[data-testid=language-submit]").hidden = true;
  form.elements.language.addEventListener("change", () => form.requestSubmit());
}

// IANA names ("Asia/Shanghai") are safe in a cookie as they are; the server reads them unquoted.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const sent = document.cookie.split("; ").includes(`${TIME_ZONE_COOKIE}=${zone}`);
if (zone && !sent) {
  document.cookie = `${TIME_ZONE_COOKIE}=${zone}; path=/; max-age=31536000; SameSite=Lax`;
}
