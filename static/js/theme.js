// The page's theme: "light", "dark" or the system's (nothing stored). A classic script in <head>
// so the stored choice is on <html> before the first paint; the header's switch changes it.
(function () {
  const KEY = "voxa-theme";
  const root = document.documentElement;

  function stored() {
    try {
      return localStorage.getItem(KEY) || "system";
    } catch {
      return "system"; // storage refused (private mode): the system's theme
    }
  }

  function apply(theme) {
    if (theme === "light" || theme === "dark") root.dataset.theme = theme;
    else delete root.dataset.theme;
  }

  function choose(theme) {
    try {
      if (theme === "system") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, theme);
    } catch {
      // not remembered: it still applies to this page
    }
    apply(theme);
  }

  apply(stored());
  document.addEventListener("DOMContentLoaded", () => {
    const select = document.getElementById("theme-switcher");
    if (!select) return;
    select.value = stored();
    select.addEventListener("change", () => choose(select.value));
  });
})();
