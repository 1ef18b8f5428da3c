// The header's workspace switcher: a change submits it at once, so its button (there for
// browsers without JavaScript) is hidden.
const form = document.getElementById("workspace-form");
if (form) {
  form.querySelector("[data-testid=workspace-submit]").hidden = true;
  form.elements.workspace.addEventListener("change", () => form.requestSubmit());
}
