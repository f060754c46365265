package io.rlhf4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;

import io.rlhf4j.core.store.ApiKey;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChecksumsTest {

    static final String ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    @Test
    void textAndFileDigestsAreTheStandardSha256(@TempDir Path tmp) throws Exception {
        assertThat(Checksums.sha256("abc")).isEqualTo(ABC);
        Path f = Files.writeString(tmp.resolve("abc.txt"), "abc");
        assertThat(Checksums.sha256(f)).isEqualTo(ABC);
        // What the store keeps of a key is the same digest, so stored keys stay valid.
        assertThat(ApiKey.hash("abc")).isEqualTo(ABC);
    }
}
