package io.rlhf4j.serving.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.rlhf4j.serving.ServingApp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServeConfigTest {

    @TempDir
    Path tmp;

    @Test
    void defaultsThenFileThenEnvironment() throws Exception {
        ServingApp.Config d = ServeConfig.load(null, Map.of(), null);
        assertThat(d.port()).isEqualTo(8080);
        assertThat(d.host()).isEqualTo("127.0.0.1");
        assertThat(d.engine().kind()).isEqualTo("onnxruntime-cpu");
        assertThat(d.engine().weights()).isEqualTo(io.rlhf4j.core.checkpoint.WeightFormat.FP32);
        assertThat(d.dbUrl()).isNull();

        Path yaml = tmp.resolve("rlhf4j.yaml");
        Files.writeString(yaml, """
                server: {port: 9000}
                data_dir: /srv/rlhf4j
                database: {url: "jdbc:postgresql://db/rlhf4j", user: rlhf4j}
                scheduler: {max_batch: 8}
                """);
        ServingApp.Config f = ServeConfig.load(yaml, Map.of("RLHF4J_PORT", "9100", "RLHF4J_QUEUE", "17"), "tok");
        assertThat(f.port()).as("the environment beats the file").isEqualTo(9100);
        assertThat(f.dataDir()).isEqualTo(Path.of("/srv/rlhf4j"));
        assertThat(f.dbUrl()).isEqualTo("jdbc:postgresql://db/rlhf4j");
        assertThat(f.maxRows()).isEqualTo(8);
        assertThat(f.queueCapacity()).isEqualTo(17);
        assertThat(f.adminToken()).isEqualTo("tok");
    }

    @Test
    void openModeAndCostLimitsAreConfigured() throws Exception {
        ServingApp.Config d = ServeConfig.load(null, Map.of(), null);
        assertThat(d.open()).isFalse();
        assertThat(d.limits()).isEqualTo(io.rlhf4j.serving.config.AdmissionLimits.defaults());
        Path yaml = tmp.resolve("limits.yaml");
        Files.writeString(yaml, """
                server: {open: true}
                limits: {log_queue: 50, concurrent_per_key: 4, tokens_per_minute_per_key: 9000,
                         queue_share_per_key: 0.25, stream_buffer_bytes: 65536, completions_per_request: 32}
                """);
        ServingApp.Config c = ServeConfig.load(yaml, Map.of(), null);
        assertThat(c.open()).isTrue();
        assertThat(c.limits()).isEqualTo(new io.rlhf4j.serving.config.AdmissionLimits(50, 4, 9000, 0.25, 65536, 32));
        assertThat(ServeConfig.load(null, Map.of("RLHF4J_WEIGHTS", "int4"), null)
                        .engine()
                        .weights())
                .isEqualTo(io.rlhf4j.core.checkpoint.WeightFormat.INT4);
        assertThat(ServeConfig.load(null, Map.of("RLHF4J_OPEN", "true"), null).open())
                .isTrue();
        Files.writeString(yaml, "limits: {queue_share_per_key: 2}\n");
        assertThatThrownBy(() -> ServeConfig.load(yaml, Map.of(), null)).hasMessageContaining("queue_share_per_key");
        Files.writeString(yaml, "server: {open: maybe}\n");
        assertThatThrownBy(() -> ServeConfig.load(yaml, Map.of(), null)).hasMessageContaining("server.open");
    }

    @Test
    void mistakesAreNamed() throws Exception {
        Path yaml = tmp.resolve("bad.yaml");
        Files.writeString(yaml, "server: {prot: 80}\n");
        assertThatThrownBy(() -> ServeConfig.load(yaml, Map.of(), null)).hasMessageContaining("server.prot");
        Files.writeString(yaml, "sever: {}\n");
        assertThatThrownBy(() -> ServeConfig.load(yaml, Map.of(), null)).hasMessageContaining("'sever'");
        Files.writeString(yaml, "engine: {kind: tpu}\n");
        assertThatThrownBy(() -> ServeConfig.load(yaml, Map.of(), null)).hasMessageContaining("engine must be one of");
        Files.writeString(yaml, "engine: {weights: int3}\n");
        assertThatThrownBy(() -> ServeConfig.load(yaml, Map.of(), null)).hasMessageContaining("weights must be one of");
        assertThatThrownBy(() -> ServeConfig.load(null, Map.of("RLHF4J_PORT", "eighty"), null))
                .hasMessageContaining("server.port");
        Files.writeString(yaml, "server: [1, 2\n");
        assertThatThrownBy(() -> ServeConfig.load(yaml, Map.of(), null)).hasMessageContaining("not valid YAML");
    }
}
