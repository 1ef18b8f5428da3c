// Shared by every page: API calls with the session's CSRF token, the job-progress websocket,
// and the few formatters the pages have in common.

const API = "/api/";
const POLL_MS = 3000;
const SAFETY_POLL_TICKS = 10; // every 30 s with the socket up
const MAX_BACKOFF_MS = 30000;
const ACTIVE = new Set(["queued", "running"]);

const STAGES = {
  queued: "Waiting in queue",
  downloading_model: "Downloading the model",
  decoding: "Reading the audio",
  segmenting: "Finding speech",
  transcribing: "Transcribing",
  finalizing: "Finishing",
};
const STATUSES = {
  queued: "Queued",
  running: "Running",
  succeeded: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
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
  if (status === 413) return "The file is too large for the server.";
  return `The server answered with an error (HTTP ${status}).`;
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

// One file per request through XMLHttpRequest, because fetch cannot report upload progress.
export function uploadRecording(formData, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}recordings/`);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => resolve({ status: xhr.status, body: xhr.response }));
    xhr.addEventListener("error", () => reject(new Error("The upload was interrupted.")));
    xhr.addEventListener("abort", () => reject(new Error("The upload was aborted.")));
    xhr.send(formData);
  });
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
  if (job.status === "queued") return STAGES.queued;
  return statusLabel(job);
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

export function formatDate(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "";
}

// "/recordings/0/" from the template, with the real id.
export function recordingUrl(template, id) {
  return template.replace(/\/0\/$/, `/${id}/`);
}

// Keeps the page's jobs current. The websocket only says "job N changed"; the state is always
// re-read from the API, so dropped messages cost nothing. While the socket is down, active jobs
// are polled instead, and the socket reconnects with a growing delay.
export class JobWatcher {
  constructor(onJob, { onOtherEvent } = {}) {
    this.onJob = onJob;
    this.onOtherEvent = onOtherEvent;
    this.jobs = new Map(); // id -> {active, inflight, again}
    this.connected = false;
    this.backoff = 1000;
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
    this.jobs.set(job.id, entry);
    // Events sent before the page knew this job were not listened for: read it once now.
    if (entry.active) this.refresh(job.id);
  }

  untrack(id) {
    this.jobs.delete(id);
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws/jobs/`);
    socket.addEventListener("open", () => {
      this.connected = true;
      this.backoff = 1000;
      this.refreshActive();
    });
    socket.addEventListener("message", (event) => {
      let payload;
      try {
        payload = JSON.parse(event.data);
      } catch {
        return;
      }
      if (this.jobs.has(payload.job)) this.refresh(payload.job);
      else this.onOtherEvent?.(payload);
    });
    socket.addEventListener("close", () => {
      this.connected = false;
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    });
  }

  refreshActive() {
    for (const [id, entry] of this.jobs) if (entry.active) this.refresh(id);
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
