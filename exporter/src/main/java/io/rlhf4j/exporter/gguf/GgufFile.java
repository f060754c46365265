package io.rlhf4j.exporter.gguf;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A GGUF v3 file as ggml's {@code docs/gguf.md} lays it out: magic, version, tensor and key-value
 * counts, the typed metadata, the tensor infos (dimensions innermost first, type, offset), then the
 * tensor data, each tensor aligned to {@code general.alignment} (32). Tensors are encoded one at a
 * time while writing, so a model never needs to be in memory twice.
 */
public final class GgufFile {

    static final int MAGIC = 0x46554747; // "GGUF" little-endian
    static final int VERSION = 3;
    static final int ALIGNMENT = 32;

    // gguf_type
    static final int UINT32 = 4;
    static final int INT32 = 5;
    static final int FLOAT32 = 6;
    static final int BOOL = 7;
    static final int STRING = 8;
    static final int ARRAY = 9;

    private record Entry(int type, Object value) {}

    private record TensorInfo(String name, long[] ne, GgmlType type, Supplier<byte[]> data) {}

    private final Map<String, Entry> metadata = new LinkedHashMap<>();
    private final List<TensorInfo> tensors = new ArrayList<>();

    public GgufFile put(String key, String value) {
        return add(key, new Entry(STRING, value));
    }

    public GgufFile putUInt(String key, long value) {
        return add(key, new Entry(UINT32, value));
    }

    public GgufFile putFloat(String key, double value) {
        return add(key, new Entry(FLOAT32, (float) value));
    }

    public GgufFile putBool(String key, boolean value) {
        return add(key, new Entry(BOOL, value));
    }

    public GgufFile putStrings(String key, List<String> values) {
        return add(key, new Entry(ARRAY, new Object[] {STRING, values}));
    }

    public GgufFile putFloats(String key, float[] values) {
        return add(key, new Entry(ARRAY, new Object[] {FLOAT32, values}));
    }

    public GgufFile putInts(String key, int[] values) {
        return add(key, new Entry(ARRAY, new Object[] {INT32, values}));
    }

    private GgufFile add(String key, Entry e) {
        if (metadata.putIfAbsent(key, e) != null) {
            throw new IllegalArgumentException("metadata key " + key + " set twice");
        }
        return this;
    }

    /**
     * A tensor of numpy-order {@code shape} (GGUF stores the dimensions reversed, innermost first),
     * encoded as {@code type} when written.
     */
    public GgufFile tensor(String name, long[] shape, GgmlType type, Supplier<float[]> values) {
        long[] ne = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            ne[i] = shape[shape.length - 1 - i];
        }
        if (ne[0] % type.blockSize() != 0) {
            throw new IllegalArgumentException(name + ": rows of " + ne[0] + " are not whole " + type + " blocks");
        }
        tensors.add(new TensorInfo(name, ne, type, () -> type.encode(values.get())));
        return this;
    }

    public void write(Path file) throws IOException {
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            Out out = new Out(os);
            out.u32(MAGIC);
            out.u32(VERSION);
            out.u64(tensors.size());
            out.u64(metadata.size());
            for (Map.Entry<String, Entry> e : metadata.entrySet()) {
                out.string(e.getKey());
                out.u32(e.getValue().type());
                value(out, e.getValue().type(), e.getValue().value());
            }
            long offset = 0;
            for (TensorInfo t : tensors) {
                out.string(t.name());
                out.u32(t.ne().length);
                long n = 1;
                for (long d : t.ne()) {
                    out.u64(d);
                    n *= d;
                }
                out.u32(t.type().id());
                out.u64(offset);
                offset = align(offset + t.type().bytes(n));
            }
            out.pad();
            for (TensorInfo t : tensors) {
                out.bytes(t.data().get());
                out.pad();
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static void value(Out out, int type, Object v) throws IOException {
        switch (type) {
            case UINT32 -> out.u32((int) (long) (Long) v);
            case FLOAT32 -> out.f32((Float) v);
            case BOOL -> out.bytes(new byte[] {(byte) ((Boolean) v ? 1 : 0)});
            case STRING -> out.string((String) v);
            case ARRAY -> {
                Object[] a = (Object[]) v;
                int elem = (Integer) a[0];
                out.u32(elem);
                if (elem == STRING) {
                    List<String> list = (List<String>) a[1];
                    out.u64(list.size());
                    for (String s : list) {
                        out.string(s);
                    }
                } else if (elem == FLOAT32) {
                    float[] f = (float[]) a[1];
                    out.u64(f.length);
                    for (float x : f) {
                        out.f32(x);
                    }
                } else {
                    int[] ints = (int[]) a[1];
                    out.u64(ints.length);
                    for (int x : ints) {
                        out.u32(x);
                    }
                }
            }
            default -> throw new IllegalStateException("gguf type " + type);
        }
    }

    private static long align(long n) {
        return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    /** Little-endian primitives, counting bytes for the alignment padding. */
    private static final class Out {
        private final OutputStream os;
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        private long written;

        Out(OutputStream os) {
            this.os = os;
        }

        void u32(int v) throws IOException {
            scratch.clear();
            scratch.putInt(v);
            bytes(scratch.array(), 4);
        }

        void u64(long v) throws IOException {
            scratch.clear();
            scratch.putLong(v);
            bytes(scratch.array(), 8);
        }

        void f32(float v) throws IOException {
            u32(Float.floatToRawIntBits(v));
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes(b);
        }

        void bytes(byte[] b) throws IOException {
            bytes(b, b.length);
        }

        void bytes(byte[] b, int n) throws IOException {
            os.write(b, 0, n);
            written += n;
        }

        void pad() throws IOException {
            int n = (int) (align(written) - written);
            bytes(new byte[n]);
        }
    }
}
