package io.rlhf4j.core.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The holder itself: which URLs it opens; each repository has its own test class. */
@ExtendWith(Databases.class)
class StoreTest {

    @TempDir
    static Path tmp;

    @Test
    void unsupportedUrlsAreRefused() {
        assertThatThrownBy(() -> Store.open("jdbc:mysql://x/y", null, null))
                .hasMessageContaining("unsupported database URL");
    }

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void opensEitherKindMigratedAndEmpty(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            assertThat(store.isSqlite()).isEqualTo(kind.equals("sqlite"));
            assertThat(store.prompts().count()).isZero();
            assertThat(store.keys().countActive()).isZero();
        }
    }
}
