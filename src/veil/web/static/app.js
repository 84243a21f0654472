// The web app: a thin view over the service's API. Every change goes through it.
import { Api } from "./api.js";
import { chatItem, element, messageItem } from "./view.js";

const $ = (id) => document.getElementById(id);
const state = { contacts: [], selected: null, unread: new Map(), last: new Map(), replyTo: null, editing: null, history: [] };
const api = new Api(onEvent, onConnection);

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function onConnection(online) {
  if (online === "online") {
    setStatus("Connected");
    refreshContacts();
    refreshRequests();
    if (state.selected) refreshHistory();
  } else {
    setStatus("The Veil service is unreachable — reconnecting…", true);
  }
}

const NOTICES = {
  desync: (contact) => `The conversation with ${contact} lost step — use “Security code” → Repair.`,
  "repair-request": (contact) => `${contact} asks to repair the conversation.`,
  repaired: (contact) => `The conversation with ${contact} was repaired; compare security codes again.`,
  error: (contact, text) => `Problem with ${contact ?? "a relay"}: ${text}`,
};

function onEvent(event) {
  const notice = NOTICES[event.kind];
  if (notice) setStatus(notice(event.contact, event.text), event.kind !== "repaired");
  if (event.kind === "request") refreshRequests();
  if (event.kind === "connected") setStatus(`Connected with ${event.contact}.`);
  if (event.contact && event.contact === state.selected) {
    refreshHistory();
  } else if (event.contact && event.kind === "message") {
    state.unread.set(event.contact, (state.unread.get(event.contact) ?? 0) + 1);
  }
  if (event.contact && event.kind === "message") state.last.set(event.contact, event.text);
  refreshContacts();
}

async function attempt(work) {
  try {
    return await work();
  } catch (error) {
    setStatus(error.message, true);
    return null;
  }
}

async function refreshContacts() {
  const result = await attempt(() => api.call("contacts"));
  if (!result) return;
  state.contacts = result.contacts;
  renderChats();
}

async function refreshRequests() {
  const result = await attempt(() => api.call("requests"));
  if (result) $("requests-count").textContent = result.requests.length ? String(result.requests.length) : "";
}

function renderChats() {
  const list = $("chats");
  list.replaceChildren(...state.contacts.map((contact) =>
    chatItem(contact, state.unread.get(contact.alias) ?? 0, state.last.get(contact.alias), contact.alias === state.selected)));
}

async function open(alias) {
  state.selected = alias;
  state.unread.delete(alias);
  state.replyTo = null;
  state.editing = null;
  $("title").textContent = alias;
  $("composer").hidden = false;
  $("verify").hidden = false;
  renderReplying();
  renderChats();
  await refreshHistory();
  $("text").focus();
}

async function refreshHistory() {
  const alias = state.selected;
  const result = await attempt(() => api.call("history", { contact: alias, limit: 200 }));
  if (!result || alias !== state.selected) return;
  state.history = result.messages;
  const list = $("messages");
  const texts = new Map(result.messages.map((message) => [message.id, message.text]));
  list.replaceChildren(...result.messages.map((message) => messageItem(message, texts.get(message.reply_to))));
  list.scrollTop = list.scrollHeight;
  const last = result.messages.at(-1);
  if (last) state.last.set(alias, last.text);
}

function renderReplying() {
  const label = state.editing ? "Editing your message" : state.replyTo ? `Replying to: ${state.replyTo.text}` : "";
  $("replying").hidden = !label;
  $("replying-text").textContent = label;
}

async function submit() {
  const text = $("text").value.trim();
  if (!text || !state.selected) return;
  const contact = state.selected;
  const done = state.editing
    ? await attempt(() => api.call("edit", { contact, message_id: state.editing, text }))
    : await attempt(() => api.call("send", { contact, texts: [text], reply_to: state.replyTo?.id ?? null }));
  if (!done) return;
  $("text").value = "";
  state.replyTo = null;
  state.editing = null;
  renderReplying();
  await refreshHistory();
}

function editLast() {
  const mine = state.history.filter((message) => message.direction === "sent" && message.deleted === "none");
  const last = mine.at(-1);
  if (!last) return;
  state.editing = last.id;
  $("text").value = last.text ?? "";
  renderReplying();
}

async function onMessageAction(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const id = Number(button.closest("li").dataset.id);
  const message = state.history.find((item) => item.id === id);
  if (!message) return;
  const action = button.dataset.action;
  if (action === "reply") {
    state.replyTo = message;
    state.editing = null;
  } else if (action === "edit") {
    state.editing = id;
    $("text").value = message.text ?? "";
  } else if (action === "react") {
    await attempt(() => api.call("react", { contact: state.selected, message_id: id, emoji: "👍" }));
    await refreshHistory();
  }
  renderReplying();
  $("text").focus();
}

function dialog(title, body, onOk) {
  $("dialog-title").textContent = title;
  $("dialog-body").replaceChildren(...body);
  $("dialog-ok").hidden = !onOk;
  const box = $("dialog");
  box.onclose = async () => {
    if (box.returnValue === "ok" && onOk) await onOk();
  };
  box.returnValue = "";
  box.showModal();
}

async function showInvite() {
  const result = await attempt(() => api.call("invite"));
  if (!result) return;
  const qr = await attempt(() => api.call("web.qr", { text: result.link }));
  const image = qr && element("img", { src: `data:image/svg+xml;base64,${btoa(qr.svg)}`, alt: "QR code of the invitation link" });
  dialog("Invite someone", [
    element("p", { text: "Give this one-time link to one person, or let them scan the code:" }),
    image,
    element("code", { id: "invite-link", text: result.link }),
  ]);
}

function showJoin() {
  const input = element("input", { id: "join-link", "aria-label": "Invitation or address link", placeholder: "veil://…" });
  dialog("Connect with a link", [input], async () => {
    const result = await attempt(() => api.call("connect", { link: input.value.trim() }));
    if (result) {
      setStatus(`Connecting to ${result.contact.alias}…`);
      await refreshContacts();
    }
  });
}

async function showRequests() {
  const result = await attempt(() => api.call("requests"));
  if (!result) return;
  const rows = result.requests.map((request) => {
    const accept = element("button", { type: "button", text: `Accept ${request.name}` });
    accept.addEventListener("click", async () => {
      await attempt(() => api.call("accept", { request_id: request.id }));
      $("dialog").close();
      await refreshContacts();
      await refreshRequests();
    });
    return element("p", {}, accept);
  });
  dialog("Contact requests", rows.length ? rows : [element("p", { text: "No requests." })]);
}

async function showVerify() {
  const contact = state.selected;
  const mine = await attempt(() => api.call("verify", { contact }));
  if (!mine) return;
  const input = element("input", { id: "their-code", "aria-label": `Security code ${contact} reads to you` });
  dialog(`Security code with ${contact}`, [
    element("p", { text: "Compare this code with the one your contact sees, in person or on a call:" }),
    element("code", { id: "our-code", text: mine.code }),
    element("p", { text: mine.verified ? "Verified ✔" : "Type the code they read to you:" }),
    input,
  ], async () => {
    const checked = await attempt(() => api.call("verify", { contact, code: input.value.trim() }));
    if (checked) setStatus(checked.verified ? `${contact} is verified.` : `The code does not match: this may not be ${contact}.`, !checked.verified);
    await refreshContacts();
  });
}

function onChatsKey(event) {
  const aliases = state.contacts.map((contact) => contact.alias);
  if (!aliases.length) return;
  const here = aliases.indexOf(state.selected);
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    const step = event.key === "ArrowDown" ? 1 : -1;
    open(aliases[(here + step + aliases.length) % aliases.length]);
    event.preventDefault();
  }
}

function onComposerKey(event) {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    submit();
  } else if (event.key === "ArrowUp" && !$("text").value) {
    editLast();
  } else if (event.key === "Escape") {
    state.replyTo = null;
    state.editing = null;
    renderReplying();
  }
}

$("chats").addEventListener("click", (event) => {
  const item = event.target.closest("li[data-alias]");
  if (item) open(item.dataset.alias);
});
$("chats").addEventListener("keydown", onChatsKey);
$("messages").addEventListener("click", onMessageAction);
$("composer").addEventListener("submit", (event) => { event.preventDefault(); submit(); });
$("text").addEventListener("keydown", onComposerKey);
$("cancel-reply").addEventListener("click", () => { state.replyTo = null; state.editing = null; renderReplying(); });
$("invite").addEventListener("click", showInvite);
$("join").addEventListener("click", showJoin);
$("requests").addEventListener("click", showRequests);
$("verify").addEventListener("click", showVerify);
api.connect();
