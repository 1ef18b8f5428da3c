// Recording page: the latest job's live state, then its transcript (transcript.js).
import {
  JobWatcher,
  api,
  clock,
  describeJob,
  formatBytes,
  formatDate,
  getOptions,
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
    showError(`Could not load the transcription: ${error.message}`);
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
  if (job.status === "failed") showError(`Transcription failed: ${job.error || "no reason given"}`);
  else errorBox.hidden = true;
  showMeta(job.recording);

  if (job.status === "succeeded" && job.transcript) {
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
  if (job.status === "succeeded" && job.finished_at) parts.push(`finished ${formatDate(job.finished_at)}`);
  return parts.join(" · ");
}

function showMeta(recording) {
  const parts = [clock(recording.duration_s), formatBytes(recording.size_bytes)];
  parts.push(`uploaded ${formatDate(recording.created_at)}`);
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
    showError(`Could not ${action} the job: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}
cancelButton.addEventListener("click", () => act(cancelButton, "cancel"));
retryButton.addEventListener("click", () => act(retryButton, "retry"));

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
