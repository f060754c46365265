package io.rlhf4j.serving;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.serving.cluster.ClusterOptions;
import io.rlhf4j.trainer.model.Decoder;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStore;
import org.jclouds.blobstore.BlobStoreContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An S3-compatible bucket as the model store, against a real S3 API (S3Proxy over jclouds' in-memory
 * blob store, with AWS signature checks) through AWS's SDK: a version registered through one replica
 * is uploaded, and the other downloads, verifies and serves it when it is promoted; a copy damaged in
 * the bucket is refused by every replica, which keeps serving what it served.
 */
class S3ModelStoreTest {

    static final String ACCESS = "rlhf4j-access";
    static final String SECRET = "rlhf4j-secret";

    @TempDir
    Path tmp;

    @Test
    void replicasServeVersionsFromTheBucketAndRefuseADamagedOne() throws Exception {
        // The SDK's default chains read these (environment variables would do the same in production).
        System.setProperty("aws.accessKeyId", ACCESS);
        System.setProperty("aws.secretAccessKey", SECRET);
        System.setProperty("aws.region", "us-east-1");
        BlobStoreContext context = ContextBuilder.newBuilder("transient").build(BlobStoreContext.class);
        BlobStore blobs = context.getBlobStore();
        blobs.createContainerInLocation(null, "models");
        S3Proxy s3 = S3Proxy.builder()
                .blobStore(blobs)
                .endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS, SECRET)
                .build();
        s3.start();
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start()) {
            await(() -> "STARTED".equals(s3.getState()));
            String url = postgres.getJdbcUrl("postgres", "postgres");
            ServingApp a = replica("a", url, s3.getPort());
            ServingApp b = replica("b", url, s3.getPort());
            try {
                ModelVersion v1 = a.registerAndActivate(TestServers.export(TestServers.DEMO, tmp.resolve("v1"), false));
                assertThat(v1.path()).isEqualTo("s3://models/rlhf4j/1/");
                assertThat(blobs.blobExists("models", "rlhf4j/1/manifest.json")).isTrue();
                assertThat(blobs.blobExists("models", "rlhf4j/1/policy.onnx")).isTrue();
                await(() -> "1".equals(b.router().serving(ModelVersion.POLICY)));
                assertThat(tmp.resolve("data-b/models/1/policy.onnx")).exists();

                // A second version, registered through b and damaged in the bucket before anyone loads it.
                ModelVersion v2 = b.registry().register(secondVersion(), "1");
                assertThat(v2.version()).isEqualTo("2");
                blobs.putBlob(
                        "models",
                        blobs.blobBuilder("rlhf4j/2/policy.onnx")
                                .payload(new byte[] {1, 2, 3})
                                .build());
                a.store().versions().activate(ModelVersion.POLICY, "2", System.currentTimeMillis());
                await(() -> a.store().cluster().replicas().stream()
                        .allMatch(r -> r.error() != null && r.error().contains("checksum")));
                assertThat(List.of(a, b))
                        .allSatisfy(app -> assertThat(app.router().serving(ModelVersion.POLICY))
                                .isEqualTo("1"));
                assertThat(tmp.resolve("data-a/models/2"))
                        .as("a damaged copy is not kept")
                        .doesNotExist();
            } finally {
                a.close();
                b.close();
            }
        } finally {
            s3.stop();
            context.close();
        }
    }

    private ServingApp replica(String name, String url, int s3Port) throws Exception {
        return ServingApp.start(ServingApp.Config.defaults(tmp.resolve("data-" + name))
                .withPort(0)
                .withDatabase(url, "postgres", "postgres")
                .withCluster(ClusterOptions.single()
                        .withModelStore("s3://models/rlhf4j")
                        .withS3Endpoint("http://127.0.0.1:" + s3Port)
                        .withReplicaId(name)
                        .withHeartbeat(Duration.ofMillis(300))));
    }

    /** The demo's shape and tokenizer with fresh weights, exported. */
    private Path secondVersion() throws Exception {
        Path ckpt = tmp.resolve("v2-checkpoint");
        ModelConfig config = Checkpoint.readConfig(TestServers.DEMO);
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.initialise(config, m, 5)) {
            Checkpoint.write(ckpt, config, d.toTensors(), Checkpoint.readTokenizer(TestServers.DEMO), null);
        }
        return TestServers.export(ckpt, tmp.resolve("v2"), false);
    }

    static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition met within 30 s").isLessThan(deadline);
            Thread.sleep(50);
        }
    }
}
