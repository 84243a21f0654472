// Rendering helpers. Text from people is only ever set as textContent, never as HTML.

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

const TICKS = { pending: "🕓 waiting in the outbox", sent: "✓ sent", delivered: "✓✓ delivered", read: "✓✓ read" };

export function chatItem(contact, unread, last, selected) {
  const item = element("li", {
    role: "option",
    tabindex: "-1",
    "aria-selected": String(selected),
    "data-alias": contact.alias,
    "aria-label": `${contact.alias}${unread ? `, ${unread} unread` : ""}${contact.verified ? ", verified" : ""}`,
  });
  item.append(element("span", { className: "name", text: contact.alias + (contact.verified ? " ✔" : "") }));
  if (unread) item.append(element("span", { className: "unread", text: String(unread) }));
  item.append(element("div", { className: "last", text: last || statusText(contact.status) }));
  return item;
}

function statusText(status) {
  return status === "connected" ? "" : status;
}

export function messageItem(message, quoted) {
  const mine = message.direction === "sent";
  const text = message.deleted !== "none" ? "(deleted)" : message.text ?? "";
  const item = element("li", {
    className: `message ${mine ? "sent" : "received"}`,
    tabindex: "0",
    "data-id": String(message.id),
    "aria-label": `${mine ? "You" : "They"}: ${text}`,
  });
  if (message.is_reply) {
    item.append(element("div", { className: "quote", text: quoted ?? "(a message no longer here)" }));
  }
  item.append(element("div", { className: "text", text }));
  const reactions = message.reactions.map(([, emoji]) => emoji).join(" ");
  if (reactions) item.append(element("div", { className: "reactions", text: reactions, "aria-label": `Reactions: ${reactions}` }));
  if (message.integrity && message.integrity !== "ok") {
    item.append(element("div", { className: "integrity", text: `⚠ ${message.integrity}` }));
  }
  const when = new Date(message.sent_at * 1000).toLocaleTimeString();
  const state = mine ? ` · ${TICKS[message.receipt] ?? message.receipt}` : "";
  item.append(element("div", { className: "meta", text: `${when}${message.edited ? " · edited" : ""}${state}` }));
  const actions = element("div", { className: "message-actions" });
  actions.append(element("button", { type: "button", "data-action": "reply", text: "Reply", "aria-label": "Reply to this message" }));
  actions.append(element("button", { type: "button", "data-action": "react", text: "👍", "aria-label": "React with thumbs up" }));
  if (mine && message.deleted === "none") {
    actions.append(element("button", { type: "button", "data-action": "edit", text: "Edit", "aria-label": "Edit this message" }));
  }
  item.append(actions);
  return item;
}
