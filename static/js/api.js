// Shared by every page: API calls with the session's CSRF token, the job-progress websocket,
// and the few formatters the pages have in common.

const API = "/api/";
const POLL_MS = 3000;
const SAFETY_POLL_TICKS = 10; // every 30 s with the socket up
const MAX_BACKOFF_MS = 30000;
const ACTIVE = new Set(["queued", "running"]);

const STAGES = {
  queued: gettext("Waiting in queue"),
  downloading_model: gettext("Downloading the model"),
  decoding: gettext("Reading the audio"),
  segmenting: gettext("Finding speech"),
  transcribing: gettext("Transcribing"),
  diarizing: gettext("Finding who spoke when"),
  finalizing: gettext("Finishing"),
};
// A waiting job's place: "#3 in queue, starts in about 2 min".
const QUEUE_TEXT = {
  position: (n) => interpolate(gettext("#%(n)s in queue"), { n }, true),
  soon: gettext("starts in under a minute"),
  minutes: (m) => interpolate(gettext("starts in about %(m)s min"), { m }, true),
  hours: (h, m) => interpolate(gettext("starts in about %(h)s h %(m)s min"), { h, m }, true),
};
// After a queue event, the waiting jobs are re-read at most this often (the queue moves at
// every job a worker takes: a busy fleet would otherwise have each page read on each one).
const QUEUE_REFRESH_MS = 2000;
const STATUSES = {
  queued: gettext("Queued"),
  running: gettext("Running"),
  succeeded: gettext("Done"),
  failed: gettext("Failed"),
  cancelled: gettext("Cancelled"),
};

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// A DRF error body as one readable sentence: {"detail": "..."} or {"field": ["..."]}.
export function errorText(body, status) {
  if (body && typeof body === "object") {
    if (typeof body.detail === "string") return body.detail;
    const parts = Object.entries(body).map(([field, value]) => {
      const text = Array.isArray(value) ? value.join(" ") : String(value);
      return field === "non_field_errors" ? text : `${field}: ${text}`;
    });
    if (parts.length) return parts.join(" ");
  }
  if (status === 413) return gettext("The file is too large for the server.");
  return interpolate(gettext("The server answered with an error (HTTP %(status)s)."), { status }, true);
}

export async function api(path, { method = "GET", body } = {}) {
  const url = path.startsWith("/") || /^https?:/.test(path) ? path : API + path;
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(errorText(data, response.status), response.status, data);
  return data;
}

let optionsPromise = null;
export function getOptions() {
  optionsPromise ??= api("options/").catch((error) => {
    optionsPromise = null;
    throw error;
  });
  return optionsPromise;
}

// Large files go up in chunks (the resumable upload API): announced with their size, then sent
// piece by piece at the server's offset. A chunk that fails for the network or the server is
// sent again after a growing pause, from the offset the server says it holds.
const CHUNK_RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 16000, 30000];

class ChunkError extends Error {
  constructor(message, retryable) {
    super(message);
    this.retryable = retryable;
  }
}

// Sends one file; resolves with its upload id once the server holds every byte.
// onProgress(fraction) as bytes go up; onRetry(attempt, delayMs, message) before each retry.
// `team`: the workspace it goes into, whose storage quota the server checks before a byte is sent.
export async function uploadFile(file, { team, onProgress, onRetry } = {}) {
  const body = { name: file.name, size: file.size };
  if (team) body.team = team;
  const upload = await api("uploads/", { method: "POST", body });
  let offset = upload.offset;
  let failures = 0;
  while (offset < file.size) {
    const end = Math.min(offset + upload.chunk_bytes, file.size);
    const start = offset;
    try {
      offset = await sendChunk(upload.id, start, file.slice(start, end), (loaded) =>
        onProgress?.((start + loaded) / file.size),
      );
      failures = 0;
    } catch (error) {
      if (!error.retryable) throw error;
      if (failures >= CHUNK_RETRY_DELAYS_MS.length) {
        api(`uploads/${upload.id}/`, { method: "DELETE" }).catch(() => {});
        const percent = Math.floor((100 * offset) / file.size);
        throw new Error(
          interpolate(
            gettext(
              "the upload stopped at %(percent)s and was given up after %(failures)s retries " +
                "(%(reason)s). Check the connection and upload the file again.",
            ),
            { percent: `${percent}%`, failures, reason: error.message },
            true,
          ),
        );
      }
      const delay = CHUNK_RETRY_DELAYS_MS[failures];
      failures += 1;
      onRetry?.(failures, delay, error.message);
      await new Promise((resolve) => setTimeout(resolve, delay));
      offset = await serverOffset(upload.id, offset);
    }
  }
  onProgress?.(1);
  return upload.id;
}

// Where the server stands; `known` while it cannot be asked (the next chunk will tell).
async function serverOffset(id, known) {
  try {
    return (await api(`uploads/${id}/`)).offset;
  } catch (error) {
    if (error.status && error.status < 500) throw error;
    return known;
  }
}

// One chunk through XMLHttpRequest, because fetch cannot report upload progress. Resolves with
// the server's new offset; a 409 (the server holds another offset) is retried from there.
function sendChunk(id, offset, blob, onLoaded) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PATCH", `${API}uploads/${id}/`);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Upload-Offset", String(offset));
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => onLoaded(event.loaded));
    xhr.addEventListener("load", () => {
      const body = xhr.response;
      // 409: the server holds another offset (a chunk whose answer was lost): go on from there.
      if (xhr.status === 200 || xhr.status === 409) resolve(body.offset);
      else {
        const retryable = xhr.status >= 500 || xhr.status === 429;
        reject(new ChunkError(errorText(body, xhr.status), retryable));
      }
    });
    xhr.addEventListener("error", () => reject(new ChunkError("the connection was lost", true)));
    xhr.addEventListener("abort", () => reject(new ChunkError("the upload was aborted", false)));
    xhr.send(blob);
  });
}

// Turns finished uploads into recordings with their jobs: {status, body} as the server answered
// ({jobs, rejected}), errors included.
export async function createRecordings(uploadIds, options) {
  const headers = {
    Accept: "application/json",
    "Content-Type": "application/json",
    "X-CSRFToken": csrfToken(),
  };
  const response = await fetch(`${API}recordings/`, {
    method: "POST",
    credentials: "same-origin",
    headers,
    body: JSON.stringify({ ...options, uploads: uploadIds }),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

// Offers in a language <select> only the codes a model can be told (`allowed`: its
// options.model_languages entry, null for any); "auto" always.
export function offerLanguages(select, allowed) {
  for (const option of select.options) {
    option.disabled = Boolean(allowed) && option.value !== "auto" && !allowed.includes(option.value);
  }
  if (select.selectedOptions[0]?.disabled) select.value = "auto";
}

// A failed job's reason, for people.
export function failureText(job) {
  const reason = job.error || gettext("no reason given");
  return interpolate(gettext("Transcription failed: %(reason)s"), { reason }, true);
}

export function isActive(job) {
  return ACTIVE.has(job.status);
}

export function statusLabel(job) {
  return STATUSES[job.status] ?? job.status;
}

// What a job is doing now, in words: "Transcribing · 42%".
export function describeJob(job) {
  if (job.status === "running") {
    const stage = STAGES[job.stage] ?? job.stage;
    return `${stage} · ${Math.round(job.progress)}%`;
  }
  if (job.status === "queued") return queuePlace(job) ?? STAGES.queued;
  return statusLabel(job);
}

// "#3 in queue, starts in about 2 min"; null for a job without a place (not sent yet).
export function queuePlace(job) {
  if (job.queue_position == null) return null;
  const position = QUEUE_TEXT.position(job.queue_position);
  return job.eta_s == null ? position : `${position}, ${expectedStart(job.eta_s)}`;
}

function expectedStart(seconds) {
  const minutes = Math.round(seconds / 60);
  if (minutes < 1) return QUEUE_TEXT.soon;
  if (minutes < 60) return QUEUE_TEXT.minutes(minutes);
  return QUEUE_TEXT.hours(Math.floor(minutes / 60), minutes % 60);
}

// Sets a .bar element (with a .bar-fill child) to a percentage.
export function setBar(bar, percent) {
  const value = Math.max(0, Math.min(100, Math.round(percent)));
  bar.querySelector(".bar-fill").style.width = `${value}%`;
  bar.setAttribute("aria-valuenow", String(value));
}

export function clock(seconds) {
  if (seconds == null || Number.isNaN(seconds)) return "—";
  const total = Math.floor(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${String(m).padStart(2, "0")}:${s}`;
}

export function formatBytes(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit && value < 10 ? 1 : 0)} ${units[unit]}`;
}

// In the page's language and the user's time zone (both on <html>: base.html), so a date reads
// like the text around it and like the server-rendered dates.
export function formatDate(iso, timeStyle = "short") {
  if (!iso) return "";
  const root = document.documentElement;
  return new Date(iso).toLocaleString(root.lang, {
    dateStyle: "medium",
    timeStyle,
    timeZone: root.dataset.timeZone || undefined,
  });
}

// "/recordings/0/" from the template, with the real id.
export function recordingUrl(template, id) {
  return template.replace(/\/0\/$/, `/${id}/`);
}

// A websocket to the portal's `path` that hands each JSON message to onMessage, and opens again
// with a growing delay whenever it closes, unless onClose(event, delayMs) returns false.
export function liveSocket(path, { onOpen, onMessage, onClose }) {
  let backoff = 1000;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${path}`);
    socket.addEventListener("open", () => {
      backoff = 1000;
      onOpen?.();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (onClose?.(event, backoff) === false) return;
      setTimeout(open, backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    });
  };
  open();
}

// One /ws/jobs/ socket per page, shared by every listener ({onOpen, onMessage, onClose}): the
// page's JobWatcher and the job-end notifier (notify.js) hear the same events.
const jobListeners = new Set();
let jobSocketOpen = null; // null: not opened yet; then whether it is connected now
export function listenToJobs(listener) {
  jobListeners.add(listener);
  if (jobSocketOpen === null) {
    jobSocketOpen = false;
    liveSocket("/ws/jobs/", {
      onOpen: () => {
        jobSocketOpen = true;
        for (const each of jobListeners) each.onOpen?.();
      },
      onMessage: (payload) => {
        for (const each of jobListeners) each.onMessage(payload);
      },
      onClose: () => {
        jobSocketOpen = false;
        for (const each of jobListeners) each.onClose?.();
      },
    });
  } else if (jobSocketOpen) listener.onOpen?.();
}

// Keeps the page's jobs current. The websocket only says "job N changed"; the state is always
// re-read from the API, so dropped messages cost nothing. While the socket is down, active jobs
// are polled instead, and the socket reconnects with a growing delay. "The queue moved" (another
// job was taken or left ahead of the user's) re-reads the waiting ones for their new places.
export class JobWatcher {
  constructor(onJob, { onOtherEvent } = {}) {
    this.onJob = onJob;
    this.onOtherEvent = onOtherEvent;
    this.jobs = new Map(); // id -> {active, queued, inflight, again}
    this.queueTimer = null;
    this.connected = false;
    this.connect();
    // Poll while the socket is down; while it is up, still re-read now and then, because the
    // channel layer may drop an event and the last one of a job must not be missed.
    let ticks = 0;
    setInterval(() => {
      ticks += 1;
      if (!this.connected || ticks % SAFETY_POLL_TICKS === 0) this.refreshActive();
    }, POLL_MS);
  }

  track(job) {
    const entry = this.jobs.get(job.id) ?? { inflight: false, again: false };
    entry.active = isActive(job);
    entry.queued = job.status === "queued";
    this.jobs.set(job.id, entry);
    // Events sent before the page knew this job were not listened for: read it once now.
    if (entry.active) this.refresh(job.id);
  }

  untrack(id) {
    this.jobs.delete(id);
  }

  connect() {
    listenToJobs({
      onOpen: () => {
        this.connected = true;
        this.refreshActive();
      },
      onMessage: (payload) => {
        if (payload.queue === "moved") this.queueMoved();
        else if (this.jobs.has(payload.job)) this.refresh(payload.job);
        else this.onOtherEvent?.(payload);
      },
      onClose: () => {
        this.connected = false;
      },
    });
  }

  refreshActive() {
    for (const [id, entry] of this.jobs) if (entry.active) this.refresh(id);
  }

  // Once per QUEUE_REFRESH_MS at most, after the events of that while: the last read follows
  // the last move.
  queueMoved() {
    this.queueTimer ??= setTimeout(() => {
      this.queueTimer = null;
      for (const [id, entry] of this.jobs) if (entry.queued) this.refresh(id);
    }, QUEUE_REFRESH_MS);
  }

  // At most one request per job in flight; an event during it asks for one more read after.
  async refresh(id) {
    const entry = this.jobs.get(id);
    if (!entry) return;
    if (entry.inflight) {
      entry.again = true;
      return;
    }
    entry.inflight = true;
    try {
      const job = await api(`jobs/${id}/`);
      entry.active = isActive(job);
      entry.queued = job.status === "queued";
      this.onJob(job);
    } catch (error) {
      if (error.status === 404) this.jobs.delete(id);
      else console.warn(`Could not read job ${id}:`, error);
    } finally {
      entry.inflight = false;
      if (entry.again && this.jobs.has(id)) {
        entry.again = false;
        this.refresh(id);
      }
    }
  }
}
