// Recording page: the latest job's live state, then its transcript synchronised with the player.
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

const page = document.getElementById("recording-page");
const player = document.getElementById("player");
const statusBadge = document.getElementById("job-status");
const detail = document.getElementById("job-detail");
const bar = document.getElementById("job-bar");
const errorBox = document.getElementById("job-error");
const cancelButton = document.getElementById("cancel-button");
const retryButton = document.getElementById("retry-button");
const transcript = document.getElementById("transcript");
const segmentList = document.getElementById("segments");

const jobId = Number(page.dataset.jobId) || null;
let segments = [];
let activeIndex = -1;
let renderedFinish = null; // finished_at of the transcript on screen
let languageNames = {};
let lastJob = null;
// A search result links here with ?t=<seconds>: the player starts there, once.
let linkedTime = Number(new URLSearchParams(window.location.search).get("t")) || null;

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
    if (renderedFinish !== job.finished_at) renderTranscript(job.transcript);
    renderedFinish = job.finished_at;
    transcript.hidden = false;
  } else if (transcript) {
    transcript.hidden = true;
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

function renderTranscript(result) {
  segments = result.segments;
  activeIndex = -1;
  const items = segments.map((segment, index) => {
    const li = document.createElement("li");
    li.className = "segment";
    li.dataset.index = String(index);
    li.dataset.start = String(segment.start);
    li.setAttribute("data-testid", "segment");
    const time = document.createElement("button");
    time.type = "button";
    time.className = "segment-time";
    time.textContent = `[${clock(segment.start)} – ${clock(segment.end)}]`;
    time.setAttribute("aria-label", `Play from ${clock(segment.start)}`);
    const text = document.createElement("span");
    text.className = "segment-text";
    text.textContent = segment.text;
    li.append(time, " ", text);
    return li;
  });
  segmentList.replaceChildren(...items);
  document.getElementById("transcript-empty").hidden = segments.length > 0;
  highlight();
  if (linkedTime !== null) startAt(linkedTime);
  linkedTime = null;
}

function startAt(seconds) {
  const seek = () => {
    player.currentTime = seconds;
  };
  if (player.readyState >= 1) seek();
  else player.addEventListener("loadedmetadata", seek, { once: true });
  segmentList.children[segmentAt(seconds)]?.scrollIntoView({ block: "center" });
}

segmentList?.addEventListener("click", (event) => {
  const item = event.target.closest(".segment");
  // Selecting text to copy it is not a request to seek.
  if (!item || (window.getSelection()?.toString() && event.target.tagName !== "BUTTON")) return;
  player.currentTime = segments[Number(item.dataset.index)].start;
  player.play().catch(() => {});
});

function segmentAt(seconds) {
  return segments.findIndex((s) => s.start <= seconds && seconds < s.end);
}

function highlight() {
  const index = segmentAt(player.currentTime);
  if (index === activeIndex) return;
  segmentList.children[activeIndex]?.classList.remove("active");
  segmentList.children[activeIndex]?.removeAttribute("aria-current");
  activeIndex = index;
  const item = segmentList.children[index];
  if (item) {
    item.classList.add("active");
    item.setAttribute("aria-current", "true");
    if (!player.paused) item.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }
}
player.addEventListener("timeupdate", highlight);
player.addEventListener("seeked", highlight);
