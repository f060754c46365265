package io.rlhf4j.serving.loop;

import static org.assertj.core.api.Assertions.assertThat;

import io.rlhf4j.core.loop.ProcessId;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A training run's process gets an environment built for it, not the server's. */
class RunEnvironmentTest {

    @Test
    void theChildSeesNoSecretOfTheServersButItsStoreAndTheTrainingSettings() {
        Map<String, String> server = Map.of(
                "PATH", "/usr/bin",
                "HOME", "/home/rlhf4j",
                "RLHF4J_ADMIN_TOKEN", "admin-secret",
                "AWS_SECRET_ACCESS_KEY", "cloud-secret",
                "OPENAI_API_KEY", "sk-secret",
                "OMP_NUM_THREADS", "16");
        Map<String, String> env = RunEnvironment.of(
                server, Map.of("RLHF4J_DB_URL", "jdbc:postgresql://db/rlhf4j", "RLHF4J_DB_PASSWORD", "db"), 2);
        assertThat(env).doesNotContainKeys("RLHF4J_ADMIN_TOKEN", "AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY");
        assertThat(env)
                .containsEntry("PATH", "/usr/bin")
                .containsEntry("HOME", "/home/rlhf4j")
                .containsEntry("RLHF4J_DB_URL", "jdbc:postgresql://db/rlhf4j")
                .containsEntry("RLHF4J_DB_PASSWORD", "db")
                .containsEntry("OMP_NUM_THREADS", "2")
                .containsEntry("MKL_NUM_THREADS", "2")
                .containsEntry("MKL_CBWR", "COMPATIBLE")
                .containsEntry("MKL_DYNAMIC", "FALSE")
                .containsEntry("OMP_DYNAMIC", "FALSE")
                .containsEntry(ProcessId.SUPERVISOR_ENV, ProcessId.current().encode());
    }
}
