package io.rlhf4j.core.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Model versions, activation and its history, on SQLite and on PostgreSQL. */
@ExtendWith(Databases.class)
class VersionRepositoryTest {

    @TempDir
    static Path tmp;

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void versionsAndTheActiveOne(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            VersionRepository versions = store.versions();
            versions.register(
                    new ModelVersion("1", ModelVersion.POLICY, null, "/r/1", "{}", ModelVersion.REGISTERED, 1));
            versions.register(
                    new ModelVersion("2", ModelVersion.POLICY, "1", "/r/2", "{}", ModelVersion.REGISTERED, 2));
            assertThat(versions.active(ModelVersion.POLICY)).isEmpty();
            versions.activate(ModelVersion.POLICY, "2", 3);
            versions.activate(ModelVersion.POLICY, "1", 4);
            assertThat(versions.active(ModelVersion.POLICY)).contains("1");
            assertThat(versions.activationHistory(ModelVersion.POLICY)).containsExactly("2", "1");
            assertThatThrownBy(() -> versions.unregister("1")).hasMessageContaining("is active");
            versions.unregister("2");
            assertThat(versions.find("2").orElseThrow().state()).isEqualTo(ModelVersion.UNREGISTERED);
            assertThat(versions.all()).extracting(ModelVersion::version).containsExactly("1", "2");
            assertThat(versions.find("2").orElseThrow().parent()).isEqualTo("1");
            assertThatThrownBy(() -> versions.activate(ModelVersion.POLICY, "9", 5))
                    .isInstanceOf(Store.StoreException.class);
            assertThat(versions.active(ModelVersion.POLICY)).contains("1");
            assertThatThrownBy(() -> versions.unregister("9")).hasMessageContaining("no version 9");
        }
    }
}
