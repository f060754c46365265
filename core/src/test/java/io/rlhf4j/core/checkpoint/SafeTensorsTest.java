package io.rlhf4j.core.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.rlhf4j.core.config.CheckpointFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {

    @TempDir
    Path tmp;

    /** A file laid out by hand from the format's specification, independent of the writer. */
    private static byte[] handMade(String header, short... values) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 2 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        for (short v : values) {
            b.putShort(v);
        }
        return b.array();
    }

    @Test
    void readsHalfAndBfloat16WidenedToFloat() throws IOException {
        Path file = tmp.resolve("half.safetensors");
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]}}";
        Files.write(
                file,
                handMade(header, (short) 0x3C00, (short) 0xC000, (short) 0x3800, (short) 0x7BFF, (short) 0x3F80, (short)
                        0xC040));
        Map<String, Tensor> t = SafeTensors.read(file);
        assertThat(t.get("h").data()).containsExactly(1f, -2f, 0.5f, 65504f);
        assertThat(t.get("b").data()).containsExactly(1f, -3f);
    }

    @Test
    void writtenFilesRoundTripWithAlignedData() throws IOException {
        Path file = tmp.resolve("w.safetensors");
        Tensor a = new Tensor("a.weight", new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, -6.5f});
        Tensor b = new Tensor("b", new long[] {1}, new float[] {Float.MIN_VALUE});
        SafeTensors.write(file, List.of(a, b), Map.of("format", "pt"));
        Map<String, Tensor> read = SafeTensors.read(file);
        assertThat(read.keySet()).containsExactly("a.weight", "b");
        assertThat(read.get("a.weight").shape()).containsExactly(2, 3);
        assertThat(read.get("a.weight").data()).containsExactly(a.data());
        assertThat(read.get("b").data()).containsExactly(b.data());
        long headerLen = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8)
                .order(ByteOrder.LITTLE_ENDIAN)
                .getLong();
        assertThat(headerLen % 8).isZero();
    }

    @Test
    void corruptFilesAreRefusedWithTheFileAndTensorNamed() throws IOException {
        Path file = tmp.resolve("bad.safetensors");
        Files.write(file, new byte[] {1, 2, 3});
        assertThatThrownBy(() -> SafeTensors.read(file))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("bad.safetensors")
                .hasMessageContaining("shorter than");

        Files.write(file, handMade("{\"x\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]}}", (short) 0));
        assertThatThrownBy(() -> SafeTensors.read(file))
                .hasMessageContaining("tensor 'x'")
                .hasMessageContaining("fall outside");

        Files.write(file, handMade("{\"x\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,2]}}", (short) 0));
        assertThatThrownBy(() -> SafeTensors.read(file)).hasMessageContaining("needs 6 bytes");

        Files.write(file, handMade("{\"x\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]}}", (short) 0));
        assertThatThrownBy(() -> SafeTensors.read(file)).hasMessageContaining("unsupported dtype I8");

        Files.write(file, handMade("{not json", (short) 0));
        assertThatThrownBy(() -> SafeTensors.read(file)).hasMessageContaining("not valid JSON");
    }
}
