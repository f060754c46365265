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
    void mistakesAreNamed() throws Exception {
        Path yaml = tmp.resolve("bad.yaml");
        Files.writeString(yaml, "server: {prot: 80}\n");
        assertThatThrownBy(() -> ServeConfig.load(yaml, Map.of(), null)).hasMessageContaining("server.prot");
        Files.writeString(yaml, "sever: {}\n");
        assertThatThrownBy(() -> ServeConfig.load(yaml, Map.of(), null)).hasMessageContaining("'sever'");
        Files.writeString(yaml, "engine: {kind: tpu}\n");
        assertThatThrownBy(() -> ServeConfig.load(yaml, Map.of(), null)).hasMessageContaining("engine must be one of");
        assertThatThrownBy(() -> ServeConfig.load(null, Map.of("RLHF4J_PORT", "eighty"), null))
                .hasMessageContaining("server.port");
        Files.writeString(yaml, "server: [1, 2\n");
        assertThatThrownBy(() -> ServeConfig.load(yaml, Map.of(), null)).hasMessageContaining("not valid YAML");
    }
}
