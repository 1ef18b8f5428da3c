// History page: the active workspace's recordings with their latest job, status cells kept live.
import {
  JobWatcher,
  api,
  clock,
  csrfToken,
  describeJob,
  formatDate,
  getOptions,
  isActive,
  recordingUrl,
  statusLabel,
} from "./api.js";

const root = document.getElementById("history");
const tbody = document.getElementById("recordings-body");
const table = document.getElementById("recordings-table");
const empty = document.getElementById("history-empty");
const bulkBar = document.getElementById("bulk-bar");
const bulkCount = document.getElementById("bulk-count");
const selectPage = document.getElementById("select-page");
const noneMatch = document.getElementById("history-none-match");
const filtersForm = document.getElementById("history-filters");
const pager = document.getElementById("pager");
const previousButton = document.getElementById("page-previous");
const nextButton = document.getElementById("page-next");
const pageCount = document.getElementById("page-count");
const errorBox = document.getElementById("history-error");
// The socket carries every workspace of the user's; this page shows one (its team id, or null).
const team = root.dataset.team ? Number(root.dataset.team) : null;

const rows = new Map(); // recording id -> {recording, job, cells}
const PAGE_SIZE = 50; // the API's
// The filters the API takes, kept in the page's URL (durations there in seconds, as the API's).
const FILTERS = ["q", "status", "language", "model", "date_from", "date_to", "duration_min",
  "duration_max", "tag", "ordering"];
const MINUTE_FIELDS = new Set(["duration_min", "duration_max"]);
let page = 1;
let languageNames = {};
let reloadTimer = null;

const watcher = new JobWatcher(showJob, { onOtherEvent });

getOptions()
  .then((options) => {
    languageNames = Object.fromEntries(options.languages.map(({ code, name }) => [code, name]));
    addOptions("filter-language", options.languages.map(({ code, name }) => [code, name]));
    addOptions("filter-model", options.models.map((model) => [model, model]));
    showFiltersOf(new URLSearchParams(location.search));
    for (const entry of rows.values()) fillRow(entry);
  })
  .catch(() => {}); // codes stay readable without their names
showFiltersOf(new URLSearchParams(location.search));
reload();

function addOptions(selectId, pairs) {
  const select = document.getElementById(selectId);
  for (const [value, label] of pairs) select.append(new Option(label, value));
}

// The page's URL -> the form (durations shown in minutes).
function showFiltersOf(params) {
  for (const name of FILTERS) {
    const field = filtersForm.elements[name];
    const value = params.get(name) ?? "";
    field.value = MINUTE_FIELDS.has(name) && value ? String(Number(value) / 60) : value;
    if (name === "ordering" && !field.value) field.value = "-created_at";
  }
  page = Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);
}

// The form -> the query the API and the URL share.
function filterParams() {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = filtersForm.elements[name].value.trim();
    if (!value || (name === "ordering" && value === "-created_at")) continue;
    params.set(name, MINUTE_FIELDS.has(name) ? String(Number(value) * 60) : value);
  }
  return params;
}

function filtersChosen() {
  return filterParams().size > 0;
}

function goTo(newPage) {
  page = newPage;
  const params = filterParams();
  if (page > 1) params.set("page", String(page));
  history.pushState(null, "", params.size ? `?${params}` : location.pathname);
  reload();
}

filtersForm.addEventListener("submit", (event) => {
  event.preventDefault();
  goTo(1);
});
filtersForm.addEventListener("reset", () => setTimeout(() => goTo(1))); // after the form clears
previousButton.addEventListener("click", () => goTo(page - 1));
nextButton.addEventListener("click", () => goTo(page + 1));
window.addEventListener("popstate", () => {
  showFiltersOf(new URLSearchParams(location.search));
  reload();
});

async function reload() {
  for (const entry of rows.values()) if (entry.job) watcher.untrack(entry.job.id);
  rows.clear();
  tbody.replaceChildren();
  showSelection();
  const params = filterParams();
  params.set("workspace", root.dataset.workspace);
  if (page > 1) params.set("page", String(page));
  try {
    const found = await api(`recordings/?${params}`);
    for (const recording of found.results) addRow(recording);
    showPager(found.count, Boolean(found.previous), Boolean(found.next));
    errorBox.hidden = true;
  } catch (error) {
    pager.hidden = true;
    showError(interpolate(gettext("Could not load your recordings: %(reason)s"), { reason: error.message }, true));
  } finally {
    showEmptiness();
  }
}

function showPager(count, hasPrevious, hasNext) {
  const pages = Math.max(1, Math.ceil(count / PAGE_SIZE));
  pager.hidden = pages === 1;
  previousButton.disabled = !hasPrevious;
  nextButton.disabled = !hasNext;
  pageCount.textContent = interpolate(gettext("Page %s of %s"), [page, pages]);
}

function selectedIds() {
  return [...rows.values()].filter((entry) => entry.pick.checked).map((e) => e.recording.id);
}

function showSelection() {
  const count = selectedIds().length;
  bulkBar.hidden = count === 0;
  bulkCount.textContent = interpolate(ngettext("%s selected", "%s selected", count), [count]);
  selectPage.checked = count > 0 && count === rows.size;
}

selectPage.addEventListener("change", () => {
  for (const entry of rows.values()) entry.pick.checked = selectPage.checked;
  showSelection();
});

bulkBar.addEventListener("click", async (event) => {
  const action = event.target.dataset?.action;
  if (!action) return;
  const ids = selectedIds();
  const question = {
    delete: ngettext("Delete %s recording and its transcripts? This cannot be undone.",
      "Delete %s recordings and their transcripts? This cannot be undone.", ids.length),
    rerun: ngettext("Run %s recording again?", "Run %s recordings again?", ids.length),
  }[action];
  if (question && !window.confirm(interpolate(question, [ids.length]))) return;
  const format = document.getElementById("bulk-format").value;
  try {
    if (action === "export") await downloadZip(ids, format);
    else await reportOutcome(await api("recordings/bulk/", { method: "POST", body: { action, ids } }));
  } catch (error) {
    showError(interpolate(gettext("Could not do that: %s"), [error.message]));
  }
});

async function downloadZip(ids, format) {
  const response = await fetch("/api/recordings/bulk/", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify({ action: "export", ids, format }),
  });
  if (!response.ok) throw new Error((await response.json().catch(() => ({}))).detail ?? response.status);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = "transcripts.zip";
  link.click();
  URL.revokeObjectURL(link.href);
}

// What was done, and what was refused and why: nothing is skipped silently.
async function reportOutcome({ refused }) {
  const lines = refused.map(({ id, reason }) => `${rows.get(id)?.recording.name ?? id}: ${reason}`);
  await reload();
  if (lines.length) showError(lines.join(" "));
}

function showEmptiness() {
  table.hidden = rows.size === 0;
  empty.hidden = rows.size > 0 || filtersChosen();
  noneMatch.hidden = rows.size > 0 || !filtersChosen();
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

// Another tab (or the API) started a job for a recording this page does not show yet.
function onOtherEvent(payload) {
  if (payload.team !== team) return; // another workspace's
  const entry = rows.get(payload.recording);
  if (entry) {
    watcher.track({ id: payload.job, status: payload.status });
    return;
  }
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(reload, 500);
}

function cell(tr, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  tr.append(td);
  return td;
}

function button(text, testid, onClick, className = "button button-small button-secondary") {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = text;
  b.setAttribute("data-testid", testid);
  b.addEventListener("click", onClick);
  return b;
}

function addRow(recording) {
  if (rows.has(recording.id)) return;
  const tr = document.createElement("tr");
  tr.dataset.recording = String(recording.id);
  tr.setAttribute("data-testid", "recording-row");
  const entry = { recording, job: recording.latest_job, tr };
  const pick = document.createElement("input");
  pick.type = "checkbox";
  pick.setAttribute("aria-label", interpolate(gettext("Select “%s”"), [recording.name]));
  pick.setAttribute("data-testid", "select-row");
  pick.addEventListener("change", showSelection);
  cell(tr).append(pick);
  entry.pick = pick;
  entry.cells = {
    name: cell(tr, "name"),
    status: cell(tr, "status-cell"),
    duration: cell(tr, "num"),
    language: cell(tr),
    created: cell(tr, "hint created"),
    actions: cell(tr, "actions"),
  };
  entry.cells.status.setAttribute("data-testid", "status-cell");
  const open = document.createElement("a");
  open.className = "button button-small button-secondary";
  open.href = recordingUrl(root.dataset.recordingUrl, recording.id);
  open.textContent = gettext("Open");
  open.setAttribute("data-testid", "open");
  entry.rerun = button(gettext("Re-run"), "rerun", () => rerun(entry));
  entry.cells.actions.append(
    open,
    entry.rerun,
    button(gettext("Rename"), "rename", () => startRename(entry)),
    button(gettext("Delete"), "delete", () => remove(entry), "button button-small button-danger"),
  );
  rows.set(recording.id, entry);
  tbody.append(tr);
  fillRow(entry);
  if (entry.job) watcher.track(entry.job);
}

function fillRow(entry) {
  const { recording, job, cells } = entry;
  if (!entry.renaming) {
    const link = document.createElement("a");
    link.href = recordingUrl(root.dataset.recordingUrl, recording.id);
    link.textContent = recording.name;
    cells.name.replaceChildren(link, ...(recording.tags ?? []).map(tagChip));
  }
  const badge = document.createElement("span");
  if (job) {
    badge.className = `status status-${job.status}`;
    badge.textContent = statusLabel(job);
    badge.dataset.status = job.status;
    cells.status.replaceChildren(badge);
    if (isActive(job)) {
      const detail = document.createElement("span");
      detail.className = "status-detail";
      detail.textContent = describeJob(job);
      cells.status.append(detail);
    }
    cells.status.title = job.status === "failed" ? job.error : "";
  } else {
    cells.status.replaceChildren("—");
  }
  cells.duration.textContent = clock(recording.duration_s);
  cells.language.textContent = languageOf(job);
  cells.created.textContent = formatDate(recording.created_at);
  entry.rerun.disabled = !job || isActive(job);
}

// A tag under the name; a click shows the recordings that have it.
function tagChip(name) {
  const chip = document.createElement("button");
  chip.type = "button";
  chip.className = "tag-chip";
  chip.textContent = name;
  chip.title = interpolate(gettext("Show the recordings tagged “%s”"), [name]);
  chip.setAttribute("data-testid", "tag-chip");
  chip.addEventListener("click", () => {
    filtersForm.elements.tag.value = name;
    goTo(1);
  });
  return chip;
}

function languageOf(job) {
  if (!job) return "—";
  const code = job.detected_language || job.transcript?.language || job.language;
  if (code === "auto") return gettext("Auto");
  return languageNames[code] ?? code;
}

function showJob(job) {
  const entry = rows.get(job.recording.id);
  if (!entry || (entry.job && job.id < entry.job.id)) return;
  if (job.recording.team !== team) {
    dropRow(entry); // moved into a team since the page loaded
    return;
  }
  entry.job = job;
  entry.recording = { ...entry.recording, ...job.recording };
  fillRow(entry);
}

async function rerun(entry) {
  entry.rerun.disabled = true;
  try {
    const job = await api(`jobs/${entry.job.id}/retry/`, { method: "POST" });
    showJob(job);
    watcher.track(job);
  } catch (error) {
    showError(interpolate(gettext("Could not re-run “%(name)s”: %(reason)s"), { name: entry.recording.name, reason: error.message }, true));
    fillRow(entry);
  }
}

function startRename(entry) {
  if (entry.renaming) return;
  entry.renaming = true;
  const form = document.createElement("form");
  form.className = "rename-form";
  const input = document.createElement("input");
  input.type = "text";
  input.value = entry.recording.name;
  input.maxLength = 255;
  input.required = true;
  input.setAttribute("aria-label", gettext("New name"));
  input.setAttribute("data-testid", "rename-input");
  const save = document.createElement("button");
  save.type = "submit";
  save.className = "button button-small";
  save.textContent = gettext("Save");
  save.setAttribute("data-testid", "rename-save");
  const cancel = button(gettext("Cancel"), "rename-cancel", () => finishRename(entry));
  form.append(input, save, cancel);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    try {
      const recording = await api(`recordings/${entry.recording.id}/`, {
        method: "PATCH",
        body: { name: input.value.trim() },
      });
      entry.recording = { ...entry.recording, ...recording };
      finishRename(entry);
    } catch (error) {
      showError(interpolate(gettext("Could not rename: %(reason)s"), { reason: error.message }, true));
      save.disabled = false;
    }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") finishRename(entry);
  });
  entry.cells.name.replaceChildren(form);
  input.select();
}

function finishRename(entry) {
  entry.renaming = false;
  fillRow(entry);
}

async function remove(entry) {
  const name = entry.recording.name;
  if (!window.confirm(interpolate(gettext("Delete “%(name)s” and its transcripts? This cannot be undone."), { name }, true))) return;
  try {
    await api(`recordings/${entry.recording.id}/`, { method: "DELETE" });
  } catch (error) {
    showError(interpolate(gettext("Could not delete “%(name)s”: %(reason)s"), { name, reason: error.message }, true));
    return;
  }
  dropRow(entry);
}

function dropRow(entry) {
  if (entry.job) watcher.untrack(entry.job.id);
  rows.delete(entry.recording.id);
  entry.tr.remove();
  showEmptiness();
}
