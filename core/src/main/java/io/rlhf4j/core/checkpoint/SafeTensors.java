package io.rlhf4j.core.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.config.CheckpointFormatException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
 * mapping each tensor name to {@code dtype}, {@code shape} and {@code data_offsets}, then the raw
 * little-endian data. F32, F16 and BF16 are read (and widened to fp32); F32 and BF16 are written.
 */
public final class SafeTensors {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L * 1024 * 1024;

    private SafeTensors() {}

    /** Reads every tensor of {@code file}, in header order, failing with a message naming the file. */
    public static Map<String, Tensor> read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw bad(file, "file is " + size + " bytes, shorter than the 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.flip().getLong();
            if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > size) {
                throw bad(file, "header length " + headerLen + " does not fit a file of " + size + " bytes");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header, 8);
            JsonNode root;
            try {
                root = JSON.readTree(new String(header.array(), StandardCharsets.UTF_8));
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw bad(file, "header is not valid JSON (" + e.getOriginalMessage() + ")");
            }
            if (root == null || !root.isObject()) {
                throw bad(file, "header is not a JSON object");
            }
            long dataStart = 8 + headerLen;
            long dataLen = size - dataStart;
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals("__metadata__")) {
                    continue;
                }
                out.put(e.getKey(), readTensor(ch, file, e.getKey(), e.getValue(), dataStart, dataLen));
            }
            return out;
        } catch (NoSuchFileException e) {
            throw new CheckpointFormatException(file + ": missing");
        }
    }

    private static Tensor readTensor(
            FileChannel ch, Path file, String name, JsonNode spec, long dataStart, long dataLen) throws IOException {
        String dtype = spec.path("dtype").asText("");
        JsonNode shapeNode = spec.get("shape");
        JsonNode offsets = spec.get("data_offsets");
        if (shapeNode == null || !shapeNode.isArray() || offsets == null || offsets.size() != 2) {
            throw bad(file, "tensor '" + name + "' lacks shape or data_offsets");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = shapeNode.get(i).asLong(-1);
            if (shape[i] < 0) {
                throw bad(file, "tensor '" + name + "' has a negative dimension");
            }
        }
        int width = switch (dtype) {
            case "F32" -> 4;
            case "F16", "BF16" -> 2;
            default ->
                throw bad(
                        file, "tensor '" + name + "' has unsupported dtype " + dtype + " (supported: F32, F16, BF16)");
        };
        long begin = offsets.get(0).asLong(-1);
        long end = offsets.get(1).asLong(-1);
        long numel = Tensor.numel(shape);
        if (begin < 0 || end < begin || end > dataLen) {
            throw bad(
                    file,
                    "tensor '" + name + "' data_offsets [" + begin + ", " + end + "] fall outside the " + dataLen
                            + " data bytes");
        }
        if (end - begin != numel * width) {
            throw bad(
                    file,
                    "tensor '" + name + "' needs " + numel * width + " bytes for its shape, offsets give "
                            + (end - begin));
        }
        if (numel > Integer.MAX_VALUE - 8) {
            throw bad(file, "tensor '" + name + "' is too large for one Java array");
        }
        ByteBuffer raw = ByteBuffer.allocate((int) (end - begin)).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, raw, dataStart + begin);
        raw.flip();
        float[] data = new float[(int) numel];
        switch (dtype) {
            case "F32" -> raw.asFloatBuffer().get(data);
            case "F16" -> {
                for (int i = 0; i < data.length; i++) {
                    data[i] = halfToFloat(raw.getShort());
                }
            }
            default -> {
                for (int i = 0; i < data.length; i++) {
                    data[i] = Float.intBitsToFloat((raw.getShort() & 0xffff) << 16);
                }
            }
        }
        return new Tensor(name, shape, data);
    }

    /** The element types this writes: HF's names, as {@code torch_dtype} and the safetensors header spell them. */
    public enum Dtype {
        F32("float32", 4),
        BF16("bfloat16", 2);

        private final String torchDtype;
        private final int bytes;

        Dtype(String torchDtype, int bytes) {
            this.torchDtype = torchDtype;
            this.bytes = bytes;
        }

        public String torchDtype() {
            return torchDtype;
        }

        public long bytes(Tensor t) {
            return (long) bytes * t.data().length;
        }
    }

    /** Writes {@code tensors} as F32 in the given order, with optional string metadata. */
    public static void write(Path file, Collection<Tensor> tensors, Map<String, String> metadata) throws IOException {
        write(file, tensors, metadata, Dtype.F32);
    }

    /** Writes {@code tensors} as {@code dtype} (BF16 rounded to nearest even, as torch rounds) in order. */
    public static void write(Path file, Collection<Tensor> tensors, Map<String, String> metadata, Dtype dtype)
            throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        List<Tensor> ordered = new ArrayList<>(tensors);
        for (Tensor t : ordered) {
            ObjectNode spec = header.putObject(t.name());
            spec.put("dtype", dtype.name());
            var shape = spec.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            long bytes = dtype.bytes(t);
            spec.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] headerBytes = JSON.writeValueAsBytes(header);
        // Pad with spaces so the data starts 8-byte aligned, as the reference implementation does.
        int padded = (headerBytes.length + 7) / 8 * 8;
        byte[] h = new byte[padded];
        System.arraycopy(headerBytes, 0, h, 0, headerBytes.length);
        for (int i = headerBytes.length; i < padded; i++) {
            h[i] = ' ';
        }
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            ByteBuffer len =
                    ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
            out.write(len.array());
            out.write(h);
            ByteBuffer chunk = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            if (dtype == Dtype.BF16) {
                for (Tensor t : ordered) {
                    for (float v : t.data()) {
                        if (!chunk.hasRemaining()) {
                            out.write(chunk.array(), 0, chunk.position());
                            chunk.clear();
                        }
                        chunk.putShort(toBf16(v));
                    }
                }
                out.write(chunk.array(), 0, chunk.position());
                return;
            }
            FloatBuffer floats = chunk.asFloatBuffer();
            for (Tensor t : ordered) {
                float[] d = t.data();
                for (int i = 0; i < d.length; ) {
                    int n = Math.min(floats.capacity(), d.length - i);
                    floats.clear();
                    floats.put(d, i, n);
                    out.write(chunk.array(), 0, n * 4);
                    i += n;
                }
            }
        }
    }

    /** fp32 to bfloat16, rounding to nearest even (NaN stays NaN). */
    static short toBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    /** IEEE 754 binary16 to binary32 (Java 17 has no Float.float16ToFloat). */
    static float halfToFloat(short half) {
        int h = half & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            float v = mant / 1024f / 16384f; // subnormal: mant * 2^-24
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
            pos += n;
        }
    }

    private static CheckpointFormatException bad(Path file, String why) {
        return new CheckpointFormatException(file + ": " + why);
    }
}
