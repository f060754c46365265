package io.rlhf4j.client;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The client's one JSON configuration. Answers map onto records by snake_case names and unknown fields
 * are ignored, so a newer server that adds fields does not break an older client.
 */
final class Json {

    static final ObjectMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(DeserializationFeature.ADJUST_DATES_TO_CONTEXT_TIME_ZONE)
            .addModule(new SimpleModule("rlhf4j-client").addDeserializer(Instant.class, new EpochOrIso()))
            .build();

    private Json() {}

    /** Maps {@code node} onto {@code type}; a shape the client cannot read is the server's error, said so. */
    static <T> T read(JsonNode node, Class<T> type, String what) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            throw Rlhf4jException.protocol("the server's answer to " + what + " has no body");
        }
        try {
            return MAPPER.treeToValue(node, type);
        } catch (IOException | IllegalArgumentException e) {
            throw Rlhf4jException.protocol("cannot read the server's answer to " + what + " as " + type.getSimpleName()
                    + ": " + e.getMessage());
        }
    }

    /** The elements of the array {@code node.field}, each mapped onto {@code type}. */
    static <T> List<T> readList(JsonNode node, String field, Class<T> type, String what) {
        JsonNode array = node == null ? null : node.get(field);
        if (array == null || !array.isArray()) {
            throw Rlhf4jException.protocol("the server's answer to " + what + " has no '" + field + "' list");
        }
        List<T> out = new ArrayList<>(array.size());
        for (JsonNode e : array) {
            out.add(read(e, type, what));
        }
        return Collections.unmodifiableList(out);
    }

    /** An unmodifiable copy that, unlike {@link List#copyOf}, keeps nulls (JSON arrays may hold them). */
    static <T> List<T> copy(List<T> list) {
        return list == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(list));
    }

    /** Like {@link #copy(List)}, or null for null: a missing list and an empty one differ on the wire. */
    static <T> List<T> copyOrNull(List<T> list) {
        return list == null ? null : Collections.unmodifiableList(new ArrayList<>(list));
    }

    static <K, V> Map<K, V> copy(Map<K, V> map) {
        return map == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(map));
    }

    /**
     * Timestamps: the server writes epoch milliseconds ({@code created_at} of versions and runs); an
     * ISO-8601 string is read too, so a server that changes the format stays readable.
     */
    private static final class EpochOrIso extends JsonDeserializer<Instant> {
        @Override
        public Instant deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
            if (p.currentToken() == JsonToken.VALUE_NUMBER_INT) {
                return Instant.ofEpochMilli(p.getLongValue());
            }
            if (p.currentToken() == JsonToken.VALUE_NUMBER_FLOAT) {
                return Instant.ofEpochMilli((long) p.getDoubleValue());
            }
            if (p.currentToken() == JsonToken.VALUE_STRING) {
                String s = p.getText().trim();
                if (s.isEmpty()) {
                    return null;
                }
                if (s.chars().allMatch(Character::isDigit)) {
                    return Instant.ofEpochMilli(Long.parseLong(s));
                }
                try {
                    return Instant.parse(s);
                } catch (java.time.format.DateTimeParseException e) {
                    return (Instant) ctx.handleWeirdStringValue(Instant.class, s, "not epoch milliseconds or ISO-8601");
                }
            }
            return (Instant) ctx.handleUnexpectedToken(Instant.class, p);
        }
    }
}
