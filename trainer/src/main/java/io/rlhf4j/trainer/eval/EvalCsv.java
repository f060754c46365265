package io.rlhf4j.trainer.eval;

import io.rlhf4j.core.config.CheckpointFormatException;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;

/** The evaluation files' CSV: a header row (the first column may be unnamed), one item per row. */
final class EvalCsv {

    private EvalCsv() {}

    /** Each row as {@code item} makes it; a row it cannot read fails naming the file and the row. */
    static <T> List<T> read(Path csv, String what, Function<CSVRecord, T> item) throws IOException {
        List<T> out = new ArrayList<>();
        try (Reader r = Files.newBufferedReader(csv, StandardCharsets.UTF_8)) {
            for (CSVRecord rec : CSVFormat.DEFAULT
                    .builder()
                    .setHeader()
                    .setSkipHeaderRecord(true)
                    .setAllowMissingColumnNames(true) // an unnamed first column numbers the rows
                    .get()
                    .parse(r)) {
                try {
                    out.add(item.apply(rec));
                } catch (IllegalArgumentException | IllegalStateException e) {
                    throw new CheckpointFormatException(
                            csv + ":" + rec.getRecordNumber() + ": not a " + what + " row (" + e.getMessage() + ")");
                }
            }
        }
        if (out.isEmpty()) {
            throw new CheckpointFormatException(csv + ": no " + what + " rows");
        }
        return out;
    }
}
