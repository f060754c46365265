// Greedy decoding from BOS with llama.cpp (node-llama-cpp's prebuilt CPU build), for GgufExporterTest.
// Usage: node greedy.mjs MODEL.gguf MAX_TOKENS; prints {"tokens": [...], "text": "..."}, stopping at EOS.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, maxTokens] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: 256, threads: 2});
const sequence = context.getSequence();
const tokens = [];
for await (const token of sequence.evaluate([model.tokens.bos], {temperature: 0})) {
  if (token === model.tokens.eos) break;
  tokens.push(token);
  if (tokens.length >= Number(maxTokens)) break;
}
console.log(JSON.stringify({tokens, text: model.detokenize(tokens)}));
