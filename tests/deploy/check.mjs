// Through nginx (docs/deploy/nginx.conf) in front of two labinov instances, as clients meet
// it: a query, a mutation, a graphql-ws subscription that receives the mutation's event, an
// evidence file larger than the body limit uploaded and downloaded, an SSE stream that resumes with Last-Event-ID after the instance serving it is stopped, and the
// per-address rate limit counted for each forwarded client on its own. Run by
// tests/deploy/nginx.sh, which sets:
//   BASE       https://127.0.0.1:PORT (nginx; NODE_EXTRA_CA_CERTS trusts its certificate)
//   TOKEN      an ADMIN token
//   INSTANCES  127.0.0.1:PORT=PID,127.0.0.1:PORT=PID (the upstreams and their processes)
//   RATE_LIMIT the instances' LABINOV_RATE_LIMIT_PER_IP
// Every wait has a deadline, so the script ends by itself; it exits non-zero on any failure.
import assert from "node:assert/strict";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const BASE = process.env.BASE;
const TOKEN = process.env.TOKEN;
const RATE_LIMIT = Number(process.env.RATE_LIMIT);
const INSTANCES = new Map(
  process.env.INSTANCES.split(",").map((pair) => {
    const [address, pid] = pair.split("=");
    return [address, Number(pid)];
  }),
);
const PATIENCE_MS = 20_000;

// Every client but the rate-limit ones comes from this address; nginx appends its own peer
// (127.0.0.1, a trusted proxy), and labinov counts the rightmost untrusted one.
const CLIENT = "192.0.2.10";

function within(ms, promise, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function post(query, variables = {}, { token = TOKEN, from = CLIENT } = {}) {
  const headers = {
    "content-type": "application/json",
    accept: "application/graphql-response+json",
    "x-forwarded-for": from,
  };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${BASE}/graphql`, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: await response.json() };
}

async function data(query, variables) {
  const { status, body } = await post(query, variables);
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

function step(what) {
  console.log(`- ${what}`);
}

// An SSE subscription read with fetch, as an EventSource would: on the end of a stream it
// reconnects with Last-Event-ID, through nginx, to whichever instance answers.
class EventStream {
  constructor(query) {
    this.query = query;
    this.lastEventId = undefined;
    this.received = [];
    this.upstreams = [];
    this.waiters = [];
    this.closed = false;
    this.controller = undefined;
    this.running = this.run();
  }

  async run() {
    while (!this.closed) {
      this.controller = new AbortController();
      try {
        const headers = {
          accept: "text/event-stream",
          authorization: `Bearer ${TOKEN}`,
          "x-forwarded-for": CLIENT,
        };
        if (this.lastEventId) headers["last-event-id"] = this.lastEventId;
        const url = `${BASE}/graphql?query=${encodeURIComponent(this.query)}`;
        const response = await fetch(url, { headers, signal: this.controller.signal });
        assert.equal(response.status, 200, `the event stream opens (${response.status})`);
        assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
        // nginx lists every upstream it tried; the last one answered.
        this.upstreams.push(response.headers.get("x-labinov-upstream")?.split(",").at(-1).trim());
        this.notify();
        let buffer = "";
        const decoder = new TextDecoder();
        for await (const chunk of response.body) {
          buffer += decoder.decode(chunk, { stream: true });
          let end;
          while ((end = buffer.indexOf("\n\n")) !== -1) {
            this.block(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch (error) {
        if (this.closed) return;
        // A stream cut by a stopping instance: reconnect, as an EventSource does.
      }
      if (!this.closed) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  block(text) {
    let id;
    let event = "message";
    let payload = "";
    for (const line of text.split("\n")) {
      if (line.startsWith("id:")) id = line.slice(3).trim();
      else if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) payload += line.slice(5).trim();
    }
    if (event !== "next" || !payload) return;
    if (id) this.lastEventId = id;
    this.received.push(JSON.parse(payload));
    this.notify();
  }

  notify() {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  async until(condition, what) {
    await within(
      PATIENCE_MS,
      (async () => {
        while (!condition()) await new Promise((resolve) => this.waiters.push(resolve));
      })(),
      what,
    );
  }

  close() {
    this.closed = true;
    this.controller?.abort();
    this.notify();
  }
}

// A wrapper so graphql-ws sends the forwarded-for header its WebSocket needs here.
class ForwardedWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols, { headers: { "x-forwarded-for": CLIENT } });
  }
}

async function main() {
  step("a query");
  const ready = await fetch(`${BASE}/readyz`);
  assert.equal(ready.status, 200);
  const stages = await data("{ stages { stage } }");
  assert.equal(stages.stages.length, 5, "the five 5D stages");

  step("a graphql-ws subscription receives a mutation's event");
  const ws = createClient({
    url: `${BASE.replace("https://", "wss://")}/graphql`,
    webSocketImpl: ForwardedWebSocket,
    connectionParams: { Authorization: `Bearer ${TOKEN}` },
    retryAttempts: 0,
    lazy: false,
  });
  const wsEvents = [];
  let wsNotify = () => {};
  const subscribed = new Promise((resolve, reject) => {
    ws.on("connected", resolve);
    ws.on("error", reject);
  });
  // From the position after what a query just read, so the write below cannot fall before
  // the subscription starts.
  const { pipelineEvents } = await data("{ pipelineEvents(last: 1) { resumeCursor } }");
  const unsubscribe = ws.subscribe(
    {
      query:
        "subscription($after: String) { pipelineEvents(after: $after) { cursor kind regency { code } } }",
      variables: { after: pipelineEvents.resumeCursor },
    },
    {
      next: (message) => {
        wsEvents.push(message);
        wsNotify();
      },
      error: (error) => {
        wsEvents.push({ error });
        wsNotify();
      },
      complete: () => {},
    },
  );
  await within(PATIENCE_MS, subscribed, "the WebSocket to be acknowledged");
  const created = await data(
    `mutation { createRegency(input: {code: "91.01", name: "Kabupaten Proksi", province: "Uji", organiser: "Bapelitbangda"}) { regency { id code } event { kind sequence } } }`,
  );
  assert.equal(created.createRegency.regency.code, "91.01");
  const regencyId = created.createRegency.regency.id;
  await within(
    PATIENCE_MS,
    (async () => {
      while (!wsEvents.some((m) => m.data?.pipelineEvents?.regency?.code === "91.01")) {
        assert.ok(!wsEvents.some((m) => m.error), JSON.stringify(wsEvents));
        await new Promise((resolve) => (wsNotify = resolve));
      }
    })(),
    "the REGENCY_CREATED event over graphql-ws",
  );
  const wsEvent = wsEvents.find((m) => m.data?.pipelineEvents?.regency?.code === "91.01");
  assert.equal(wsEvent.data.pipelineEvents.kind, "REGENCY_CREATED");
  unsubscribe();
  await ws.dispose();

  step("an evidence file larger than the body limit goes up through the proxy and comes back");
  // From its own address, so its requests count towards no other step's rate limit.
  const uploader = { from: "192.0.2.20" };
  const made = async (query, variables) => {
    const { status, body } = await post(query, variables, uploader);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    return body.data;
  };
  // In a regency of its own: the SSE step below counts every event of 91.01.
  const lab = await made(
    `mutation { createRegency(input: {code: "91.02", name: "Kabupaten Unggah", province: "Uji", organiser: "Bapelitbangda"}) { regency { id } } }`,
  );
  const labId = lab.createRegency.regency.id;
  const cohort = await made(
    `mutation($r: ID!) { createCohort(input: {regencyId: $r, year: 2026, name: "Laboratorium Inovasi Proksi"}) { cohort { id } } }`,
    { r: labId },
  );
  const healthOffice = await made(
    `mutation($r: ID!) { createUnit(input: {regencyId: $r, kind: DINAS, name: "Dinas Kesehatan"}) { unit { id } } }`,
    { r: labId },
  );
  const submitted = await made(
    `mutation($c: ID!, $u: ID!) { submitIdea(input: {cohortId: $c, unitId: $u, title: "Posyandu Proksi",
       problem: "Uji unggah lewat proksi", type: NON_DIGITAL, form: PUBLIC_SERVICE, affairsArea: "Kesehatan",
       initiator: CIVIL_SERVANT}) { idea { id } } }`,
    { c: cohort.createCohort.cohort.id, u: healthOffice.createUnit.unit.id },
  );
  // 6 MiB: over nginx's 4m default and labinov's body limit, within the evidence limit.
  const report = new Uint8Array(6 * 1024 * 1024).fill(0x20);
  report.set(new TextEncoder().encode("%PDF-1.4\n"), 0);
  const form = new FormData();
  form.append(
    "operations",
    JSON.stringify({
      query: "mutation($f: Upload!, $i: ID!) { addEvidence(input: {ideaId: $i, file: $f}) { evidence { size url contentType } } }",
      variables: { f: null, i: submitted.submitIdea.idea.id },
    }),
  );
  form.append("map", JSON.stringify({ 0: ["variables.f"] }));
  form.append("0", new Blob([report], { type: "application/pdf" }), "laporan-proksi.pdf");
  const headers = { authorization: `Bearer ${TOKEN}`, "x-forwarded-for": uploader.from };
  const uploaded = await fetch(`${BASE}/graphql`, { method: "POST", headers, body: form });
  const upload = await uploaded.json();
  assert.equal(uploaded.status, 200, JSON.stringify(upload));
  assert.equal(upload.errors, undefined, JSON.stringify(upload.errors));
  const evidence = upload.data.addEvidence.evidence;
  assert.equal(evidence.size, report.length);
  assert.equal(evidence.contentType, "application/pdf");
  const downloaded = await fetch(`${BASE}${evidence.url}`, { headers });
  assert.equal(downloaded.status, 200);
  assert.equal(downloaded.headers.get("x-content-type-options"), "nosniff");
  assert.equal((await downloaded.arrayBuffer()).byteLength, report.length);

  step("an SSE stream resumes with Last-Event-ID after its instance is stopped");
  const stream = new EventStream(
    `subscription { pipelineEvents(filter: {regencyCodes: ["91.01"]}, after: "${pipelineEvents.resumeCursor}") { cursor sequence kind } }`,
  );
  await stream.until(() => stream.received.length >= 1, "the regency's first event over SSE");
  assert.equal(stream.received[0].data.pipelineEvents.kind, "REGENCY_CREATED");
  const unit = async (name) =>
    data(
      `mutation($r: ID!, $n: String!) { createUnit(input: {regencyId: $r, kind: DINAS, name: $n}) { event { sequence } } }`,
      { r: regencyId, n: name },
    );
  await unit("Dinas Pertama");
  await stream.until(() => stream.received.length >= 2, "the second event over SSE");
  const serving = stream.upstreams.at(-1);
  assert.ok(INSTANCES.has(serving), `the stream's upstream ${serving} is one of ${[...INSTANCES.keys()]}`);
  console.log(`  the stream is served by ${serving}; stopping that instance (SIGTERM)`);
  process.kill(INSTANCES.get(serving), "SIGTERM");
  await stream.until(() => stream.upstreams.length >= 2, "the stream to reconnect");
  const resumedOn = stream.upstreams.at(-1);
  assert.notEqual(resumedOn, serving, "it resumed on the other instance");
  await unit("Dinas Kedua");
  await unit("Dinas Ketiga");
  await stream.until(() => stream.received.length >= 4, "the events written after the switch");
  const sequences = stream.received.map((m) => m.data.pipelineEvents.sequence);
  assert.deepEqual(sequences, [1, 2, 3, 4], "every event exactly once, in order");
  console.log(`  resumed on ${resumedOn}; sequences ${sequences.join(", ")}`);
  stream.close();

  step("the per-address rate limit counts each forwarded client on its own");
  const stagesQuery = "{ stages { stage } }";
  let limited;
  // Each instance counts on its own; one is left, but allow for both.
  for (let n = 1; n <= 2 * RATE_LIMIT + 1; n += 1) {
    const answer = await post(stagesQuery, {}, { token: null, from: "203.0.113.1" });
    if (answer.status === 429) {
      limited = { n, answer };
      break;
    }
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  }
  assert.ok(limited, `203.0.113.1 was not limited after ${2 * RATE_LIMIT + 1} requests`);
  assert.equal(limited.answer.body.errors[0].extensions.code, "RATE_LIMITED");
  console.log(`  203.0.113.1 limited at request ${limited.n} (limit ${RATE_LIMIT} a minute)`);
  const other = await post(stagesQuery, {}, { token: null, from: "203.0.113.2" });
  assert.equal(other.status, 200, `another client is not limited: ${JSON.stringify(other.body)}`);
}

main().then(
  () => {
    console.log("proxy check passed");
    process.exit(0);
  },
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
