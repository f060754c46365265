package io.rlhf4j.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The labeler's side of the loop: take a logged prompt with K fresh completions, and rank them, write a
 * demonstration, or skip the prompt. Calls need an API key with the {@code labeler} role; in open mode the
 * labeler is whoever {@link Rlhf4jClient.Builder#labeler(String)} names (the server's default is
 * {@code anonymous}), which is what keeps two people from being handed the same prompt.
 *
 * <p>Obtained from {@link Rlhf4jClient#labeling()}; thread-safe.
 */
public final class LabelingClient {

    /** The metadata flags InstructGPT's labelers attach to a completion, as the server accepts them. */
    public static final List<String> FLAGS = List.of(
            "fails_to_follow_instruction",
            "hallucination",
            "inappropriate_for_customer_assistant",
            "sexual_or_violent",
            "denigrates_protected_class",
            "harmful_advice");

    private final Transport transport;
    private final String labeler;

    LabelingClient(Transport transport, String labeler) {
        this.transport = transport;
        this.labeler = labeler;
    }

    /**
     * The next prompt to judge, with {@code k} completions (4..9) sampled now from the active policy;
     * empty when nothing is waiting for this labeler. Sampling K completions takes a moment: the call
     * blocks for it.
     */
    public Optional<LabelingTask> next(int k) {
        return next("k=" + k);
    }

    /** {@link #next(int)} with the server's default K. */
    public Optional<LabelingTask> next() {
        return next(null);
    }

    private Optional<LabelingTask> next(String query) {
        StringBuilder path = new StringBuilder("v1/labeling/next");
        char sep = '?';
        if (query != null) {
            path.append(sep).append(query);
            sep = '&';
        }
        if (labeler != null) {
            // A GET has no body: in open mode the labeler travels as a query parameter.
            path.append(sep).append("labeler=").append(Transport.query(labeler));
        }
        JsonNode node = transport.call("GET", path.toString(), null, Transport.Credential.API_KEY);
        return node == null ? Optional.empty() : Optional.of(Json.read(node, LabelingTask.class, "GET /" + path));
    }

    /**
     * Ranks a task's completions, best first; an inner list is a tie (at least two places are needed).
     * {@code scores} (1..7 overall quality) and {@code flags} ({@link #FLAGS}) are per completion id, and
     * either may be null. Returns the ranking's id.
     */
    public String rank(
            String promptId, List<List<String>> ranking, Map<String, Integer> scores, Map<String, List<String>> flags) {
        Objects.requireNonNull(ranking, "ranking");
        ObjectNode body = body(promptId);
        ArrayNode r = body.putArray("ranking");
        for (List<String> tier : ranking) {
            ArrayNode t = r.addArray();
            Objects.requireNonNull(tier, "a tier of the ranking").forEach(t::add);
        }
        if (scores != null && !scores.isEmpty()) {
            ObjectNode s = body.putObject("scores");
            scores.forEach((id, score) -> s.put(id, score));
        }
        if (flags != null && !flags.isEmpty()) {
            ObjectNode f = body.putObject("flags");
            flags.forEach((id, names) -> {
                ArrayNode a = f.putArray(id);
                Objects.requireNonNull(names, "the flags of " + id).forEach(a::add);
            });
        }
        return id(
                transport.call("POST", "v1/labeling/rankings", body, Transport.Credential.API_KEY),
                "POST /v1/labeling/rankings");
    }

    /** {@link #rank(String, List, Map, Map)} with no scores or flags. */
    public String rank(String promptId, List<List<String>> ranking) {
        return rank(promptId, ranking, null, null);
    }

    /** Writes the response the labeler would want for this prompt (SFT's data); returns its id. */
    public String demonstrate(String promptId, String text) {
        ObjectNode body = body(promptId);
        body.put("text", Objects.requireNonNull(text, "text"));
        return id(
                transport.call("POST", "v1/labeling/demonstrations", body, Transport.Credential.API_KEY),
                "POST /v1/labeling/demonstrations");
    }

    /** Passes on a prompt (unclear, say): it is not offered to this labeler again. {@code reason} may be null. */
    public void skip(String promptId, String reason) {
        ObjectNode body = body(promptId);
        if (reason != null) {
            body.put("reason", reason);
        }
        transport.call("POST", "v1/labeling/skips", body, Transport.Credential.API_KEY);
    }

    private ObjectNode body(String promptId) {
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("prompt_id", Objects.requireNonNull(promptId, "promptId"));
        if (labeler != null) {
            body.put("labeler", labeler);
        }
        return body;
    }

    private static String id(JsonNode node, String what) {
        JsonNode id = node == null ? null : node.get("id");
        if (id == null || !id.isValueNode() || id.isNull()) {
            throw Rlhf4jException.protocol("the server's answer to " + what + " has no 'id': " + node);
        }
        return id.asText();
    }
}
