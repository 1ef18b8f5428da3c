// The recording page's transcript: its lines with their speakers, synchronised with the player,
// and, for whoever may change the recording, corrections with their history. Every write carries
// the version the page loaded; one refused as stale (409) reloads the transcript and keeps what
// was typed, marked, in its editor, so that nothing typed is lost.
import { ApiError, api, clock, formatDate } from "./api.js";

// The stylesheet's speaker colours: classes speaker-0 … speaker-9.
const PALETTE_SIZE = 10;
// The speaker select's choice of a speaker not yet in the transcript.
const NEW_SPEAKER = "__new__";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// An element the tests find by its data-testid.
function testable(tag, className, testid) {
  const node = element(tag, className);
  if (testid) node.dataset.testid = testid;
  return node;
}

function button(text, { className = "button button-small button-secondary", testid, label } = {}) {
  const node = testable("button", className, testid);
  node.textContent = text;
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  return node;
}

function labelNumber(label) {
  const match = /^S(\d+)$/.exec(label);
  return match ? Number(match[1]) : null;
}

// "S2" before "S10"; labels of another shape after, in their own order.
function byLabel(a, b) {
  const [na, nb] = [labelNumber(a), labelNumber(b)];
  if (na !== null && nb !== null) return na - nb;
  if (na !== null || nb !== null) return na === null ? 1 : -1;
  return a.localeCompare(b);
}

// Marks an editor whose save was refused as stale.
function staleNote(text, testid) {
  const note = testable("p", "line-note", testid);
  note.textContent = `${gettext("Not saved: the transcript changed meanwhile.")} ${text}`;
  return note;
}

// Why a request failed, for people: the server's own words where it answered.
function failure(what, error) {
  const reason =
    error instanceof ApiError
      ? error.message
      : gettext("the server could not be reached. Check the connection and try again.");
  return interpolate(gettext("Could not %(what)s: %(reason)s"), { what, reason }, true);
}

export class Transcript {
  constructor({ jobId, player, mayEdit }) {
    this.jobId = jobId;
    this.player = player;
    this.mayEdit = mayEdit;
    this.list = document.getElementById("segments");
    this.empty = document.getElementById("transcript-empty");
    this.notice = document.getElementById("transcript-notice");
    this.speakerBox = document.getElementById("speakers");
    this.speakerList = document.getElementById("speaker-list");
    this.revisionsCard = document.getElementById("revisions-card");
    this.revisionList = document.getElementById("revisions");
    this.version = null;
    this.speakers = {};
    this.segments = [];
    // segment id -> {text, original, speaker, stale}: the lines being edited
    this.lineDrafts = new Map();
    this.speakerDrafts = new Map(); // label -> {name, stale}: the speakers being renamed
    this.orphans = []; // typed text whose line another edit removed meanwhile
    this.busy = false;
    this.activeIndex = -1;
    // A search result links here with ?t=<seconds>: the player starts there, once.
    this.linkedTime = Number(new URLSearchParams(window.location.search).get("t")) || null;
    this.list.addEventListener("click", (event) => this.onLineClick(event));
    player.addEventListener("timeupdate", () => this.highlight());
    player.addEventListener("seeked", () => this.highlight());
  }

  async load() {
    try {
      this.show(await api(`jobs/${this.jobId}/transcript/`));
    } catch (error) {
      this.say(failure("load the transcript", error));
      return;
    }
    this.loadRevisions();
  }

  setVisible(visible) {
    this.revisionsCard.hidden = !visible || this.version === null;
  }

  show(data) {
    this.version = data.version;
    this.speakers = data.speakers ?? {};
    this.segments = data.segments;
    for (const [id, draft] of this.lineDrafts) {
      if (this.segment(id)) continue;
      this.lineDrafts.delete(id);
      if (draft.text.trim() && draft.text !== draft.original) this.orphans.push(draft.text);
    }
    const labels = this.labels();
    for (const label of this.speakerDrafts.keys()) {
      if (!labels.includes(label)) this.speakerDrafts.delete(label);
    }
    this.renderSpeakers();
    this.renderLines();
    this.renderOrphans();
  }

  segment(id) {
    return this.segments.find((segment) => segment.id === id);
  }

  labels() {
    const found = new Set(Object.keys(this.speakers));
    for (const segment of this.segments) if (segment.speaker) found.add(segment.speaker);
    return [...found].sort(byLabel);
  }

  speakerName(label) {
    return this.speakers[label] || label;
  }

  colourClass(label) {
    const number = labelNumber(label);
    const index = number !== null ? number - 1 : this.labels().indexOf(label);
    return `speaker-${((index % PALETTE_SIZE) + PALETTE_SIZE) % PALETTE_SIZE}`;
  }

  // The colour is never alone: the name is written beside it.
  speakerTag(label, testid) {
    const tag = testable("span", `speaker-tag ${this.colourClass(label)}`, testid);
    tag.dataset.speaker = label;
    tag.append(element("span", "swatch"), element("span", "speaker-name", this.speakerName(label)));
    return tag;
  }

  // --- Lines -------------------------------------------------------------------------------

  renderLines() {
    this.activeIndex = -1;
    this.list.replaceChildren(...this.segments.map((segment, index) => this.line(segment, index)));
    this.empty.hidden = this.segments.length > 0;
    this.highlight();
    if (this.linkedTime !== null) this.startAt(this.linkedTime);
    this.linkedTime = null;
  }

  rerenderLine(index) {
    this.list.children[index]?.replaceWith(this.line(this.segments[index], index));
    this.activeIndex = -1;
    this.highlight();
  }

  line(segment, index) {
    const item = testable("li", "segment", "segment");
    item.dataset.index = String(index);
    item.dataset.id = String(segment.id);
    item.dataset.start = String(segment.start);
    const time = button(`[${clock(segment.start)} – ${clock(segment.end)}]`, {
      className: "segment-time",
      label: interpolate(gettext("Play from %(time)s"), { time: clock(segment.start) }, true),
    });
    const head = element("span", "segment-head");
    head.append(time);
    if (segment.speaker) {
      item.classList.add("has-speaker", this.colourClass(segment.speaker));
      head.append(" ", this.speakerTag(segment.speaker, "segment-speaker"));
    }
    const text = element("span", "segment-text", segment.text);
    item.append(head, " ", text);
    if (!this.mayEdit) return item;
    const draft = this.lineDrafts.get(segment.id);
    if (!draft) {
      const edit = button(gettext("Edit"), {
        className: "button button-small button-secondary segment-edit",
        testid: "edit-line",
        label: interpolate(gettext("Edit the line at %(time)s"), { time: clock(segment.start) }, true),
      });
      item.append(edit);
      return item;
    }
    item.classList.add("editing");
    text.hidden = true;
    item.append(this.lineEditor(segment, index, draft));
    return item;
  }

  lineEditor(segment, index, draft) {
    const box = testable("div", "line-editor", "line-editor");
    const area = testable("textarea", "line-text", "line-text");
    area.value = draft.text;
    area.rows = 2;
    area.setAttribute("aria-label", interpolate(gettext("Text of the line at %(time)s"), { time: clock(segment.start) }, true));
    area.addEventListener("input", () => {
      draft.text = area.value;
    });
    area.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.isComposing) {
        event.preventDefault();
        this.saveLine(segment.id);
      } else if (event.key === "Escape") {
        event.preventDefault();
        this.closeLine(segment.id);
      }
    });
    box.append(area);
    if (draft.stale) {
      box.classList.add("stale");
      box.append(staleNote(gettext("Your text is kept here; check it and save again."), "line-note"));
    }

    const tools = element("div", "line-tools");
    const picker = element("label", "line-speaker");
    const select = testable("select", null, "line-speaker");
    if (!segment.speaker) select.append(new Option(gettext("No speaker"), ""));
    for (const label of this.labels()) select.append(new Option(this.speakerName(label), label));
    select.append(new Option(gettext("New speaker"), NEW_SPEAKER));
    select.value = draft.speaker;
    select.addEventListener("change", () => {
      draft.speaker = select.value;
    });
    picker.append(element("span", "line-speaker-label", gettext("Speaker")), select);

    const save = button(gettext("Save"), { className: "button button-small", testid: "line-save" });
    save.addEventListener("click", () => this.saveLine(segment.id));
    const cancel = button(gettext("Cancel"), { testid: "line-cancel" });
    cancel.addEventListener("click", () => this.closeLine(segment.id));
    const split = button(gettext("Split at cursor"), { testid: "line-split" });
    split.title = gettext("Splits the line in two where the cursor is in its text");
    split.addEventListener("click", () => this.splitLine(segment.id, area.selectionStart));
    const join = button(gettext("Join with next"), { testid: "line-join" });
    join.disabled = index === this.segments.length - 1;
    join.addEventListener("click", () => this.joinLine(segment.id));
    const actions = element("span", "line-actions");
    actions.append(save, cancel, split, join);
    tools.append(picker, actions);
    box.append(tools);
    return box;
  }

  onLineClick(event) {
    const item = event.target.closest(".segment");
    if (!item || event.target.closest(".line-editor")) return;
    if (event.target.closest(".segment-edit")) {
      this.openLine(Number(item.dataset.id));
      return;
    }
    // Selecting text to copy it is not a request to seek.
    if (window.getSelection()?.toString() && !event.target.closest(".segment-time")) return;
    this.player.currentTime = this.segments[Number(item.dataset.index)].start;
    this.player.play().catch(() => {});
  }

  openLine(id) {
    const segment = this.segment(id);
    this.lineDrafts.set(id, {
      text: segment.text,
      original: segment.text,
      speaker: segment.speaker,
      stale: false,
    });
    const index = this.segments.indexOf(segment);
    this.rerenderLine(index);
    const area = this.list.children[index].querySelector("textarea");
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }

  closeLine(id) {
    this.lineDrafts.delete(id);
    const index = this.segments.findIndex((segment) => segment.id === id);
    this.rerenderLine(index);
    this.list.children[index]?.querySelector(".segment-edit")?.focus();
  }

  // What the line's editor changes: {text?, speaker?}, empty when nothing.
  lineChanges(id) {
    const segment = this.segment(id);
    const draft = this.lineDrafts.get(id);
    const changes = {};
    if (!segment || !draft) return changes;
    // A line is one line: pasted line breaks become spaces (a blank line would end a subtitle).
    const text = draft.text.replace(/\s*\n\s*/g, " ");
    if (text !== segment.text) changes.text = text;
    const speaker = draft.speaker === NEW_SPEAKER ? this.newLabel() : draft.speaker;
    if (speaker !== segment.speaker) changes.speaker = speaker;
    return changes;
  }

  newLabel() {
    const numbers = this.labels().map(labelNumber).filter((number) => number !== null);
    return `S${Math.max(0, ...numbers) + 1}`;
  }

  async saveLine(id) {
    const changes = this.lineChanges(id);
    if (!Object.keys(changes).length) {
      this.closeLine(id);
      return true;
    }
    return this.write("save the line", `segments/${id}/`, "PATCH", changes, () =>
      this.lineDrafts.delete(id),
    );
  }

  // Split where the caret is, in the text as typed: that text is saved first.
  async splitLine(id, at) {
    if (Object.keys(this.lineChanges(id)).length && !(await this.saveLine(id))) return;
    await this.write("split the line", `segments/${id}/split/`, "POST", { at }, () =>
      this.lineDrafts.delete(id),
    );
  }

  async joinLine(id) {
    if (Object.keys(this.lineChanges(id)).length && !(await this.saveLine(id))) return;
    await this.write("join the lines", `segments/${id}/join/`, "POST", {}, () =>
      this.lineDrafts.delete(id),
    );
  }

  // --- Speakers ----------------------------------------------------------------------------

  renderSpeakers() {
    const labels = this.labels();
    this.speakerBox.hidden = labels.length === 0;
    this.speakerList.replaceChildren(...labels.map((label) => this.speakerItem(label, labels)));
  }

  speakerItem(label, labels) {
    const item = testable("li", `speaker ${this.colourClass(label)}`, "speaker");
    item.dataset.label = label;
    const lines = this.segments.filter((segment) => segment.speaker === label).length;
    const facts = [this.speakers[label] ? label : null, `${lines} line${lines === 1 ? "" : "s"}`];
    item.append(
      this.speakerTag(label, "speaker-tag"),
      element("span", "speaker-facts hint", facts.filter(Boolean).join(" · ")),
    );
    if (!this.mayEdit) return item;
    const draft = this.speakerDrafts.get(label);
    const action = draft ? gettext("Close") : gettext("Rename or merge");
    const toggle = button(action, {
      testid: "speaker-edit",
      label: `${action} ${this.speakerName(label)}`,
    });
    toggle.setAttribute("aria-expanded", String(Boolean(draft)));
    toggle.addEventListener("click", () => {
      if (draft) this.speakerDrafts.delete(label);
      else this.speakerDrafts.set(label, { name: this.speakers[label] ?? "", stale: false });
      this.renderSpeakers();
      this.speakerList.querySelector(`[data-label="${CSS.escape(label)}"] input`)?.focus();
    });
    item.append(toggle);
    if (draft) {
      item.classList.add("editing");
      item.append(this.speakerForm(label, labels, draft));
    }
    return item;
  }

  speakerForm(label, labels, draft) {
    const form = testable("form", "speaker-form", "speaker-form");
    const name = element("label", "speaker-field");
    const input = testable("input", null, "speaker-name-input");
    input.type = "text";
    input.maxLength = 100;
    input.value = draft.name;
    input.placeholder = label;
    input.addEventListener("input", () => {
      draft.name = input.value;
    });
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      this.speakerDrafts.delete(label);
      this.renderSpeakers();
    });
    name.append(element("span", null, interpolate(gettext("Name of %(label)s in every line"), { label }, true)), input);
    const rename = button(gettext("Rename"), { className: "button button-small", testid: "speaker-rename" });
    rename.type = "submit";
    form.append(name, rename);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = { speaker: label, name: draft.name.trim() };
      this.write("rename the speaker", "speakers/rename/", "POST", body, () =>
        this.speakerDrafts.delete(label),
      );
    });
    if (draft.stale) {
      form.append(staleNote(gettext("Your name is kept here; save it again."), "speaker-note"));
    }
    const others = labels.filter((other) => other !== label);
    if (!others.length) return form;
    const into = element("label", "speaker-field");
    const select = testable("select", null, "speaker-merge-into");
    for (const other of others) select.append(new Option(this.speakerName(other), other));
    const intoText = interpolate(gettext("Or give all of %(name)s's lines to"), { name: this.speakerName(label) }, true);
    into.append(element("span", null, intoText), select);
    const merge = button(gettext("Merge"), { testid: "speaker-merge" });
    merge.addEventListener("click", () => {
      const body = { speaker: label, into: select.value };
      this.write("merge the speakers", "speakers/merge/", "POST", body, () =>
        this.speakerDrafts.delete(label),
      );
    });
    form.append(into, merge);
    return form;
  }

  // --- Writes ------------------------------------------------------------------------------

  // One change, made on the version on screen; the answer (the new transcript) is shown. Returns
  // whether it was saved.
  async write(what, path, method, body, onSaved) {
    if (this.busy) return false;
    this.busy = true;
    this.list.setAttribute("aria-busy", "true");
    try {
      const data = await api(`jobs/${this.jobId}/${path}`, {
        method,
        body: { ...body, version: this.version },
      });
      onSaved();
      this.clearNotice();
      this.show(data);
      this.loadRevisions();
      return true;
    } catch (error) {
      // A stale save (409 with the current version): someone changed the transcript meanwhile.
      if (error instanceof ApiError && error.status === 409 && error.body?.version != null) {
        const drafts = [...this.lineDrafts.values(), ...this.speakerDrafts.values()];
        for (const draft of drafts) draft.stale = true;
        const now = drafts.length
          ? gettext("The page shows it as it is now; what you typed is kept below.")
          : gettext("The page shows it as it is now.");
        this.say(`${error.message} ${now}`, "conflict");
        await this.load();
      } else {
        this.say(failure(what, error));
      }
      return false;
    } finally {
      this.busy = false;
      this.list.removeAttribute("aria-busy");
    }
  }

  say(text, kind = "error") {
    this.notice.replaceChildren(element("p", "notice-text", text));
    this.notice.dataset.kind = kind;
    this.notice.hidden = false;
    this.renderOrphans();
  }

  clearNotice() {
    this.notice.replaceChildren();
    this.notice.hidden = true;
    this.renderOrphans();
  }

  // Text typed into a line that another edit then removed (joined, restored away): shown until
  // dismissed, to be copied where it belongs.
  renderOrphans() {
    this.notice.querySelector(".orphans")?.remove();
    if (!this.orphans.length) return;
    const box = testable("div", "orphans", "orphans");
    box.append(element("p", null, gettext("What you typed into lines that are no longer there:")));
    for (const text of this.orphans) {
      const area = element("textarea", "orphan-text");
      area.readOnly = true;
      area.value = text;
      box.append(area);
    }
    const dismiss = button(gettext("Dismiss"));
    dismiss.addEventListener("click", () => {
      this.orphans = [];
      this.renderOrphans();
      if (!this.notice.querySelector(".notice-text")) this.notice.hidden = true;
    });
    box.append(dismiss);
    this.notice.append(box);
    this.notice.hidden = false;
  }

  // --- History -----------------------------------------------------------------------------

  async loadRevisions() {
    try {
      const answer = await api(`jobs/${this.jobId}/revisions/`);
      this.renderRevisions(Array.isArray(answer) ? answer : answer.results);
    } catch (error) {
      const text = failure("load the edit history", error);
      this.revisionList.replaceChildren(element("li", "error", text));
    }
    this.revisionsCard.hidden = false;
  }

  renderRevisions(revisions) {
    if (!revisions.length) {
      const text = gettext("No corrections yet: the transcript is as recognised.");
      this.revisionList.replaceChildren(element("li", "empty", text));
      return;
    }
    const items = revisions.map((revision) => {
      const author = revision.author?.username ?? revision.author ?? "someone";
      const meta = `${author} · ${formatDate(revision.created_at)}`;
      return this.revisionItem(revision.version, revision.summary || revision.action, meta);
    });
    items.push(this.revisionItem(0, gettext("Original: the transcript as recognised"), ""));
    this.revisionList.replaceChildren(...items);
  }

  revisionItem(version, summary, meta) {
    const item = testable("li", "revision", "revision");
    item.dataset.version = String(version);
    const what = element("div", "revision-what");
    what.append(element("span", "revision-summary", summary));
    if (meta) what.append(element("span", "hint revision-meta", meta));
    item.append(what);
    if (version === this.version) {
      item.append(element("span", "status revision-current", gettext("Current")));
    } else if (this.mayEdit) {
      const label = version
        ? interpolate(gettext("Restore the transcript as it was after change %(version)s"), { version }, true)
        : gettext("Restore the original transcript");
      const restore = button(gettext("Restore"), { testid: "revision-restore", label });
      restore.addEventListener("click", () =>
        this.write("restore that version", "restore/", "POST", { to: version }, () => {}),
      );
      item.append(restore);
    }
    return item;
  }

  // --- Following the player ----------------------------------------------------------------

  startAt(seconds) {
    const seek = () => {
      this.player.currentTime = seconds;
    };
    if (this.player.readyState >= 1) seek();
    else this.player.addEventListener("loadedmetadata", seek, { once: true });
    this.list.children[this.segmentAt(seconds)]?.scrollIntoView({ block: "center" });
  }

  // Plays the line after (step 1) or before (step -1) the one the player is in.
  playLine(step) {
    const now = this.player.currentTime;
    const current = this.segments.findLastIndex((s) => s.start <= now + 0.05);
    const target = this.segments[Math.max(0, current + step)];
    if (target) this.startAt(target.start);
  }

  segmentAt(seconds) {
    return this.segments.findIndex((s) => s.start <= seconds && seconds < s.end);
  }

  highlight() {
    const index = this.segmentAt(this.player.currentTime);
    if (index === this.activeIndex) return;
    this.list.children[this.activeIndex]?.classList.remove("active");
    this.list.children[this.activeIndex]?.removeAttribute("aria-current");
    this.activeIndex = index;
    const item = this.list.children[index];
    if (item) {
      item.classList.add("active");
      item.setAttribute("aria-current", "true");
      if (!this.player.paused) item.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  }
}
