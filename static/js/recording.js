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

const jobId = Number(page.dataset.jobId) || null;
const lines = jobId
  ? new Transcript({ jobId, player, mayEdit: page.dataset.mayEdit === "true" })
  : null;
let renderedFinish = null; // finished_at of the transcript on screen
let languageNames = {};
let lastJob = null;

const watcher = new JobWatcher(showJob);
if (jobId) load();
getOptions()
  .then((options) => {
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
  if (job.message) parts.push(job.message);
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
retryButton.addEventListener("click", () => act(retryButton, "retry"));
