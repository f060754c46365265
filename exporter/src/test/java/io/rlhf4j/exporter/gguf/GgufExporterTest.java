package io.rlhf4j.exporter.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.chat.ChatMessage;
import io.rlhf4j.core.chat.ChatTemplate;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.SharedData;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.trainer.generate.Generation;
import io.rlhf4j.trainer.generate.Generator;
import io.rlhf4j.trainer.importer.HfImporter;
import io.rlhf4j.trainer.importer.Llama2cImporter;
import io.rlhf4j.trainer.model.Decoder;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * GGUF exports read by a real llama.cpp: node-llama-cpp 3.21.1's prebuilt CPU build, installed by
 * {@code .ci/run} into {@code src/test/node} (the tests that need it skip without node or the package).
 * llama.cpp decodes greedily from BOS and must choose the trainer's tokens.
 */
class GgufExporterTest {

    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());
    static final Path NODE_DIR = Path.of("src", "test", "node");
    static final Path HF_FIXTURES = Path.of("..", "trainer", "src", "test", "resources", "hf-reference");

    @TempDir
    Path tmp;

    /** llama.cpp's greedy continuation of BOS: {"tokens": [...], "text": "..."}. */
    static JsonNode llamaCpp(Path gguf, int maxTokens) throws IOException, InterruptedException {
        assumeThat(NODE_DIR.resolve("node_modules/node-llama-cpp"))
                .as("node-llama-cpp not installed (.ci/run installs it): skipped")
                .exists();
        Process p = new ProcessBuilder(
                        "node", "greedy.mjs", gguf.toAbsolutePath().toString(), String.valueOf(maxTokens))
                .directory(NODE_DIR.toFile())
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("node greedy.mjs: " + out).isZero();
        return new ObjectMapper().readTree(out);
    }

    static Generation trainerGreedy(Path model, int maxTokens) throws IOException {
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.load(model, m)) {
            return new Generator(d, Checkpoint.readTokenizer(model)).generate("", SamplingParams.greedy(maxTokens));
        }
    }

    static int[] ids(JsonNode run) {
        int[] ids = new int[run.get("tokens").size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = run.get("tokens").get(i).asInt();
        }
        return ids;
    }

    static String firstSentence(String text) {
        return text.substring(0, text.indexOf('.') + 1);
    }

    @Test
    void stories260KTellsTheTrainersStoryInLlamaCppAndQuantizedKeepsItsFirstSentence() throws Exception {
        Optional<Path> dir = SharedData.file("models/stories260K");
        assumeThat(dir).as("shared data absent: skipped").isPresent();
        Path model = tmp.resolve("stories");
        Llama2cImporter.importModel(
                dir.get().resolve("stories260K.bin"), dir.get().resolve("tok512.bin"), model);
        Generation trainer = trainerGreedy(model, 200);
        assertThat(trainer.text()).startsWith("Once upon a time, there was a little girl named Lily.");

        new GgufExporter(QUIET).export(model, tmp.resolve("f32"), GgufExporter.Type.f32);
        JsonNode f32 = llamaCpp(tmp.resolve("f32").resolve(GgufExporter.MODEL_FILE), 200);
        assertThat(ids(f32)).containsExactly(trainer.tokens());
        // The SentencePiece vocabulary decodes as ours does: spaces, newlines from byte pieces, quotes.
        assertThat(f32.get("text").asText()).isEqualTo(trainer.text());

        for (GgufExporter.Type type : List.of(GgufExporter.Type.q8_0, GgufExporter.Type.q4_0)) {
            Path out = tmp.resolve(type.name());
            new GgufExporter(QUIET).export(model, out, type);
            assertThat(Files.size(out.resolve(GgufExporter.MODEL_FILE)))
                    .isLessThan(Files.size(tmp.resolve("f32").resolve(GgufExporter.MODEL_FILE)) / 2);
            assertThat(firstSentence(llamaCpp(out.resolve(GgufExporter.MODEL_FILE), 40)
                            .get("text")
                            .asText()))
                    .as(type.name())
                    .isEqualTo(firstSentence(trainer.text()));
        }
    }

    @Test
    void theDemoModelsByteLevelBpeVocabularyDecodesAsOurs() throws Exception {
        Path base = Path.of("..", "demo", "base-model");
        Generation trainer = trainerGreedy(base, 60);
        new GgufExporter(QUIET).export(base, tmp.resolve("demo"), GgufExporter.Type.f32);
        JsonNode run = llamaCpp(tmp.resolve("demo").resolve(GgufExporter.MODEL_FILE), 60);
        assertThat(ids(run)).containsExactly(trainer.tokens());
        assertThat(run.get("text").asText()).isEqualTo(trainer.text());
        assertThat(Files.readString(tmp.resolve("demo").resolve("Modelfile")))
                .contains("FROM ./model.gguf", "TEMPLATE \"\"\"", "PARAMETER stop \"<|eos|>\"");
    }

    /**
     * The numpy-checked HF fixtures of each family: linear rope scaling (llama.cpp's rope.scaling
     * keys), Llama 3's (as llama.cpp's {@code rope_freqs}), Mistral, Qwen2's biases and tied
     * embeddings, Qwen3's q/k norms and separate head_dim (both with llama.cpp's NeoX rotary,
     * unpermuted), Phi-3 split into Llama's projections.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama", "llama+linear", "llama3", "mistral", "qwen2", "qwen3", "phi3"})
    void everyFamilyDecodesInLlamaCppAsInTheTrainer(String variant) throws Exception {
        String family = variant.replace("+linear", "");
        Path source = tmp.resolve("hf");
        Files.createDirectories(source);
        for (String f : List.of("config.json", "model.safetensors")) {
            Files.copy(HF_FIXTURES.resolve(family).resolve(f), source.resolve(f));
        }
        if (variant.endsWith("+linear")) {
            // Linear rope scaling travels as rope.scaling.type and factor, which llama.cpp applies itself.
            ObjectMapper json = new ObjectMapper();
            var config = (com.fasterxml.jackson.databind.node.ObjectNode)
                    json.readTree(source.resolve("config.json").toFile());
            config.putObject("rope_scaling").put("rope_type", "linear").put("factor", 4.0);
            json.writeValue(source.resolve("config.json").toFile(), config);
        }
        new ByteLevelBpeTrainer(300)
                .train(List.of("the cat sat on the mat"), tmp.resolve("tok"))
                .save(source);
        Path model = tmp.resolve("model");
        ModelConfig config = HfImporter.importDir(source, model);
        Generation trainer = trainerGreedy(model, 24);
        assumeThat(trainer.tokens()).as("the random model chose EOS at once").isNotEmpty();

        Path out = tmp.resolve("gguf");
        new GgufExporter(QUIET).export(model, out, GgufExporter.Type.f32);
        assertThat(ids(llamaCpp(out.resolve(GgufExporter.MODEL_FILE), 24)))
                .as("%s as llama.cpp's %s", family, config.family().ggufArchitecture())
                .containsExactly(trainer.tokens());
    }

    @Test
    void halvesAndQuantBlocksAreLaidOutAsGgmlLaysThemOut() {
        assertThat(GgmlType.toHalf(1.0f)).isEqualTo((short) 0x3c00);
        assertThat(GgmlType.toHalf(-2.0f)).isEqualTo((short) 0xc000);
        assertThat(GgmlType.toHalf(65504f)).isEqualTo((short) 0x7bff);
        assertThat(GgmlType.toHalf(1e6f)).isEqualTo((short) 0x7c00);
        assertThat(GgmlType.toHalf(0.1f)).isEqualTo((short) 0x2e66); // nearest even of 0x2e66.66
        assertThat(GgmlType.toHalf(0x1p-24f)).isEqualTo((short) 0x0001); // the smallest subnormal

        float[] x = new float[32];
        for (int i = 0; i < 32; i++) {
            x[i] = (i - 16) / 4f; // -4 .. 3.75: amax 4 at index 0
        }
        ByteBuffer q8 = ByteBuffer.wrap(GgmlType.Q8_0.encode(x)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(q8.capacity()).isEqualTo(34);
        assertThat(q8.getShort()).isEqualTo(GgmlType.toHalf(4f / 127));
        assertThat(q8.get()).isEqualTo((byte) -127);
        q8.position(2 + 16);
        assertThat(q8.get()).isZero(); // x[16] = 0

        ByteBuffer q4 = ByteBuffer.wrap(GgmlType.Q4_0.encode(x)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(q4.capacity()).isEqualTo(18);
        // d = max / -8 with max = -4 (the value of largest magnitude, sign kept): 0.5.
        assertThat(q4.getShort()).isEqualTo(GgmlType.toHalf(0.5f));
        // Byte 0: x[0] = -4 -> -4 / 0.5 + 8.5 = 0.5 -> 0 (low); x[16] = 0 -> 8 (high).
        assertThat(q4.get() & 0xff).isEqualTo(0x80);
    }

    @Test
    void aChatMlTemplateBecomesOllamasGoTemplateAndOneThatDoesNotReduceIsLeftToTheGguf() {
        ChatTemplate chatMl = new ChatTemplate(
                "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                        + "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
                "<s>", "<|im_end|>");
        OllamaModelfile.Reduced r = OllamaModelfile.reduce(chatMl, "<s>").orElseThrow();
        List<ChatMessage> talk = List.of(ChatMessage.system("Be kind."), ChatMessage.user("Hi"));
        assertThat(r.render(talk)).isEqualTo(chatMl.render(talk, true));
        assertThat(r.goTemplate()).contains("<|im_start|>user\n", "{{ $m.Content }}", "<|im_start|>assistant\n");

        // Llama 2's: the system prompt goes inside the first user turn, which no per-message text can say.
        ChatTemplate llama2 = new ChatTemplate(
                "{% if messages[0]['role'] == 'system' %}{% set sys = '<<SYS>>\\n' + messages[0]['content'] "
                        + "+ '\\n<</SYS>>\\n\\n' %}{% set rest = messages[1:] %}{% else %}{% set sys = '' %}"
                        + "{% set rest = messages %}{% endif %}{% for m in rest %}{% if m['role'] == 'user' %}"
                        + "{{ bos_token }}[INST] {% if loop.first %}{{ sys }}{% endif %}{{ m['content'] }} [/INST]"
                        + "{% else %} {{ m['content'] }} {{ eos_token }}{% endif %}{% endfor %}",
                "<s>", "</s>");
        assertThat(OllamaModelfile.reduce(llama2, "<s>")).isEmpty();
    }

    @Test
    void whatGgufCannotHoldIsRefusedWithOneLine() throws Exception {
        Path gpt2 = tmp.resolve("gpt2");
        ModelConfig config = ModelConfig.gpt2(300, 32, 1, 4, 32).withSpecialTokens(0, 1);
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.initialise(config, m, 1)) {
            Checkpoint.write(
                    gpt2,
                    config,
                    d.toTensors(),
                    new ByteLevelBpeTrainer(300).train(List.of("a b"), tmp.resolve("tok")),
                    null);
        }
        assertThatThrownBy(() -> new GgufExporter(QUIET).export(gpt2, tmp.resolve("out"), GgufExporter.Type.f32))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("not gpt2");
        assertThat(tmp.resolve("out")).doesNotExist();
    }

    @Test
    void qAndKRowsArePermutedIntoInterleavedPairs() {
        ModelConfig c = ModelConfig.llama(16, 8, 16, 1, 2, 1, 8); // 2 heads of 4, 1 kv head
        float[] q = new float[8 * 8];
        for (int row = 0; row < 8; row++) {
            Arrays.fill(q, row * 8, row * 8 + 8, row);
        }
        float[] p = GgufExporter.permuted("model.layers.0.self_attn.q_proj.weight", q, c);
        float[] firstColumn = new float[8];
        for (int row = 0; row < 8; row++) {
            firstColumn[row] = p[row * 8];
        }
        // Head 0's rows 0,1 | 2,3 pair as (0,2), (1,3); head 1 likewise.
        assertThat(firstColumn).containsExactly(0, 2, 1, 3, 4, 6, 5, 7);
    }
}
