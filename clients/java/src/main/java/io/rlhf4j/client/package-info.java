/**
 * The Java client of an rlhf4j server.
 *
 * <p>rlhf4j serves a policy behind OpenAI's legacy completions API and collects what the InstructGPT
 * recipe needs to improve it: logged prompts (with each user's training consent), labelers' rankings and
 * demonstrations, and training runs whose candidates are promoted only through a gate. This package is
 * the typed way to drive all of it from the JVM without pulling in an HTTP stack: the JDK's
 * {@link java.net.http.HttpClient} and Jackson are its only dependencies.
 *
 * <ul>
 *   <li>{@link io.rlhf4j.client.Rlhf4jClient}: the entry point; completions, streaming, models, rewards,
 *       consent.</li>
 *   <li>{@link io.rlhf4j.client.LabelingClient}: fetch a prompt with K fresh completions, then rank,
 *       demonstrate or skip.</li>
 *   <li>{@link io.rlhf4j.client.AdminClient}: versions, promotion and rollback, API keys, deletion of a
 *       user's data, training runs.</li>
 *   <li>{@link io.rlhf4j.client.Rlhf4jException}: the single error type, carrying OpenAI's error fields.</li>
 * </ul>
 *
 * <p>Answers are records mirroring the wire format field for field (snake_case on the wire, camelCase
 * here); fields a newer server adds are ignored, and free-form parts (a version's manifest, a run's gate
 * and metrics) stay Jackson {@link com.fasterxml.jackson.databind.JsonNode}s rather than freezing a
 * schema that evolves with the pipeline.
 */
package io.rlhf4j.client;
