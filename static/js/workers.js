// Workers page, for site staff: every worker live over /ws/workers/, the actions sent to them
// with each worker's answer, the queue and the audit log. The socket sends the whole list as it
// opens, then each worker's status at every heartbeat; a worker silent for OFFLINE_INTERVALS of
// its own heartbeats is shown offline here before the server's list says so.
import { api, clock, describeJob, formatBytes, formatDate, liveSocket } from "./api.js";

const root = document.getElementById("workers-page");
const OFFLINE_INTERVALS = Number(root.dataset.offlineIntervals) || 3;
const QUEUE_REFRESH_MS = 5000;
const DASH = "—";
const STATES = {
  running: gettext("Running"),
  paused: gettext("Paused"),
  draining: gettext("Draining"),
  drained: gettext("Drained"),
  offline: gettext("Offline"),
};
const ACTIONS = {
  clear_cache: gettext("Clear cache"),
  pause: gettext("Pause"),
  resume: gettext("Resume"),
  drain: gettext("Drain"),
  load_model: gettext("Load model"),
  unload_model: gettext("Unload model"),
  cancel_job: gettext("Cancel job"),
  retry_job: gettext("Retry job"),
};
const MODEL_ACTIONS = new Set(["load_model", "unload_model"]);
// A heartbeat the worker wrote just before it was paused (or resumed) can arrive just after its
// answer: for this long after an answer, the state the answer gave is kept.
const ANSWER_HOLDS_STATE_MS = 2000;
// The socket's refusals (operations.consumers): reconnecting would be refused again.
const REFUSED = {
  4401: gettext("Your session has ended: log in again."),
  4403: gettext("This page is for site staff."),
};

const list = document.getElementById("worker-list");
const empty = document.getElementById("workers-empty");
const liveState = document.getElementById("live-state");
const errorBox = document.getElementById("workers-error");
const actionsTemplate = document.getElementById("actions-template");
const fleetAnswer = document.getElementById("fleet-answer");

const cards = new Map(); // worker name -> {worker, receivedAt, card, parts}

// Workers

function connect() {
  liveSocket("/ws/workers/", {
    onOpen: () => {
      liveState.textContent = gettext("Live");
      errorBox.hidden = true;
    },
    onMessage: (message) => {
      if (message.type === "workers") showAll(message.workers);
      else if (message.type === "worker") showWorker(message.worker);
    },
    onClose: (event, delayMs) => {
      if (REFUSED[event.code]) {
        liveState.textContent = gettext("Not connected");
        showError(errorBox, REFUSED[event.code]);
        return false;
      }
      liveState.textContent = `Connection lost: reconnecting in ${Math.round(delayMs / 1000)} s…`;
      return true;
    },
  });
}

function showAll(workers) {
  const names = new Set(workers.map((worker) => worker.name));
  for (const [name, entry] of cards) {
    if (!names.has(name)) {
      entry.card.remove(); // not seen for a week: forgotten by the server too
      cards.delete(name);
    }
  }
  for (const worker of workers) showWorker(worker);
  empty.hidden = cards.size > 0;
}

function showWorker(worker) {
  const entry = cards.get(worker.name) ?? addCard(worker.name);
  const jobsBefore = runningJobIds(entry.worker);
  const answered = entry.answeredState;
  entry.worker =
    worker.online && answered && Date.now() < answered.until
      ? { ...worker, state: answered.state }
      : worker;
  entry.receivedAt = Date.now();
  fillCard(entry);
  sortCards();
  empty.hidden = true;
  // A job started or ended somewhere: the queue has moved.
  if (jobsBefore !== runningJobIds(worker)) loadQueue();
}

function runningJobIds(worker) {
  return (worker?.running_jobs ?? []).map((job) => job.id).join(",");
}

// A worker whose heartbeats stopped: offline, with the time it was last heard from.
function markSilentOffline() {
  const now = Date.now();
  for (const entry of cards.values()) {
    const { worker } = entry;
    if (!worker.online || !worker.heartbeat_s) continue;
    if (now - entry.receivedAt > OFFLINE_INTERVALS * worker.heartbeat_s * 1000) {
      entry.worker = { name: worker.name, online: false, last_seen: worker.last_seen };
      fillCard(entry);
      sortCards();
    }
  }
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function addCard(name) {
  const card = element("article", "card worker-card");
  card.dataset.worker = name;
  card.setAttribute("data-testid", "worker-card");
  const head = element("div", "worker-head");
  const title = element("h3", "worker-name", name);
  const badge = element("span", "status");
  badge.setAttribute("data-testid", "worker-state");
  head.append(title, badge);
  const seen = element("p", "hint worker-seen");
  seen.setAttribute("data-testid", "worker-seen");
  const facts = element("dl", "worker-facts");
  const gpus = element("div", "worker-gpus");
  const jobs = element("div", "worker-jobs");
  const actions = actionsTemplate.content.firstElementChild.cloneNode(true);
  const answer = element("p", "worker-answer");
  answer.setAttribute("data-testid", "worker-answer");
  answer.setAttribute("role", "status");
  answer.hidden = true;
  card.append(head, seen, facts, gpus, jobs, actions, answer);
  const entry = { card, parts: { badge, seen, facts, gpus, jobs, actions, answer } };
  wireActions(actions, () => [entry], name);
  cards.set(name, entry);
  list.append(card);
  return entry;
}

function stateOf(worker) {
  return worker.online ? (worker.state ?? "running") : "offline";
}

function fillCard(entry) {
  const { worker, card, parts } = entry;
  const state = stateOf(worker);
  card.dataset.state = state;
  parts.badge.className = `status state-${state}`;
  parts.badge.textContent = STATES[state] ?? state;
  parts.badge.dataset.state = state;
  parts.seen.textContent = worker.online
    ? `Heartbeat every ${worker.heartbeat_s ?? DASH} s, last at ${timeOf(worker.last_seen)}`
    : `No heartbeat since ${timeOf(worker.last_seen)}`;
  parts.facts.hidden = parts.gpus.hidden = parts.jobs.hidden = !worker.online;
  for (const button of parts.actions.querySelectorAll("button, select")) {
    button.disabled = !worker.online;
  }
  if (!worker.online) return;
  parts.facts.replaceChildren(
    ...fact(gettext("Host"), worker.host),
    ...fact("PID", worker.pid),
    ...fact(gettext("Queues"), (worker.queues ?? []).join("\n")),
    ...fact(gettext("Device"), deviceOf(worker)),
    ...fact("Models loaded", (worker.loaded_models ?? []).map(modelName).join(", ") || "none"),
    ...fact(gettext("Jobs done"), worker.jobs_done),
    ...fact(gettext("Jobs failed"), worker.jobs_failed),
    ...fact(gettext("Throughput"), worker.throughput == null ? null : `${worker.throughput}× real time`),
    ...fact(gettext("Out-of-memory events"), worker.oom_events),
    ...fact(gettext("Batch budget"), batchBudgets(worker.batchers)),
    ...fact(gettext("Uptime"), duration(worker.uptime_s)),
    ...fact(gettext("Version"), worker.version),
  );
  parts.gpus.replaceChildren(...(worker.gpus ?? []).map(gpuMemory));
  parts.jobs.replaceChildren(...runningJobs(worker.running_jobs ?? []));
}

function shown(value) {
  return value === null || value === undefined || value === "" ? DASH : String(value);
}

function fact(label, value) {
  return [element("dt", "", label), element("dd", "", shown(value))];
}

function deviceOf(worker) {
  const gpus = worker.gpus ?? [];
  if (gpus.length) return gpus.map((gpu) => `${gpu.name} (GPU ${gpu.index})`).join(", ");
  return worker.device ? worker.device.toUpperCase() : null;
}

function modelName(model) {
  if (typeof model === "string") return model;
  const source = String(model.source ?? "");
  return `${source.split("/").filter(Boolean).pop() ?? source} (${model.backend})`;
}

// Each model's batch budget (audio seconds per model call), which out-of-memory errors lower.
function batchBudgets(batchers) {
  if (!batchers?.length) return null;
  return batchers
    .map(({ model, batch_seconds: seconds, oom_events: events }) => {
      const hits = events ? `, after ${events} out-of-memory event${events === 1 ? "" : "s"}` : "";
      return `${model}: ${seconds} s${hits}`;
    })
    .join("\n");
}

function gpuMemory(gpu) {
  const box = element("div", "gpu");
  box.setAttribute("data-testid", "gpu");
  box.append(element("p", "gpu-name", `GPU ${gpu.index}: ${gpu.name}`));
  const bar = element("div", "bar");
  bar.setAttribute("role", "img");
  const used = gpu.total_bytes ? (100 * gpu.used_bytes) / gpu.total_bytes : 0;
  bar.setAttribute("aria-label", `${Math.round(used)}% of its memory used`);
  const fill = element("div", "bar-fill");
  fill.style.width = `${Math.min(100, used)}%`;
  bar.append(fill);
  const figures = element("dl", "gpu-figures");
  figures.append(
    ...fact(gettext("Used"), bytes(gpu.used_bytes)),
    ...fact(gettext("Reserved by torch"), bytes(gpu.reserved_bytes)),
    ...fact(gettext("Free"), bytes(gpu.free_bytes)),
    ...fact(gettext("Total"), bytes(gpu.total_bytes)),
  );
  box.append(bar, figures);
  return box;
}

function bytes(value) {
  return value == null ? null : formatBytes(value);
}

function runningJobs(jobs) {
  if (!jobs.length) return [element("p", "hint", gettext("No job running."))];
  const items = element("ul", "running-jobs");
  for (const job of jobs) {
    const item = element("li", "", `Job ${job.id}: ${describeJob({ status: "running", ...job })}`);
    item.setAttribute("data-testid", "running-job");
    items.append(item);
  }
  return [items];
}

function duration(seconds) {
  if (seconds == null) return null;
  const total = Math.floor(seconds);
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const parts = days ? [`${days} d`, `${hours} h`] : hours ? [`${hours} h`, `${minutes} min`] : [];
  return parts.length ? parts.join(" ") : minutes ? `${minutes} min ${total % 60} s` : `${total} s`;
}

function timeOf(iso) {
  if (!iso) return DASH;
  return formatDate(iso, "medium");
}

// Online first, then by name, as the server lists them; only moved when the order changes.
function sortCards() {
  const wanted = [...cards.values()].sort(
    (a, b) =>
      Number(!a.worker.online) - Number(!b.worker.online) ||
      a.worker.name.localeCompare(b.worker.name),
  );
  const current = [...list.children];
  if (wanted.every((entry, index) => current[index] === entry.card)) return;
  list.append(...wanted.map((entry) => entry.card));
}

// Actions

// `targets()`: the cards whose answers the action shows; `name`: one worker's, or none for all.
function wireActions(actions, targets, name) {
  const select = actions.querySelector(".model-select");
  for (const button of actions.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () =>
      act(button.dataset.action, { name, select, buttons: actions, targets: targets() }),
    );
  }
}

async function act(action, { name, select, buttons, targets }) {
  const label = ACTIONS[action] ?? action;
  const body = { action };
  if (MODEL_ACTIONS.has(action)) body.model = select.value;
  const url = name ? `workers/${encodeURIComponent(name)}/actions/` : "workers/actions/";
  const controls = buttons.querySelectorAll("button, select");
  for (const control of controls) control.disabled = true;
  const boxes = targets.map((entry) => entry.parts.answer);
  if (!name) boxes.push(fleetAnswer);
  for (const box of boxes) showAnswer(box, `${label}: sending…`, "pending");
  try {
    const result = await api(url, { method: "POST", body });
    for (const entry of targets) {
      const reply = result.replies[entry.worker.name];
      const { text, ok } = replyText(reply);
      showAnswer(entry.parts.answer, `${label}: ${text}`, ok ? "ok" : "error");
      // Paused, resumed, draining: the worker says so at once, its next heartbeat again.
      if (reply?.state && entry.worker.online) {
        entry.answeredState = { state: reply.state, until: Date.now() + ANSWER_HOLDS_STATE_MS };
        entry.worker = { ...entry.worker, state: reply.state };
        fillCard(entry);
      }
    }
    if (!name) showAnswer(fleetAnswer, fleetSummary(label, result), result.ok ? "ok" : "error");
  } catch (error) {
    for (const box of boxes) showAnswer(box, `${label} failed: ${error.message}`, "error");
  } finally {
    for (const control of controls) control.disabled = false;
    if (name) fillCard(cards.get(name)); // offline meanwhile: its controls stay off
    loadAudit();
  }
}

// A worker's answer (operations.control): {"ok": bool, "detail": words for the operator, ...};
// the server fills in one for a worker that did not answer in time.
function replyText(reply) {
  if (!reply) return { ok: false, text: "no answer from the worker." };
  return { ok: reply.ok === true, text: reply.detail ?? (reply.ok ? "done" : "failed") };
}

function fleetSummary(label, result) {
  const names = Object.keys(result.replies);
  if (!names.length) return `${label}: ${result.detail ?? "no worker answered"}.`;
  const failed = names.filter((worker) => !replyText(result.replies[worker]).ok);
  const answered = `${label}: sent to ${names.length} worker${names.length === 1 ? "" : "s"}`;
  if (!failed.length) return `${answered}, all done.`;
  return `${answered}; not done on ${failed.join(", ")}.`;
}

function showAnswer(box, text, state) {
  box.textContent = text;
  box.dataset.state = state;
  box.hidden = false;
}

function showError(box, text) {
  box.textContent = text;
  box.hidden = false;
}

// Queue

const queueBody = document.getElementById("queue-body");
const queueTable = document.getElementById("queue-table");
const queueEmpty = document.getElementById("queue-empty");
const queueTotals = document.getElementById("queue-totals");
const queueError = document.getElementById("queue-error");
let queueLoading = null;

function loadQueue() {
  queueLoading ??= readQueue().finally(() => {
    queueLoading = null;
  });
  return queueLoading;
}

async function readQueue() {
  try {
    const queue = await api("queue/");
    const jobs = queue.results;
    queueBody.replaceChildren(...jobs.map(queueRow));
    queueTable.hidden = jobs.length === 0;
    queueEmpty.hidden = jobs.length > 0;
    queueTotals.textContent = totalsText(queue.totals, jobs.length);
    queueError.hidden = true;
  } catch (error) {
    showError(queueError, `Could not read the queue: ${error.message}`);
  }
}

function queueRow(job) {
  const tr = element("tr");
  tr.dataset.job = String(job.id);
  tr.setAttribute("data-testid", "queue-row");
  const cells = [
    [job.position, "num"],
    [`Job ${job.id}`, "nowrap"],
    [job.owner, "who"],
    [job.workspace, "who"],
    [clock(job.audio_s), "num"],
    [job.priority, "num"],
    [job.eta_s == null ? null : `in ${duration(job.eta_s)}`, ""],
    [formatDate(job.queued_at), "hint created"],
  ];
  for (const [value, className] of cells) tr.append(element("td", className, shown(value)));
  const actions = element("td", "actions");
  const cancel = element("button", "button button-small button-danger", gettext("Cancel"));
  cancel.type = "button";
  cancel.setAttribute("data-testid", "cancel-job");
  cancel.addEventListener("click", () => cancelJob(job, cancel));
  actions.append(cancel);
  tr.append(actions);
  return tr;
}

function totalsText(totals, shown) {
  const count = totals.jobs;
  if (!count) return gettext("Nothing is waiting.");
  const parts = [
    `${count} job${count === 1 ? "" : "s"} waiting`,
    `${Number(totals.audio_hours).toFixed(2)} h of audio`,
    totals.drain_eta_s == null
      ? "no throughput measured yet to say when it drains"
      : `should drain in about ${duration(totals.drain_eta_s)} at ` +
        `${totals.throughput_audio_s_per_s}× real time`,
  ];
  if (shown < count) parts.push(`the first ${shown} shown`);
  return `${parts.join(" · ")}.`;
}

async function cancelJob(job, button) {
  if (!window.confirm(`Cancel job ${job.id}? Its owner sees it cancelled.`)) return;
  button.disabled = true;
  try {
    await api(`queue/${job.id}/cancel/`, { method: "POST" });
  } catch (error) {
    showError(queueError, `Could not cancel job ${job.id}: ${error.message}`);
    button.disabled = false;
  }
  loadQueue();
  loadAudit();
}

// Audit log

const auditBody = document.getElementById("audit-body");
const auditTable = document.getElementById("audit-table");
const auditEmpty = document.getElementById("audit-empty");
const auditError = document.getElementById("audit-error");

async function loadAudit() {
  try {
    const page = await api("audit/");
    const entries = page.results ?? page;
    auditBody.replaceChildren(...entries.map(auditRow));
    auditTable.hidden = entries.length === 0;
    auditEmpty.hidden = entries.length > 0;
    auditError.hidden = true;
  } catch (error) {
    showError(auditError, `Could not read the audit log: ${error.message}`);
  }
}

function auditRow(entry) {
  const tr = element("tr");
  tr.setAttribute("data-testid", "audit-row");
  tr.append(
    element("td", "hint created", timeOf(entry.created_at)),
    element("td", "who", entry.actor_name),
    element("td", "nowrap", ACTIONS[entry.action] ?? entry.action),
    element("td", "who", entry.target),
  );
  const result = element("td", "audit-result");
  const badge = element("span", `status status-${entry.ok ? "succeeded" : "failed"}`);
  badge.textContent = entry.ok ? "OK" : "Failed";
  result.append(badge, " ", resultText(entry.result));
  tr.append(result);
  return tr;
}

// An entry's result: each worker's answer by name, or what came of a job's cancel or retry.
function resultText(result) {
  const model = result.model ? `${result.model}: ` : "";
  if (result.replies && Object.keys(result.replies).length) {
    const answers = Object.entries(result.replies).map(
      ([worker, reply]) => `${worker}: ${replyText(reply).text}`,
    );
    return model + answers.join("; ");
  }
  return model + (result.detail ?? "");
}

const fleetActions = actionsTemplate.content.firstElementChild.cloneNode(true);
document.getElementById("fleet-actions").append(fleetActions);
wireActions(fleetActions, () => [...cards.values()].filter((entry) => entry.worker.online), null);

connect();
setInterval(markSilentOffline, 1000);
loadQueue();
setInterval(loadQueue, QUEUE_REFRESH_MS);
loadAudit();
