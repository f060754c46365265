// Streams generating at once through one llama.cpp context (node-llama-cpp's prebuilt CPU build), for
// `rlhf4j bench --suite serve --peer llama.cpp`. Usage: node throughput.mjs MODEL.gguf NEW_TOKENS STREAMS
// PROMPT...; each stream takes the next prompt in turn, prefills it and samples NEW_TOKENS tokens at
// temperature 0.8 (EOS ignored). Prints {"tokens_per_second": aggregate, "ttft_ms_p50": ...}.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, newTokens, streams, ...prompts] = process.argv.slice(2);
const n = Number(newTokens);
const s = Number(streams);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: 256 * s, sequences: s, threads: 2, batchSize: 512});

const sequences = Array.from({length: s}, () => context.getSequence());

async function stream(i, seed) {
  const sequence = sequences[i];
  await sequence.clearHistory();
  const tokens = model.tokenize(prompts[i % prompts.length]);
  const start = performance.now();
  let first = 0;
  let count = 0;
  for await (const token of sequence.evaluate([model.tokens.bos, ...tokens], {temperature: 0.8, seed})) {
    if (count === 0) first = performance.now() - start;
    if (++count >= n) break;
  }
  return {count, first};
}

async function round(seed) {
  const start = performance.now();
  const runs = await Promise.all(Array.from({length: s}, (_, i) => stream(i, seed + i)));
  const seconds = (performance.now() - start) / 1000;
  return {tps: runs.reduce((a, r) => a + r.count, 0) / seconds, ttft: runs.map(r => r.first)};
}

await round(1); // warm-up
const rounds = [];
for (let r = 0; r < 3; r++) rounds.push(await round(100 + r));
const tps = rounds.map(r => r.tps).sort((a, b) => a - b)[1];
const ttft = rounds.flatMap(r => r.ttft).sort((a, b) => a - b);
console.log(JSON.stringify({tokens_per_second: tps, ttft_ms_p50: ttft[Math.floor(ttft.length / 2)], streams: s}));
