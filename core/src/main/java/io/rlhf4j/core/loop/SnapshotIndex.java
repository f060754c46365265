package io.rlhf4j.core.loop;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.rlhf4j.core.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * What a snapshot holds, written by the dataset builder beside the snapshot's files, so that lineage
 * questions ("which snapshots hold this user's prompts?", asked when a user is deleted) are answered
 * from a typed record instead of by searching the JSONL for a field name.
 *
 * @param id the snapshot's id ({@code snap-N})
 * @param users every user id with a prompt in any of the snapshot's sets and splits
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record SnapshotIndex(String id, SortedSet<String> users) {

    public static final String FILE = "index.json";

    public SnapshotIndex {
        users = new TreeSet<>(users);
    }

    public boolean holds(String userId) {
        return users.contains(userId);
    }

    public void writeInto(Path snapshotDir) throws IOException {
        Json.writeAtomically(snapshotDir.resolve(FILE), this);
    }

    public static SnapshotIndex read(Path snapshotDir) throws IOException {
        return Json.read(snapshotDir.resolve(FILE), SnapshotIndex.class);
    }

    /**
     * The ids of the snapshots under {@code snapshotsDir} that hold the user's prompts. A snapshot built
     * before snapshots had an index is named too: it may hold them, and a deletion report must not
     * leave out what it cannot rule out.
     */
    public static List<String> holding(Path snapshotsDir, String userId) throws IOException {
        List<String> out = new ArrayList<>();
        if (!Files.isDirectory(snapshotsDir)) {
            return out;
        }
        try (Stream<Path> dirs = Files.list(snapshotsDir)) {
            for (Path d : dirs.filter(Files::isDirectory)
                    .filter(x -> !x.getFileName().toString().startsWith("."))
                    .sorted()
                    .toList()) {
                if (!Files.exists(d.resolve(FILE)) || read(d).holds(userId)) {
                    out.add(d.getFileName().toString());
                }
            }
        }
        return out;
    }
}
