package io.rlhf4j.trainer.eval;

import java.io.IOException;
import java.util.List;

/**
 * A judge that a module on the class path offers by name ({@code eval.judge: NAME}, {@code --judge
 * NAME}), found with {@link java.util.ServiceLoader}: the pipeline names no judge it does not own, such
 * as the demo world's gold labelers.
 */
public interface JudgeProvider {

    String name();

    /** A judge for these prompts; an {@link IllegalArgumentException} naming why if it cannot score them. */
    Judge open(List<String> prompts) throws IOException;
}
