// History page: the active workspace's recordings with their latest job, status cells kept live.
import {
  JobWatcher,
  api,
  clock,
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
const moreButton = document.getElementById("load-more");
const errorBox = document.getElementById("history-error");
// The socket carries every workspace of the user's; this page shows one (its team id, or null).
const team = root.dataset.team ? Number(root.dataset.team) : null;

const rows = new Map(); // recording id -> {recording, job, cells}
let nextPage = null;
let languageNames = {};
let reloadTimer = null;

const watcher = new JobWatcher(showJob, { onOtherEvent });

getOptions()
  .then((options) => {
    languageNames = Object.fromEntries(options.languages.map(({ code, name }) => [code, name]));
    for (const entry of rows.values()) fillRow(entry);
  })
  .catch(() => {}); // codes stay readable without their names
reload();

async function reload() {
  rows.clear();
  tbody.replaceChildren();
  await loadPage(`recordings/?workspace=${encodeURIComponent(root.dataset.workspace)}`);
}

async function loadPage(url) {
  moreButton.disabled = true;
  try {
    const page = await api(url);
    for (const recording of page.results) addRow(recording);
    nextPage = page.next;
    errorBox.hidden = true;
  } catch (error) {
    showError(interpolate(gettext("Could not load your recordings: %(reason)s"), { reason: error.message }, true));
  } finally {
    moreButton.disabled = false;
    moreButton.hidden = !nextPage;
    table.hidden = rows.size === 0;
    empty.hidden = rows.size > 0;
  }
}
moreButton.addEventListener("click", () => nextPage && loadPage(nextPage));

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
    cells.name.replaceChildren(link);
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
  table.hidden = rows.size === 0;
  empty.hidden = rows.size > 0;
}
