// `sobre serve` end to end with the official OpenAI client (and plain fetch for bad input).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { startServer, readSse, sobre } from "./harness.mjs";

const KEY = "test-key-123";
let srv, client, model;

before(async () => {
  srv = await startServer(["--api-key", KEY, "--parallel", "4", "-c", "2048"]);
  client = new OpenAI({ baseURL: srv.url + "/v1", apiKey: KEY, maxRetries: 0 });
  model = (await client.models.list()).data[0].id;
});
after(async () => { await srv.stop(); });

const ask = (extra = {}) => ({
  model, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Say hello." }],
  max_tokens: 12, temperature: 0, ...extra,
});

test("lists the model", async () => {
  const list = await client.models.list();
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].id, "tiny.gguf");
  assert.match(list.data[0].meta.sha256, /^[0-9a-f]{64}$/);
});

test("a wrong or missing key gets 401 with OpenAI's error body", async () => {
  const bad = new OpenAI({ baseURL: srv.url + "/v1", apiKey: "wrong", maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e.status === 401 && /API key/.test(e.message));
  const r = await fetch(srv.url + "/v1/chat/completions", { method: "POST", body: "{}" });
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error.code, "invalid_api_key");
});

test("chat completion, not streamed", async () => {
  const r = await client.chat.completions.create(ask());
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(typeof r.choices[0].message.content, "string");
  assert.ok(["stop", "length"].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test("streamed and non-streamed answers are identical at temperature 0", async () => {
  const whole = await client.chat.completions.create(ask());
  const stream = await client.chat.completions.create(ask({ stream: true, stream_options: { include_usage: true } }));
  let text = "", finish = null, usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    text += c.delta.content || "";
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.equal(usage.completion_tokens, whole.usage.completion_tokens);
});

test("the same seed gives the same sample", async () => {
  const a = await client.chat.completions.create(ask({ temperature: 0.9, seed: 7 }));
  const b = await client.chat.completions.create(ask({ temperature: 0.9, seed: 7 }));
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
});

test("logprobs and top_logprobs", async () => {
  const r = await client.chat.completions.create(ask({ max_tokens: 4, logprobs: true, top_logprobs: 3 }));
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, r.usage.completion_tokens);
  for (const e of content) {
    assert.ok(e.logprob <= 0);
    assert.equal(e.top_logprobs.length, 3);
    assert.ok(e.top_logprobs[0].logprob >= e.logprob - 1e-6);  // greedy: the best is the one taken
  }
});

test("legacy completions endpoint", async () => {
  const r = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 5, temperature: 0 });
  assert.equal(r.object, "text_completion");
  assert.equal(typeof r.choices[0].text, "string");
  assert.equal(r.usage.completion_tokens, 5);
});

test("stop strings end the answer before them", async () => {
  const whole = (await client.chat.completions.create(ask({ max_tokens: 20 }))).choices[0].message.content;
  if (whole.length < 4) return;
  const stop = whole.slice(2, 4);
  const r = await client.chat.completions.create(ask({ max_tokens: 20, stop: [stop] }));
  assert.equal(r.choices[0].message.content, whole.slice(0, whole.indexOf(stop)));
  assert.equal(r.choices[0].finish_reason, "stop");
});

test("tools are accepted and the answer keeps the OpenAI shape", async () => {
  const tools = [{ type: "function", function: { name: "get_weather", description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];
  const r = await client.chat.completions.create(ask({ tools }));
  const m = r.choices[0].message;
  assert.ok(typeof m.content === "string" || m.content === null);
  if (m.tool_calls) assert.equal(r.choices[0].finish_reason, "tool_calls");
  const none = await client.chat.completions.create(ask({ tools, tool_choice: "none" }));
  assert.equal(none.choices[0].message.tool_calls, undefined);
});

// Bounded schemas (enums, booleans, no free text) so every forced call completes within max_tokens.
const forcedTools = [
  { type: "function", function: { name: "set_unit", parameters: { type: "object", additionalProperties: false,
    required: ["unit"], properties: { unit: { enum: ["celsius", "fahrenheit"] } } } } },
  { type: "function", function: { name: "toggle", parameters: { type: "object", additionalProperties: false,
    required: ["on"], properties: { on: { type: "boolean" } } } } },
];

test("tool_choice naming a function forces a call of it with arguments of its schema", async () => {
  for (const seed of [1, 2]) {
    const r = await client.chat.completions.create(ask({ tools: forcedTools, max_tokens: 120, temperature: 1, seed,
      tool_choice: { type: "function", function: { name: "set_unit" } } }));
    assert.equal(r.choices[0].finish_reason, "tool_calls");
    const calls = r.choices[0].message.tool_calls;
    assert.equal(calls.length, 1);
    assert.equal(calls[0].type, "function");
    assert.equal(calls[0].function.name, "set_unit");
    assert.ok(["celsius", "fahrenheit"].includes(JSON.parse(calls[0].function.arguments).unit));
  }
});

test("tool_choice required forces a call of one of the tools, streamed or not", async () => {
  const seen = new Set();
  for (const seed of [1, 2, 3, 4]) {
    const body = ask({ tools: forcedTools, max_tokens: 120, temperature: 1, seed, tool_choice: "required" });
    const r = await client.chat.completions.create(body);
    assert.equal(r.choices[0].finish_reason, "tool_calls");
    const [call] = r.choices[0].message.tool_calls;
    const args = JSON.parse(call.function.arguments);
    if (call.function.name === "set_unit") assert.ok(["celsius", "fahrenheit"].includes(args.unit));
    else {
      assert.equal(call.function.name, "toggle");
      assert.equal(typeof args.on, "boolean");
    }
    seen.add(call.function.name);
    const s = await client.chat.completions.create({ ...body, stream: true });
    let streamed, finish;
    for await (const c of s) {
      if (c.choices[0]?.delta?.tool_calls) streamed = c.choices[0].delta.tool_calls[0];
      if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    }
    assert.equal(finish, "tool_calls");
    assert.equal(streamed.function.name, call.function.name);
    assert.equal(streamed.function.arguments, call.function.arguments);
  }
  assert.ok(seen.size >= 1);
});

test("tool_choice mistakes are 400s naming the problem", async () => {
  const cases = [
    [{ tools: forcedTools, tool_choice: { type: "function", function: { name: "nope" } } }, /nope.*not among/],
    [{ tool_choice: "required" }, /needs 'tools'/],
    [{ tools: forcedTools, tool_choice: "sometimes" }, /tool_choice/],
    [{ tools: forcedTools, tool_choice: "required", response_format: { type: "json_object" } }, /cannot be combined/],
    [{ tools: [{ type: "function", function: { name: "f", parameters: { type: "object", patternProperties: {} } } }],
       tool_choice: "required" }, /patternProperties/],
  ];
  for (const [extra, re] of cases) {
    await assert.rejects(client.chat.completions.create(ask(extra)), (e) => e.status === 400 && re.test(e.message),
      JSON.stringify(extra));
  }
});

test("json_schema output is valid JSON of that schema (constrained while decoding)", async () => {
  const schema = { type: "object", additionalProperties: false, required: ["ok", "color", "n"],
    properties: { ok: { type: "boolean" }, color: { enum: ["red", "green"] }, n: { type: "integer" } } };
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create(ask({ max_tokens: 60, temperature: 1, seed,
      response_format: { type: "json_schema", json_schema: { name: "answer", schema, strict: true } } }));
    const text = r.choices[0].message.content;
    if (r.choices[0].finish_reason === "length") continue;  // a long integer may run out of tokens
    const v = JSON.parse(text);
    assert.deepEqual(Object.keys(v).sort(), ["color", "n", "ok"]);
    assert.equal(typeof v.ok, "boolean");
    assert.ok(["red", "green"].includes(v.color));
    assert.ok(Number.isInteger(v.n));
  }
  const obj = await client.chat.completions.create(ask({ max_tokens: 40, response_format: { type: "json_object" } }));
  assert.equal(obj.choices[0].message.content[0], "{");
});

test("bad input gets a 4xx with a clear message and the server keeps serving", async () => {
  const post = (body, headers = {}) => fetch(srv.url + "/v1/chat/completions", {
    method: "POST", headers: { Authorization: "Bearer " + KEY, "Content-Type": "application/json", ...headers }, body });
  const cases = [
    ["{not json", 400, /not valid JSON/],
    [JSON.stringify({ messages: "hi" }), 400, /messages/],
    [JSON.stringify({ messages: [{ role: "user", content: "x" }], temperature: "hot" }), 400, /temperature/],
    [JSON.stringify({ messages: [{ role: "user", content: "x" }], max_tokens: -3 }), 400, /max_tokens/],
    [JSON.stringify({ messages: [{ role: "user", content: "x" }], model: "gpt-9" }), 404, /gpt-9/],
    [JSON.stringify({ messages: [{ role: "user", content: "word ".repeat(2000) }] }), 400, /context/],
    ["x".repeat(9 << 20), 413, /too large/],
    [JSON.stringify({ messages: [{ role: "user", content: "x" }], response_format: { type: "json_schema",
      json_schema: { schema: { type: "object", patternProperties: {} } } } }), 400, /patternProperties/],
  ];
  for (const [body, status, message] of cases) {
    const r = await post(body);
    assert.equal(r.status, status, `${body.slice(0, 40)} -> ${r.status}`);
    const j = await r.json();
    assert.match(j.error.message, message);
  }
  const ok = await client.chat.completions.create(ask({ max_tokens: 2 }));
  assert.equal(ok.object, "chat.completion");
});

test("health and metrics", async () => {
  assert.deepEqual(await (await fetch(srv.url + "/health")).json(), { status: "ok" });
  const m = await (await fetch(srv.url + "/metrics")).text();
  for (const name of ["sobre_requests_total", "sobre_completion_tokens_total", "sobre_queue_depth",
                      "sobre_tokens_per_second", "sobre_kv_cache_usage_ratio"]) {
    assert.match(m, new RegExp("^" + name + " ", "m"));
  }
});

test("16 concurrent streams equal a single client's answer; disconnects free their slot", async () => {
  const body = (i) => ask({ messages: [{ role: "user", content: `Count to ${i % 4}.` }], max_tokens: 16, stream: true });
  const alone = [];
  for (let i = 0; i < 4; ++i) {
    alone.push((await client.chat.completions.create({ ...body(i), stream: false })).choices[0].message.content);
  }
  const run = async (i) => {
    const stream = await client.chat.completions.create(body(i));
    const leaves = i % 5 === 4;  // some clients leave mid-stream
    let text = "";
    let n = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content || "";
      // Leaving the loop makes the client abort the request: the server sees a disconnect.
      // (Aborting from inside the loop instead can leave the pending read unsettled in undici.)
      if (leaves && ++n === 3) break;
    }
    return leaves ? null : text;
  };
  const rss = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${srv.proc.pid}/status`, "utf8"))[1]);
  const metric = async (name) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(await (await fetch(srv.url + "/metrics")).text())[1]);
  // Three rounds of 16: memory after the third stays where the first left it (the KV cache is a
  // fixed budget and finished or abandoned requests leave nothing behind).
  let rssAfterFirst, kvAfterFirst;
  for (let round = 0; round < 3; ++round) {
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => run(i)));
    results.forEach((text, i) => { if (text !== null) assert.equal(text, alone[i % 4], `round ${round} stream ${i}`); });
    if (round === 0) [rssAfterFirst, kvAfterFirst] = [rss(), await metric("sobre_kv_cache_usage_ratio")];
  }
  assert.ok(rss() - rssAfterFirst < 16 * 1024, `RSS grew from ${rssAfterFirst} kB to ${rss()} kB over two more rounds`);
  assert.ok(await metric("sobre_kv_cache_usage_ratio") <= kvAfterFirst, "KV cache use grew across rounds");
  const after = await client.chat.completions.create(ask({ max_tokens: 2 }));  // still serving
  assert.equal(after.object, "chat.completion");
  const m = await (await fetch(srv.url + "/metrics")).text();
  assert.match(m, /^sobre_active_sequences 0$/m);
});

test("audit log lines chain and verify", async () => {
  const log = join(srv.dir, "audit.jsonl");
  const s2 = await startServer(["--audit-log", log, "--audit-content"], { model: srv.modelPath });
  try {
    const c2 = new OpenAI({ baseURL: s2.url + "/v1", apiKey: "none", maxRetries: 0 });
    await c2.chat.completions.create(ask({ max_tokens: 3 }));
    await c2.chat.completions.create(ask({ max_tokens: 3, stream: true })).then(async (s) => { for await (const _ of s); });
    const out = execFileSync(sobre, ["audit", "verify", log]).toString();
    assert.match(out, /ok/);
  } finally {
    await s2.stop();
  }
});
