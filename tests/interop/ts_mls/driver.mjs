// A line-delimited JSON driver for ts-mls, the independent MLS implementation Veil
// checks itself against. One request per stdin line, one reply per stdout line.
//
// Request:  {"op": "...", ...arguments}; bytes travel as base64 strings.
// Reply:    {"ok": true, ...results} or {"ok": false, "error": "..."}.
//
// Members live in this process by name; every MLS message crosses the pipe as the
// RFC 9420 MLSMessage encoding, so the other side sees exactly what a relay would carry.
// The Python wrapper (driver.py) copies this file next to the node_modules that hold
// the pinned ts-mls, so the bare "ts-mls" import resolves there.
import { createInterface } from "node:readline"
import { performance } from "node:perf_hooks"
import {
  clientStateEncoder,
  createApplicationMessage,
  createCommit,
  createGroup,
  decode,
  defaultCredentialTypes,
  defaultProposalTypes,
  encode,
  generateKeyPackage,
  getCiphersuiteImpl,
  joinGroup,
  mlsMessageDecoder,
  mlsMessageEncoder,
  processMessage,
  protocolVersions,
  unsafeTestingAuthenticationService,
  wireformats,
} from "ts-mls"

const SUITE_NAMES = {
  1: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519",
  0xf00d: "MLS_256_XWING_AES256GCM_SHA512_Ed25519",
}

const contexts = new Map() // suite id -> MlsContext
const pendingKeyPackages = new Map() // member name -> {suite, publicPackage, privatePackage}
const members = new Map() // member name -> {suite, state}

const toBytes = (b64) => new Uint8Array(Buffer.from(b64, "base64"))
const toB64 = (bytes) => Buffer.from(bytes).toString("base64")

async function contextFor(suite) {
  if (!contexts.has(suite)) {
    const name = SUITE_NAMES[suite]
    if (name === undefined) throw new Error(`suite ${suite} is not driven here`)
    const cipherSuite = await getCiphersuiteImpl(name)
    contexts.set(suite, { cipherSuite, authService: unsafeTestingAuthenticationService })
  }
  return contexts.get(suite)
}

function member(name) {
  const found = members.get(name)
  if (found === undefined) throw new Error(`no member named ${name}`)
  return found
}

function decodeMessage(b64, wireformat) {
  const message = decode(mlsMessageDecoder, toBytes(b64))
  if (message === undefined) throw new Error("undecodable MLSMessage")
  if (wireformat !== undefined && message.wireformat !== wireformat) {
    throw new Error(`expected wireformat ${wireformat}, got ${message.wireformat}`)
  }
  return message
}

function summary(state) {
  return {
    epoch: Number(state.groupContext.epoch),
    epoch_authenticator: toB64(state.keySchedule.epochAuthenticator),
    leaf_index: state.privatePath.leafIndex,
  }
}

async function newKeyPackage(suite, identity) {
  const context = await contextFor(suite)
  const credential = { credentialType: defaultCredentialTypes.basic, identity }
  return generateKeyPackage({ credential, cipherSuite: context.cipherSuite })
}

function keyPackageMessage(publicPackage) {
  return encode(mlsMessageEncoder, {
    version: protocolVersions.mls10,
    wireformat: wireformats.mls_key_package,
    keyPackage: publicPackage,
  })
}

function proposalsFor({ add = [], remove = [] }) {
  const adds = add.map((b64) => ({
    proposalType: defaultProposalTypes.add,
    add: { keyPackage: decodeMessage(b64, wireformats.mls_key_package).keyPackage },
  }))
  const removes = remove.map((leaf) => ({
    proposalType: defaultProposalTypes.remove,
    remove: { removed: leaf },
  }))
  return [...adds, ...removes]
}

// An empty commit carries a path (RFC 9420 §12.4): ts-mls's way of committing an Update.
async function commit(name, request) {
  const self = member(name)
  const result = await createCommit({
    context: await contextFor(self.suite),
    state: self.state,
    extraProposals: proposalsFor(request),
    ratchetTreeExtension: true,
    wireAsPublicMessage: request.public ?? false,
  })
  self.state = result.newState
  return {
    commit: toB64(encode(mlsMessageEncoder, result.commit)),
    welcome: result.welcome ? toB64(encode(mlsMessageEncoder, result.welcome)) : null,
    ...summary(self.state),
  }
}

const handlers = {
  async key_package({ name, suite, identity }) {
    const identityBytes = identity ? toBytes(identity) : new TextEncoder().encode(name)
    const pkg = await newKeyPackage(suite, identityBytes)
    pendingKeyPackages.set(name, { suite, ...pkg })
    return { key_package: toB64(keyPackageMessage(pkg.publicPackage)) }
  },

  async create_group({ name, suite, group_id }) {
    const context = await contextFor(suite)
    const pkg = await newKeyPackage(suite, new TextEncoder().encode(name))
    const state = await createGroup({
      context,
      groupId: toBytes(group_id),
      keyPackage: pkg.publicPackage,
      privateKeyPackage: pkg.privatePackage,
    })
    members.set(name, { suite, state })
    return summary(state)
  },

  async join({ name, welcome }) {
    const pending = pendingKeyPackages.get(name)
    if (pending === undefined) throw new Error(`${name} has no key package`)
    const state = await joinGroup({
      context: await contextFor(pending.suite),
      welcome: decodeMessage(welcome, wireformats.mls_welcome).welcome,
      keyPackage: pending.publicPackage,
      privateKeys: pending.privatePackage,
    })
    pendingKeyPackages.delete(name)
    members.set(name, { suite: pending.suite, state })
    return summary(state)
  },

  async commit({ name, ...request }) {
    return commit(name, request)
  },

  async process({ name, message }) {
    const self = member(name)
    const result = await processMessage({
      context: await contextFor(self.suite),
      state: self.state,
      message: decodeMessage(message),
    })
    self.state = result.newState
    const data = result.kind === "applicationMessage" ? toB64(result.message) : null
    const removed = result.kind === "newState" && self.state.groupActiveState.kind !== "active"
    return { kind: result.kind, data, removed, ...summary(self.state) }
  },

  async encrypt({ name, data }) {
    const self = member(name)
    const result = await createApplicationMessage({
      context: await contextFor(self.suite),
      state: self.state,
      message: toBytes(data),
    })
    self.state = result.newState
    return { message: toB64(encode(mlsMessageEncoder, result.message)) }
  },

  async state({ name }) {
    const self = member(name)
    return { ...summary(self.state), state_size: encode(clientStateEncoder, self.state).length }
  },

  async forget({ name }) {
    members.delete(name)
    pendingKeyPackages.delete(name)
    return {}
  },

  async bench(request) {
    return bench(request)
  },
}

const millis = async (work) => {
  const start = performance.now()
  const value = await work()
  return [performance.now() - start, value]
}

// Leaves 1, 2, 4, ... (not the joiner's): see warm_leaves in bench/mls.py.
function warmLeaves(size) {
  const leaves = []
  for (let leaf = 1; leaf < size - 1; leaf *= 2) leaves.push(leaf)
  return leaves
}

// Each warm member commits a path; the creator, the joiner and the others follow.
async function warmUp(context, creator, joiner, warm) {
  for (const [leaf, state] of warm) {
    const made = await createCommit({ context, state })
    warm.set(leaf, made.newState)
    const follow = async (s) => (await processMessage({ context, state: s, message: made.commit })).newState
    creator = await follow(creator)
    joiner = await follow(joiner)
    for (const [other, otherState] of warm) {
      if (other !== leaf) warm.set(other, await follow(otherState))
    }
  }
  return [creator, joiner]
}

// The bench's ts-mls column: the same operations as bench/mls.py measures for Veil,
// timed inside this process so the pipe's cost is not charged to ts-mls.
async function bench({ suite, size, messages = 200, message_size = 1024 }) {
  const context = await contextFor(suite)
  const packages = []
  for (let i = 1; i < size; i++) {
    packages.push(await newKeyPackage(suite, new TextEncoder().encode(`m${i}`)))
  }
  const creator = await newKeyPackage(suite, new TextEncoder().encode("m0"))
  const creatorState = await createGroup({
    context,
    groupId: new TextEncoder().encode(`bench-${suite}-${size}`),
    keyPackage: creator.publicPackage,
    privateKeyPackage: creator.privatePackage,
  })
  const adds = packages.map((pkg) => ({
    proposalType: defaultProposalTypes.add,
    add: { keyPackage: pkg.publicPackage },
  }))
  const [createMs, created] = await millis(() =>
    createCommit({ context, state: creatorState, extraProposals: adds, ratchetTreeExtension: true }),
  )
  const welcomeBytes = encode(mlsMessageEncoder, created.welcome)
  const last = packages[packages.length - 1]
  const [joinMs, joined] = await millis(() =>
    joinGroup({
      context,
      welcome: created.welcome.welcome,
      keyPackage: last.publicPackage,
      privateKeys: last.privatePackage,
    }),
  )
  const [commitMs, updated] = await millis(() => createCommit({ context, state: created.newState }))
  const [processMs, processed] = await millis(() =>
    processMessage({ context, state: joined, message: updated.commit }),
  )
  const warm = new Map()
  for (const leaf of warmLeaves(size)) {
    const pkg = packages[leaf - 1]
    const state = await joinGroup({
      context,
      welcome: created.welcome.welcome,
      keyPackage: pkg.publicPackage,
      privateKeys: pkg.privatePackage,
    })
    warm.set(leaf, (await processMessage({ context, state, message: updated.commit })).newState)
  }
  const [sender0, receiver0] = await warmUp(context, updated.newState, processed.newState, warm)
  const [warmCommitMs, warmUpdated] = await millis(() => createCommit({ context, state: sender0 }))
  const [warmProcessMs, warmProcessed] = await millis(() =>
    processMessage({ context, state: receiver0, message: warmUpdated.commit }),
  )
  let sender = warmUpdated.newState
  let receiver = warmProcessed.newState
  const agreed = Buffer.from(receiver.keySchedule.epochAuthenticator).equals(
    Buffer.from(sender.keySchedule.epochAuthenticator),
  )
  if (!agreed) throw new Error("bench: the joiner's epoch authenticator differs")
  const payload = new Uint8Array(message_size)
  const [messagesMs] = await millis(async () => {
    for (let i = 0; i < messages; i++) {
      const sent = await createApplicationMessage({ context, state: sender, message: payload })
      sender = sent.newState
      const got = await processMessage({ context, state: receiver, message: sent.message })
      receiver = got.newState
    }
  })
  return {
    create_group_ms: createMs,
    join_ms: joinMs,
    commit_update_ms: commitMs,
    process_commit_ms: processMs,
    commit_update_warm_ms: warmCommitMs,
    process_commit_warm_ms: warmProcessMs,
    messages_per_s: (messages * 1000) / messagesMs,
    state_serialised_bytes: encode(clientStateEncoder, receiver).length,
    welcome_bytes: welcomeBytes.length,
    welcome_bytes_per_member: welcomeBytes.length / Math.max(1, size - 1),
    heap_used_bytes: process.memoryUsage().heapUsed,
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (line.trim() === "") continue
  let reply
  try {
    const request = JSON.parse(line)
    const handler = handlers[request.op]
    if (handler === undefined) throw new Error(`unknown op ${request.op}`)
    reply = { ok: true, ...(await handler(request)) }
  } catch (error) {
    reply = { ok: false, error: String(error && error.stack ? error.stack : error) }
  }
  process.stdout.write(JSON.stringify(reply) + "\n")
}
