// Time to first token turn by turn in an agent-style conversation: each turn's prompt is the
// previous prompt, the previous answer and a new message, so a server with prefix reuse computes
// only the new part. For docs/PERFORMANCE.md (hybrid models resume from state checkpoints).
//   node bench/turns_bench.mjs --url http://127.0.0.1:8080 [--turns 4] [--system-words 1500] [--tokens 32]
// Uses /v1/completions with text prompts (no chat template needed); prints one JSON line per turn.
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const url = args.url || "http://127.0.0.1:8080";
const turns = Number(args.turns || 4);
const maxTokens = Number(args.tokens || 32);
const words = Number(args["system-words"] || 1500);

const vocabulary = ["tool", "result", "file", "line", "error", "fixed", "test", "passes", "build", "agent", "plan", "next"];
const text = (n, seed) => Array.from({ length: n }, (_, i) => vocabulary[(i * 7 + seed * 13) % vocabulary.length]).join(" ");

async function turn(prompt) {
  const start = performance.now();
  const r = await fetch(url + "/v1/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt, stream: true, max_tokens: maxTokens, temperature: 0, stream_options: { include_usage: true } }),
  });
  if (!r.ok) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buf = "", first = 0, answer = "", usage = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const line = buf.slice(0, cut); buf = buf.slice(cut + 2);
      if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
      const chunk = JSON.parse(line.slice(6));
      if (chunk.usage) usage = chunk.usage;
      const t = chunk.choices?.[0]?.text;
      if (t) { answer += t; if (!first) first = performance.now(); }
    }
  }
  return { ttft_s: +((first - start) / 1000).toFixed(3), answer, usage };
}

let prompt = "System: " + text(words, 0) + "\nUser: " + text(40, 1) + "\nAssistant:";
for (let k = 1; k <= turns; ++k) {
  const { ttft_s, answer, usage } = await turn(prompt);
  console.log(JSON.stringify({ turn: k, prompt_tokens: usage?.prompt_tokens,
    cached_tokens: usage?.prompt_tokens_details?.cached_tokens ?? null, ttft_s }));
  prompt += answer + "\nUser: " + text(30, k + 1) + "\nAssistant:";
}
