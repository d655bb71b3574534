// Starts `sobre serve` on the bundled tiny model for a test file and stops it afterwards.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const sobre = process.env.SOBRE_BIN || new URL("../../build/bin/sobre", import.meta.url).pathname;

export function makeModel(dir) {
  const path = join(dir, "tiny.gguf");
  execFileSync(sobre, ["synth", "--preset", "tiny", "--type", "q8_0", "-o", path], { stdio: "ignore" });
  return path;
}

// Resolves with { url, port, proc, dir, stop } once the server prints its address.
export async function startServer(extraArgs = [], { model } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "sobre-e2e-"));
  const modelPath = model || makeModel(dir);
  const proc = spawn(sobre, ["serve", "-m", modelPath, "--port", "0", "-t", "2", ...extraArgs], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start: " + log)), 30000);
    proc.stderr.on("data", (d) => {
      log += d;
      const m = /on http:\/\/[^:]+:(\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${log}`)); });
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url, port, proc, dir, modelPath,
    log: () => log,
    stop: async () => {
      proc.kill("SIGTERM");
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.on("exit", r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Reads a whole SSE response into its data payloads.
export async function readSse(response) {
  const text = await response.text();
  return text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
}
