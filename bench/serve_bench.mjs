// Aggregate tokens/s and time to first token at several concurrency levels against any
// OpenAI-compatible server (sobre serve, llama-server), for docs/PERFORMANCE.md.
//   node bench/serve_bench.mjs --url http://127.0.0.1:8080 [--streams 1,4,16] [--tokens 64] [--model ID]
// Uses only Node's fetch; prints one JSON line per concurrency level.
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const url = args.url || "http://127.0.0.1:8080";
const levels = (args.streams || "1,4,16").split(",").map(Number);
const maxTokens = Number(args.tokens || 64);
const model = args.model;  // omitted unless given: both servers then use their one model

async function one(i) {
  const start = performance.now();
  const r = await fetch(url + "/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model, stream: true, max_tokens: maxTokens, temperature: 0, ignore_eos: true,
      messages: [{ role: "user", content: `Write a story number ${i} about a lighthouse keeper.` }] }),
  });
  if (!r.ok) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buf = "", first = 0, chunks = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const line = buf.slice(0, cut); buf = buf.slice(cut + 2);
      if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
      const c = JSON.parse(line.slice(6)).choices?.[0]?.delta?.content;
      if (c) { chunks++; if (!first) first = performance.now(); }
    }
  }
  return { ttft: (first - start) / 1000, chunks, seconds: (performance.now() - start) / 1000 };
}

for (const n of levels) {
  const start = performance.now();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  const wall = (performance.now() - start) / 1000;
  const tokens = results.reduce((s, r) => s + r.chunks, 0);
  const ttfts = results.map((r) => r.ttft).sort((a, b) => a - b);
  console.log(JSON.stringify({ url, streams: n, max_tokens: maxTokens, wall_s: +wall.toFixed(2),
    aggregate_tps: +(tokens / wall).toFixed(1), ttft_median_s: +ttfts[Math.floor(n / 2)].toFixed(3),
    ttft_max_s: +ttfts[n - 1].toFixed(3) }));
}
