// Recording page: the latest job's live state, then its transcript (transcript.js).
import {
  JobWatcher,
  api,
  clock,
  describeJob,
  formatBytes,
  formatDate,
  getOptions,
  failureText,
  isActive,
  offerLanguages,
  setBar,
  statusLabel,
} from "./api.js";
import { Transcript } from "./transcript.js";

const page = document.getElementById("recording-page");
const player = document.getElementById("player");
const statusBadge = document.getElementById("job-status");
const detail = document.getElementById("job-detail");
const bar = document.getElementById("job-bar");
const errorBox = document.getElementById("job-error");
const cancelButton = document.getElementById("cancel-button");
const retryButton = document.getElementById("retry-button");
const transcript = document.getElementById("transcript");
const hotwordsLine = document.getElementById("job-hotwords");
const rerunForm = document.getElementById("rerun-form");
const rerunError = document.getElementById("rerun-error");

const jobId = Number(page.dataset.jobId) || null;
const lines = jobId
  ? new Transcript({ jobId, player, mayEdit: page.dataset.mayEdit === "true" })
  : null;
let renderedFinish = null; // finished_at of the transcript on screen
let languageNames = {};
let lastJob = null;
let options = null;

const watcher = new JobWatcher(showJob);
if (jobId) load();
getOptions()
  .then((loaded) => {
    options = loaded;
    languageNames = Object.fromEntries(options.languages.map(({ code, name }) => [code, name]));
    if (lastJob) showJob(lastJob);
  })
  .catch(() => {}); // codes stay readable without their names

async function load() {
  try {
    const job = await api(`jobs/${jobId}/`);
    showJob(job);
    watcher.track(job);
  } catch (error) {
    showError(interpolate(gettext("Could not load the transcription: %(reason)s"), { reason: error.message }, true));
  }
}

function showJob(job) {
  lastJob = job;
  const active = isActive(job);
  statusBadge.textContent = statusLabel(job);
  statusBadge.className = `status status-${job.status}`;
  statusBadge.dataset.status = job.status;
  detail.textContent = jobDetail(job);
  bar.hidden = !active;
  setBar(bar, job.progress);
  cancelButton.hidden = !active;
  retryButton.hidden = !(job.status === "failed" || job.status === "cancelled");
  const hotwords = job.hotwords ?? [];
  hotwordsLine.hidden = hotwords.length === 0;
  hotwordsLine.textContent = interpolate(gettext("Hotwords used: %s"), [hotwords.join(", ")]);
  if (active) rerunForm.hidden = true;
  if (job.status === "failed") showError(failureText(job));
  else errorBox.hidden = true;
  showMeta(job.recording);

  if (job.status === "succeeded" && job.transcript) {
    // The lines speak the transcript's language, whatever the page's (screen readers, fonts).
    const language = job.detected_language || job.transcript.language || job.language;
    document.getElementById("segments").lang = language === "auto" ? "" : language;
    if (renderedFinish !== job.finished_at) lines.load();
    renderedFinish = job.finished_at;
    transcript.hidden = false;
    lines.setVisible(true);
  } else if (transcript) {
    transcript.hidden = true;
    lines.setVisible(false);
    renderedFinish = null;
  }
}

function jobDetail(job) {
  const parts = [];
  if (isActive(job)) parts.push(describeJob(job));
  // A running job's stage is in describeJob's words already: its message repeats it at times.
  if (job.message && !parts.some((part) => part.includes(job.message))) parts.push(job.message);
  parts.push(job.model);
  const language = job.transcript?.language || job.language;
  if (language && language !== "auto") parts.push(languageNames[language] ?? language);
  if (job.status === "succeeded" && job.finished_at) parts.push(interpolate(gettext("finished %(date)s"), { date: formatDate(job.finished_at) }, true));
  return parts.join(" · ");
}

function showMeta(recording) {
  const parts = [clock(recording.duration_s), formatBytes(recording.size_bytes)];
  parts.push(interpolate(gettext("uploaded %(date)s"), { date: formatDate(recording.created_at) }, true));
  document.getElementById("recording-meta").textContent = parts.join(" · ");
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

async function act(button, action) {
  button.disabled = true;
  try {
    const job = await api(`jobs/${jobId}/${action}/`, { method: "POST" });
    showJob(job);
    watcher.track(job);
  } catch (error) {
    const texts = { cancel: gettext("Could not cancel the job: %(reason)s"), retry: gettext("Could not retry the job: %(reason)s") };
    showError(interpolate(texts[action], { reason: error.message }, true));
  } finally {
    button.disabled = false;
  }
}
cancelButton.addEventListener("click", () => act(cancelButton, "cancel"));
retryButton.addEventListener("click", openRerun);
document.getElementById("rerun-close").addEventListener("click", () => (rerunForm.hidden = true));
rerunForm.addEventListener("submit", rerun);
rerunForm.elements.model.addEventListener("change", offerModelLanguages);

// The re-run form, preset with the job's current choices.
function openRerun() {
  const models = options?.models ?? [lastJob.model];
  fillSelect(rerunForm.elements.model, models.map((m) => [m, m]), lastJob.model);
  const languages = Object.entries(languageNames); // "auto" among them
  fillSelect(rerunForm.elements.language, languages, lastJob.language);
  offerModelLanguages();
  rerunForm.elements.hotwords.value = (lastJob.hotwords ?? []).join("\n");
  rerunForm.elements.itn.checked = lastJob.itn;
  rerunError.hidden = true;
  rerunForm.hidden = false;
  rerunForm.elements.model.focus();
}

function offerModelLanguages() {
  const { model, language } = rerunForm.elements;
  offerLanguages(language, options?.model_languages?.[model.value]);
}

function fillSelect(select, choices, current) {
  select.replaceChildren(
    ...choices.map(([value, label]) => new Option(label, value, false, value === current)),
  );
}

async function rerun(event) {
  event.preventDefault();
  const { model, language, hotwords, itn } = rerunForm.elements;
  const body = { model: model.value, language: language.value, hotwords: hotwords.value, itn: itn.checked };
  try {
    const job = await api(`jobs/${jobId}/retry/`, { method: "POST", body });
    rerunForm.hidden = true;
    showJob(job);
    watcher.track(job);
  } catch (error) {
    rerunError.textContent = interpolate(gettext("Could not re-run: %s"), [error.message]);
    rerunError.hidden = false;
  }
}

// Keyboard shortcuts (listed on the page): not while typing, nor with a modifier held, and the
// space bar not on a control it would press.
const SEEK_STEP_S = 5;
const TYPING = "input, textarea, select, [contenteditable], audio";
const PRESSABLE = "button, a, summary";
const SHORTCUTS = {
  " ": () => togglePlay(),
  k: () => togglePlay(),
  j: () => seekBy(-SEEK_STEP_S),
  ArrowLeft: () => seekBy(-SEEK_STEP_S),
  l: () => seekBy(SEEK_STEP_S),
  ArrowRight: () => seekBy(SEEK_STEP_S),
  n: () => lines?.playLine(1),
  p: () => lines?.playLine(-1),
};

document.addEventListener("keydown", (event) => {
  const action = SHORTCUTS[event.key];
  if (!action || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest(TYPING)) return;
  if (event.key === " " && event.target.closest(PRESSABLE)) return;
  if (!player.src) return; // the audio was removed: nothing to play
  event.preventDefault();
  action();
});

function togglePlay() {
  if (player.paused) player.play().catch(() => {});
  else player.pause();
}

function seekBy(seconds) {
  const end = Number.isFinite(player.duration) ? player.duration : Infinity;
  player.currentTime = Math.min(end, Math.max(0, player.currentTime + seconds));
}
