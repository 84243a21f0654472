// The service's JSON-RPC 2.0 API over this page's WebSocket (docs/api.md).
// The session cookie authenticates the socket; events resume after the last seq seen.

export class Api {
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.nextId = 1;
    this.waiting = new Map();
    this.lastSeq = null; // null until hello says where the event log stands
    this.socket = null;
  }

  connect() {
    const socket = new WebSocket(`ws://${location.host}/api`);
    this.socket = socket;
    socket.addEventListener("open", async () => {
      if (this.lastSeq === null) this.lastSeq = (await this.call("hello")).last_event;
      await this.call("subscribe", { since: this.lastSeq });
      this.onState("online");
    });
    socket.addEventListener("message", (message) => this.take(JSON.parse(message.data)));
    socket.addEventListener("close", () => {
      for (const { reject } of this.waiting.values()) reject(new Error("the connection to Veil closed"));
      this.waiting.clear();
      this.onState("offline");
      setTimeout(() => this.connect(), 2000);
    });
  }

  take(message) {
    if (message.method === "event") {
      this.lastSeq = Math.max(this.lastSeq, message.params.seq);
      this.onEvent(message.params);
      return;
    }
    const call = this.waiting.get(message.id);
    if (!call) return;
    this.waiting.delete(message.id);
    if (message.error) {
      const error = new Error(message.error.message);
      error.kind = message.error.data ? message.error.data.kind : "Error";
      call.reject(error);
    } else {
      call.resolve(message.result);
    }
  }

  call(method, params = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
        reject(new Error("not connected to Veil yet"));
        return;
      }
      this.waiting.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  }
}
