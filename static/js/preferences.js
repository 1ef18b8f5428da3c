// The header's language switch submits on change (its button is for browsers without
// JavaScript), and the browser's time zone goes to the server once, in a cookie the
// PreferencesMiddleware reads (accounts/preferences.py), so server-rendered dates follow it.
const TIME_ZONE_COOKIE = "voxa_tz";

const form = document.getElementById("language-form");
if (form) {
  form.querySelector("[data-testid=language-submit]").hidden = true;
  form.elements.language.addEventListener("change", () => form.requestSubmit());
}

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const sent = document.cookie.split("; ").find((pair) => pair.startsWith(`${TIME_ZONE_COOKIE}=`));
if (zone && sent !== `${TIME_ZONE_COOKIE}=${encodeURIComponent(zone)}`) {
  document.cookie = `${TIME_ZONE_COOKIE}=${encodeURIComponent(zone)}; path=/; max-age=31536000; SameSite=Lax`;
}
