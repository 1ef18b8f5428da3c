// On every page of a logged-in user: when a job of theirs ends, a toast (and a browser
// notification where they allowed them). It hears the page's one job socket (api.js).
import { api, listenToJobs, recordingUrl } from "./api.js";

const ENDED = new Set(["succeeded", "failed", "cancelled"]);
const TOAST_MS = 15000; // long enough to read and reach its link
const script = document.getElementById("notify-script");
const userId = Number(script.dataset.userId);
const recordingTemplate = script.dataset.recordingUrl;
const region = document.getElementById("toasts");
const told = new Set(); // "job:finished_at" already shown: a repeated event says nothing new

listenToJobs({
  onMessage: (payload) => {
    if (payload.owner === userId && ENDED.has(payload.status)) {
      jobEnded(payload.job);
    }
  },
});

async function jobEnded(jobId) {
  let job;
  try {
    job = await api(`jobs/${jobId}/`);
  } catch {
    return; // gone or unreadable: nothing to tell
  }
  const key = `${job.id}:${job.finished_at}`;
  if (!ENDED.has(job.status) || told.has(key)) return;
  told.add(key);
  const text = endedText(job);
  const url = recordingUrl(recordingTemplate, job.recording.id);
  showToast(text, url);
  if ("Notification" in window && Notification.permission === "granted") {
    const notice = new Notification(gettext("Voxa"), { body: text, tag: `job-${job.id}` });
    notice.addEventListener("click", () => window.open(url, "_self"));
  }
}

function endedText(job) {
  const name = job.recording.name;
  if (job.status === "succeeded") return interpolate(gettext("%s is transcribed."), [name]);
  if (job.status === "failed") return interpolate(gettext("The transcription of %s failed."), [name]);
  return interpolate(gettext("The transcription of %s was cancelled."), [name]);
}

function showToast(text, url) {
  const toast = document.createElement("div");
  toast.className = "toast";
  toast.setAttribute("role", "status");
  toast.setAttribute("data-testid", "toast");
  const message = document.createElement("span");
  message.textContent = text;
  const link = document.createElement("a");
  link.href = url;
  link.textContent = gettext("Open");
  link.setAttribute("data-testid", "toast-link");
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-dismiss";
  close.textContent = "×";
  close.setAttribute("aria-label", gettext("Dismiss"));
  close.setAttribute("data-testid", "toast-dismiss");
  close.addEventListener("click", () => toast.remove());
  toast.append(message, " ", link, close);
  region.append(toast);
  setTimeout(() => toast.remove(), TOAST_MS);
}

// Permission is asked for only when the user presses the notifications page's button, never
// on load.
const permissionButton = document.getElementById("notifications-button");
const permissionState = document.getElementById("notifications-state");
function offerPermission() {
  const supported = "Notification" in window;
  permissionButton.hidden = !supported || Notification.permission !== "default";
  if (!supported) permissionState.textContent = gettext("This browser cannot show notifications.");
  else if (Notification.permission === "granted") {
    permissionState.textContent = gettext("Browser notifications are on.");
  } else if (Notification.permission === "denied") {
    permissionState.textContent = gettext("Browser notifications are blocked in this browser's site settings.");
  }
}
if (permissionButton) {
  permissionButton.addEventListener("click", async () => {
    await Notification.requestPermission();
    offerPermission();
  });
  offerPermission();
}
