package io.rlhf4j.clients.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rlhf4j serve} with nothing but a port and a data directory, as the README's first command runs
 * it: the training loop on, the bundled demo model registered, ready, and the loop answering the admin
 * API. (Every other test started it with {@code --no-training}, and a loop given its launcher before its
 * base model was refused at start, unseen.)
 */
class ServeCommandTest {

    @TempDir
    Path tmp;

    @BeforeAll
    static void home() {
        System.setProperty(
                "rlhf4j.home", Path.of("..", "..").toAbsolutePath().normalize().toString());
    }

    @Test
    void serveWithItsDefaultsRunsTheLoopOnTheBundledDemoModel() throws Exception {
        int port = ReliabilityBench.freePort();
        try (ServerProcess server = ServerProcess.withTraining(tmp.resolve("data"), port, tmp.resolve("serve.log"))) {
            assertThat(server.version()).isEqualTo("1");
            HttpResponse<String> runs = HttpClient.newHttpClient()
                    .send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/admin/training-runs"))
                                    .header("authorization", "Bearer " + ReliabilityBench.ADMIN)
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
            assertThat(runs.statusCode()).as(runs.body()).isEqualTo(200);
            assertThat(runs.body()).contains("\"runs\"");
            assertThat(Files.readString(tmp.resolve("serve.log"))).contains("training runs every 200 new judgements");
        }
    }
}
