package io.rlhf4j.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The audit log, on SQLite and on PostgreSQL. */
@ExtendWith(Databases.class)
class AuditRepositoryTest {

    @TempDir
    static Path tmp;

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void entriesAreAppendedAndReadOldestFirst(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            AuditRepository audit = store.audit();
            store.consent().deleteUser("alice", 5000);
            audit.append("user_deleted", "alice", 4000);
            assertThat(audit.entries()).singleElement().asString().contains("user_deleted alice");
            audit.append("forced_promotion", "version 2", 3000);
            assertThat(audit.entries()).containsExactly("3000 forced_promotion version 2", "4000 user_deleted alice");
        }
    }
}
