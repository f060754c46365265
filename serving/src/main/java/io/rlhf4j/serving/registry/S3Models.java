package io.rlhf4j.serving.registry;

import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.core.io.AtomicDirectory;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * A model store in an S3-compatible bucket ({@code model_store: s3://bucket/prefix}), through AWS's SDK
 * v2: versions are uploaded under {@code <prefix>/<version>/}, and each replica downloads a version
 * into its own data directory before it verifies and serves it. The endpoint is AWS's unless one is
 * given ({@code cluster.s3_endpoint}, {@code RLHF4J_S3_ENDPOINT}: MinIO, Ceph, R2, S3Proxy), which is
 * then addressed path-style; credentials and region come from the SDK's usual chains
 * ({@code AWS_ACCESS_KEY_ID}, {@code AWS_SECRET_ACCESS_KEY}, {@code AWS_REGION}, their {@code aws.*}
 * system properties, profiles, instance roles), the region defaulting to us-east-1. Checksums are sent only where S3 requires them: the SDK's default trailing checksums
 * are not understood by every S3-compatible server, and every file is checked against its manifest
 * anyway.
 */
final class S3Models implements AutoCloseable {

    static final String SCHEME = "s3://";

    private final S3Client s3;
    private final String bucket;
    private final String prefix;

    private S3Models(S3Client s3, String bucket, String prefix) {
        this.s3 = s3;
        this.bucket = bucket;
        this.prefix = prefix;
    }

    static boolean names(String modelStore) {
        return modelStore != null && modelStore.startsWith(SCHEME);
    }

    /** The store at {@code s3://bucket[/prefix]}, at {@code endpoint} (null for AWS's). */
    static S3Models open(String location, String endpoint) {
        URI uri = URI.create(location);
        String bucket = uri.getHost();
        if (bucket == null || bucket.isBlank()) {
            throw new IllegalArgumentException("model_store " + location + ": expected s3://BUCKET[/PREFIX]");
        }
        String prefix = uri.getPath() == null ? "" : uri.getPath().replaceAll("^/+|/+$", "");
        S3ClientBuilder b = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder())
                .credentialsProvider(DefaultCredentialsProvider.builder().build())
                .region(region())
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        if (endpoint != null && !endpoint.isBlank()) {
            b.endpointOverride(URI.create(endpoint)).forcePathStyle(true);
        }
        return new S3Models(b.build(), bucket, prefix);
    }

    private static Region region() {
        try {
            return new DefaultAwsRegionProviderChain().getRegion();
        } catch (SdkException e) {
            return Region.US_EAST_1; // an S3-compatible server rarely cares
        }
    }

    /** Where {@code version} lives: the {@code path} its row in the store records. */
    String location(String version) {
        return SCHEME + bucket + "/" + key(version, "");
    }

    private String key(String version, String file) {
        return (prefix.isEmpty() ? "" : prefix + "/") + version + "/" + file;
    }

    /** Uploads an export directory's files as {@code version}, its manifest last (a version is whole once it is there). */
    void upload(Path exportDir, String version) throws IOException {
        List<Path> files;
        try (Stream<Path> list = Files.list(exportDir)) {
            files = new ArrayList<>(list.filter(Files::isRegularFile)
                    .filter(f -> !f.getFileName().toString().equals(Layout.EXPORT_MANIFEST))
                    .toList());
        }
        files.add(exportDir.resolve(Layout.EXPORT_MANIFEST));
        try {
            for (Path f : files) {
                s3.putObject(
                        PutObjectRequest.builder()
                                .bucket(bucket)
                                .key(key(version, f.getFileName().toString()))
                                .build(),
                        RequestBody.fromFile(f));
            }
        } catch (SdkException e) {
            throw new IOException(
                    "cannot upload version " + version + " to " + location(version) + ": " + e.getMessage(), e);
        }
    }

    /** Downloads the version at {@code location} into {@code target}, atomically. */
    void download(String location, Path target) throws IOException {
        if (!location.startsWith(SCHEME + bucket + "/")) {
            throw new IOException(location + " is not in this model store (s3://" + bucket + "/" + prefix + ")");
        }
        String keyPrefix = location.substring((SCHEME + bucket + "/").length());
        try {
            AtomicDirectory.write(target, tmp -> {
                for (S3Object o : s3.listObjectsV2Paginator(ListObjectsV2Request.builder()
                                .bucket(bucket)
                                .prefix(keyPrefix)
                                .build())
                        .contents()) {
                    String name = o.key().substring(keyPrefix.length());
                    if (name.isEmpty() || name.contains("/")) {
                        continue; // a version is a flat directory
                    }
                    s3.getObject(
                            GetObjectRequest.builder()
                                    .bucket(bucket)
                                    .key(o.key())
                                    .build(),
                            tmp.resolve(name));
                }
                if (!Files.exists(tmp.resolve(Layout.EXPORT_MANIFEST))) {
                    throw new IOException(
                            location + " has no " + Layout.EXPORT_MANIFEST + " (an upload that did not finish)");
                }
            });
        } catch (SdkException e) {
            throw new IOException("cannot download " + location + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        s3.close();
    }
}
