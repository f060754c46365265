package io.rlhf4j.exporter.onnx;

import com.google.protobuf.ByteString;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.exporter.onnx.proto.Onnx.AttributeProto;
import io.rlhf4j.exporter.onnx.proto.Onnx.GraphProto;
import io.rlhf4j.exporter.onnx.proto.Onnx.ModelProto;
import io.rlhf4j.exporter.onnx.proto.Onnx.NodeProto;
import io.rlhf4j.exporter.onnx.proto.Onnx.OperatorSetIdProto;
import io.rlhf4j.exporter.onnx.proto.Onnx.StringStringEntryProto;
import io.rlhf4j.exporter.onnx.proto.Onnx.TensorProto;
import io.rlhf4j.exporter.onnx.proto.Onnx.TensorShapeProto;
import io.rlhf4j.exporter.onnx.proto.Onnx.TypeProto;
import io.rlhf4j.exporter.onnx.proto.Onnx.ValueInfoProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Builds an ONNX graph node by node: each call adds one operator and returns the name of its output,
 * so graph code reads like the forward pass it mirrors. Not thread-safe; one builder per graph.
 */
public final class GraphBuilder {

    public static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;
    public static final int INT64 = TensorProto.DataType.INT64_VALUE;
    public static final int BOOL = TensorProto.DataType.BOOL_VALUE;
    public static final int UINT8 = TensorProto.DataType.UINT8_VALUE;
    /** ONNX Runtime's contrib operators (MatMulNBits), opset 1 of their domain. */
    public static final String CONTRIB = "com.microsoft";

    /** A node attribute. */
    public record Attr(String name, Object value) {
        public static Attr i(String name, long v) {
            return new Attr(name, v);
        }

        public static Attr f(String name, float v) {
            return new Attr(name, v);
        }

        public static Attr ints(String name, long... v) {
            return new Attr(name, v);
        }
    }

    private final GraphProto.Builder graph = GraphProto.newBuilder();
    private int counter;
    private boolean usesContrib;

    public GraphBuilder(String name) {
        graph.setName(name);
    }

    /** A graph input; each dim is a Long (fixed) or a String (symbolic, e.g. "batch"). */
    public String input(String name, int elemType, Object... dims) {
        graph.addInput(valueInfo(name, elemType, dims));
        return name;
    }

    /** Exposes {@code value} as graph output {@code name}. */
    public void output(String name, String value, int elemType, Object... dims) {
        if (!name.equals(value)) {
            graph.addNode(NodeProto.newBuilder()
                    .setOpType("Identity")
                    .setName("out_" + name)
                    .addInput(value)
                    .addOutput(name));
        }
        graph.addOutput(valueInfo(name, elemType, dims));
    }

    /** A float initializer holding {@code data} with {@code shape}. */
    public String weight(String name, long[] shape, float[] data) {
        ByteBuffer raw = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        raw.asFloatBuffer().put(data);
        graph.addInitializer(TensorProto.newBuilder()
                .setName(name)
                .setDataType(FLOAT)
                .addAllDims(Arrays.stream(shape).boxed().toList())
                .setRawData(ByteString.copyFrom(raw.array())));
        return name;
    }

    /** A uint8 initializer holding {@code data} with {@code shape} (quantized codes). */
    public String bytes(String name, long[] shape, byte[] data) {
        graph.addInitializer(TensorProto.newBuilder()
                .setName(name)
                .setDataType(UINT8)
                .addAllDims(Arrays.stream(shape).boxed().toList())
                .setRawData(ByteString.copyFrom(data)));
        return name;
    }

    public String weight(Tensor t) {
        return weight(t.name(), t.shape(), t.data());
    }

    /** A constant int64 vector. */
    public String ints(long... values) {
        String name = fresh("const_i");
        graph.addInitializer(TensorProto.newBuilder()
                .setName(name)
                .setDataType(INT64)
                .addDims(values.length)
                .addAllInt64Data(Arrays.stream(values).boxed().toList()));
        return name;
    }

    /** A constant int64 scalar. */
    public String scalar(long value) {
        String name = fresh("const_s");
        graph.addInitializer(
                TensorProto.newBuilder().setName(name).setDataType(INT64).addInt64Data(value));
        return name;
    }

    /** A constant float scalar. */
    public String scalar(float value) {
        String name = fresh("const_f");
        graph.addInitializer(
                TensorProto.newBuilder().setName(name).setDataType(FLOAT).addFloatData(value));
        return name;
    }

    /** One node with one output. */
    public String op(String opType, List<String> inputs, Attr... attrs) {
        return ops(opType, 1, inputs, attrs)[0];
    }

    public String op(String opType, String input, Attr... attrs) {
        return op(opType, List.of(input), attrs);
    }

    public String op(String opType, String a, String b, Attr... attrs) {
        return op(opType, List.of(a, b), attrs);
    }

    /** One node of ONNX Runtime's contrib domain; the model then imports that domain. */
    public String contrib(String opType, List<String> inputs, Attr... attrs) {
        usesContrib = true;
        return node(CONTRIB, opType, 1, inputs, attrs)[0];
    }

    /** One node with several outputs. */
    public String[] ops(String opType, int outputs, List<String> inputs, Attr... attrs) {
        return node("", opType, outputs, inputs, attrs);
    }

    private String[] node(String domain, String opType, int outputs, List<String> inputs, Attr... attrs) {
        String base = fresh(opType);
        NodeProto.Builder n = NodeProto.newBuilder()
                .setDomain(domain)
                .setOpType(opType)
                .setName(base)
                .addAllInput(inputs);
        String[] out = new String[outputs];
        for (int i = 0; i < outputs; i++) {
            out[i] = outputs == 1 ? base : base + "_" + i;
            n.addOutput(out[i]);
        }
        for (Attr a : attrs) {
            n.addAttribute(attribute(a));
        }
        graph.addNode(n);
        return out;
    }

    /** The finished model at {@code opset} of the default domain. */
    public ModelProto model(int opset, String producer, Map<String, String> metadata) {
        ModelProto.Builder m = ModelProto.newBuilder()
                .setIrVersion(irVersion(opset))
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
                .setProducerName(producer)
                .setGraph(graph);
        if (usesContrib) {
            m.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(CONTRIB).setVersion(1));
        }
        metadata.forEach((k, v) ->
                m.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
        return m.build();
    }

    /** The IR version released with an opset (ONNX's versioning table): opset 17 goes with IR 8. */
    static long irVersion(int opset) {
        if (opset <= 14) {
            return 7;
        }
        if (opset <= 18) {
            return 8;
        }
        return opset <= 20 ? 9 : 10;
    }

    private String fresh(String prefix) {
        return prefix + "_" + (counter++);
    }

    private static AttributeProto attribute(Attr a) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(a.name());
        Object v = a.value();
        if (v instanceof Long l) {
            b.setType(AttributeProto.AttributeType.INT).setI(l);
        } else if (v instanceof Integer i) {
            b.setType(AttributeProto.AttributeType.INT).setI(i);
        } else if (v instanceof Float f) {
            b.setType(AttributeProto.AttributeType.FLOAT).setF(f);
        } else if (v instanceof long[] ls) {
            b.setType(AttributeProto.AttributeType.INTS)
                    .addAllInts(Arrays.stream(ls).boxed().toList());
        } else {
            throw new IllegalArgumentException("unsupported attribute value " + v);
        }
        return b.build();
    }

    private static ValueInfoProto valueInfo(String name, int elemType, Object... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (Object d : dims) {
            TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
            if (d instanceof String s) {
                dim.setDimParam(s);
            } else {
                dim.setDimValue(((Number) d).longValue());
            }
            shape.addDim(dim);
        }
        return ValueInfoProto.newBuilder()
                .setName(name)
                .setType(TypeProto.newBuilder()
                        .setTensorType(TypeProto.Tensor.newBuilder()
                                .setElemType(elemType)
                                .setShape(shape)))
                .build();
    }
}
