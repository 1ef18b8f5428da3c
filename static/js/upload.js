// Upload page: each file goes up in chunks (its own progress bar; a lost chunk is retried and the
// upload resumes), becomes a recording with its job, and that job is followed live.
import {
  JobWatcher,
  api,
  createRecordings,
  describeJob,
  errorText,
  failureText,
  formatBytes,
  getOptions,
  offerLanguages,
  recordingUrl,
  setBar,
  uploadFile,
} from "./api.js";

const PARALLEL_UPLOADS = 3;
const SWITCH_DELAY_MS = 1500; // long enough to see "Done" before the transcript opens

const form = document.getElementById("upload-form");
const input = document.getElementById("file-input");
const zone = document.getElementById("drop-zone");
const list = document.getElementById("upload-list");
const modelSelect = document.getElementById("model");
const languageSelect = document.getElementById("language");
const speakersBox = document.getElementById("speakers");
const numSpeakers = document.getElementById("num-speakers");

const queue = [];
const rowsByJob = new Map(); // job id -> {row, batch}
let uploading = 0;
let maxBytes = Infinity;
let maxMb = null;
let modelHotwords = {};
let modelLanguages = {};
let modelInfo = {};

const watcher = new JobWatcher(showJob);
loadOptions();

async function loadOptions() {
  try {
    const options = await getOptions();
    // The active team's defaults where it has them, else the site's.
    const defaultModel = form.dataset.defaultModel || options.default_model;
    const defaultLanguage = form.dataset.defaultLanguage || "auto";
    for (const model of options.models) {
      modelSelect.append(new Option(model, model, false, model === defaultModel));
    }
    languageSelect.replaceChildren(
      ...options.languages.map(
        ({ code, name }) => new Option(name, code, false, code === defaultLanguage),
      ),
    );
    modelHotwords = options.model_hotwords || {};
    modelLanguages = options.model_languages || {};
    modelInfo = options.model_info || {};
    showModelOptions();
    maxMb = options.max_upload_mb;
    maxBytes = maxMb * 1024 * 1024;
    document.getElementById("limits").textContent =
      interpolate(gettext("Up to %(mb)s MB and %(hours)s hours per file."), { mb: maxMb, hours: options.max_audio_hours }, true) +
      " " +
      gettext("Each file is uploaded in pieces (resumed if the connection drops) and transcribed with the options above.");
  } catch (error) {
    const box = document.getElementById("options-error");
    box.textContent = interpolate(gettext("Could not load the upload options: %(reason)s"), { reason: error.message }, true);
    box.hidden = false;
  }
}

// Says so where the chosen model would not use hotwords (or only as a hint), instead of
// letting them be silently ignored.
function showHotwordsNote() {
  const note = document.getElementById("hotwords-note");
  const model = modelSelect.value;
  const support = modelHotwords[model];
  if (support === null) {
    note.textContent = interpolate(gettext("%(model)s does not use hotwords: they are kept with the job but not applied."), { model }, true);
  } else if (support === "prompt") {
    note.textContent = interpolate(gettext("%(model)s takes hotwords as a prompt hint: they make these words likelier."), { model }, true);
  } else {
    note.textContent = "";
  }
  note.hidden = !note.textContent;
}

// Offers only the languages the chosen model can be told.
function offerModelLanguages() {
  offerLanguages(languageSelect, modelLanguages[modelSelect.value]);
}

// The chosen model's line: languages, strengths, and its recent speed on the workers.
function showModelHelp() {
  const info = modelInfo[modelSelect.value] ?? {};
  const parts = info.description ? [info.description] : [];
  if (info.speed_x != null) {
    parts.push(interpolate(gettext("Lately %s× real time on the workers."), [info.speed_x]));
  }
  document.getElementById("model-help").textContent = parts.join(" ");
}

function showModelOptions() {
  showModelHelp();
  showHotwordsNote();
  offerModelLanguages();
}
modelSelect.addEventListener("change", showModelOptions);

// A number of speakers only means something when they are identified.
function offerSpeakerCount() {
  numSpeakers.disabled = !speakersBox.checked;
}
speakersBox.addEventListener("change", offerSpeakerCount);
offerSpeakerCount();

document.getElementById("choose-files").addEventListener("click", () => input.click());
input.addEventListener("change", () => {
  startBatch([...input.files]);
  input.value = "";
});
form.addEventListener("submit", (event) => event.preventDefault());

zone.addEventListener("dragover", (event) => {
  event.preventDefault();
  zone.classList.add("dragging");
});
zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("dragging");
  startBatch([...event.dataTransfer.files]);
});
// A file dropped beside the zone must not make the browser navigate away to it.
for (const type of ["dragover", "drop"]) {
  window.addEventListener(type, (event) => event.preventDefault());
}

function currentOptions() {
  const options = {
    language: languageSelect.value || "auto",
    hotwords: document.getElementById("hotwords").value,
    itn: document.getElementById("itn").checked ? "true" : "false",
    speakers: speakersBox.checked ? "true" : "false",
  };
  if (modelSelect.value) options.model = modelSelect.value;
  if (speakersBox.checked && numSpeakers.value) options.num_speakers = Number(numSpeakers.value);
  // Into the active workspace: a team's id, or none for the personal one.
  if (form.dataset.team) {
    options.team = Number(form.dataset.team);
    options.private = document.getElementById("private").checked ? "true" : "false";
  }
  return options;
}

function startBatch(files) {
  if (!files.length) return;
  const batch = { size: files.length };
  const options = currentOptions();
  for (const file of files) queue.push({ file, options, batch, row: addRow(file) });
  pump();
}

function pump() {
  while (uploading < PARALLEL_UPLOADS && queue.length) {
    const item = queue.shift();
    uploading += 1;
    send(item).finally(() => {
      uploading -= 1;
      pump();
    });
  }
}

async function send({ file, options, batch, row }) {
  if (file.size > maxBytes) {
    reject(row, file.name, interpolate(gettext("larger than the %(mb)s MB limit (%(size)s)."), { mb: maxMb, size: formatBytes(file.size) }, true));
    return;
  }
  setRow(row, "uploading", interpolate(gettext("Uploading · %(percent)s"), { percent: "0%" }, true), 0);
  let response;
  try {
    const uploadId = await uploadFile(file, {
      team: options.team,
      onProgress: (fraction) => {
        const percent = Math.floor(fraction * 100);
        const text = percent < 100 ? interpolate(gettext("Uploading · %(percent)s"), { percent: `${percent}%` }, true) : gettext("Checking the file…");
        setRow(row, "uploading", text, percent);
      },
      onRetry: (attempt, delayMs, reason) => {
        row.status.textContent = `${reason}: retry ${attempt} in ${delayMs / 1000} s…`;
      },
    });
    response = await createRecordings([uploadId], options);
  } catch (error) {
    reject(row, file.name, error.message);
    return;
  }
  const { status, body } = response;
  const job = body?.jobs?.[0];
  const rejection = body?.rejected?.[0];
  if (job) {
    rowsByJob.set(job.id, { row, batch });
    showJob(job);
    watcher.track(job);
  } else if (rejection) {
    reject(row, rejection.file, rejection.reason);
  } else {
    reject(row, file.name, errorText(body, status));
  }
}

function addRow(file) {
  const li = document.createElement("li");
  li.className = "upload-row";
  li.setAttribute("data-testid", "upload-row");

  const head = document.createElement("div");
  head.className = "row-head";
  const name = document.createElement("span");
  name.className = "file-name";
  name.textContent = file.name;
  const size = document.createElement("span");
  size.className = "hint";
  size.textContent = formatBytes(file.size);
  const status = document.createElement("span");
  status.className = "row-status";
  status.setAttribute("data-testid", "row-status");
  status.textContent = gettext("Waiting to upload");
  // Once its recording exists: a link to it, and Cancel while its job is queued or running.
  const actions = document.createElement("span");
  actions.className = "row-actions";
  const open = document.createElement("a");
  open.className = "button button-small button-secondary";
  open.setAttribute("data-testid", "row-open");
  open.textContent = gettext("Open recording");
  open.hidden = true;
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "button button-small button-secondary";
  cancel.setAttribute("data-testid", "row-cancel");
  cancel.textContent = gettext("Cancel");
  cancel.setAttribute("aria-label", interpolate(gettext("Cancel %s"), [file.name]));
  cancel.hidden = true;
  actions.append(open, cancel);
  head.append(name, size, status, actions);

  const bar = document.createElement("div");
  bar.className = "bar";
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-label", interpolate(gettext("Progress of %(name)s"), { name: file.name }, true));
  bar.setAttribute("data-testid", "row-bar");
  const fill = document.createElement("div");
  fill.className = "bar-fill";
  bar.append(fill);
  setBar(bar, 0);

  const message = document.createElement("p");
  message.className = "row-message";
  message.hidden = true;

  li.append(head, bar, message);
  li.dataset.state = "waiting";
  list.append(li);
  return { li, status, bar, message, open, cancel };
}

function setRow(row, state, text, percent) {
  row.li.dataset.state = state;
  row.status.textContent = text;
  row.bar.dataset.state = state;
  setBar(row.bar, percent);
}

function reject(row, fileName, reason) {
  setRow(row, "rejected", gettext("Rejected"), 0);
  row.bar.hidden = true;
  row.message.className = "row-message error";
  row.message.setAttribute("data-testid", "rejection");
  row.message.textContent = `${fileName}: ${reason}`;
  row.message.hidden = false;
}

function showJob(job) {
  const entry = rowsByJob.get(job.id);
  if (!entry) return;
  const { row, batch } = entry;
  const percent = job.status === "succeeded" ? 100 : job.progress;
  setRow(row, job.status, describeJob(job), percent);
  row.bar.hidden = job.status === "failed" || job.status === "cancelled";
  row.message.replaceChildren();
  row.message.hidden = true;
  row.message.removeAttribute("data-testid");

  const url = recordingUrl(form.dataset.recordingUrl, job.recording.id);
  row.open.href = url;
  row.open.hidden = false;
  row.cancel.hidden = !(job.status === "queued" || job.status === "running");
  row.cancel.onclick = () => cancelJob(row, job.id);
  if (job.status === "succeeded") {
    const link = document.createElement("a");
    link.href = url;
    link.className = "button button-small";
    link.setAttribute("data-testid", "open-transcript");
    link.textContent = gettext("Open transcript");
    row.message.className = "row-message";
    row.message.append(link);
    row.message.hidden = false;
    if (batch.size === 1 && !entry.switching) {
      entry.switching = true;
      setTimeout(() => location.assign(url), SWITCH_DELAY_MS);
    }
  } else if (job.status === "failed" || job.status === "cancelled") {
    const link = document.createElement("a");
    link.href = url;
    link.textContent = gettext("Open the recording to retry");
    const failed = job.status === "failed";
    const reason = failed ? failureText(job) : gettext("Cancelled.");
    row.message.className = failed ? "row-message error" : "row-message";
    row.message.setAttribute("data-testid", "job-error");
    row.message.append(reason, " ", link);
    row.message.hidden = false;
  }
}

async function cancelJob(row, jobId) {
  row.cancel.disabled = true;
  try {
    showJob(await api(`jobs/${jobId}/cancel/`, { method: "POST" }));
  } catch (error) {
    row.message.className = "row-message error";
    row.message.textContent = interpolate(gettext("Could not cancel: %s"), [error.message]);
    row.message.hidden = false;
  } finally {
    row.cancel.disabled = false;
  }
}
