package io.rlhf4j.trainer.generate;

import io.rlhf4j.core.sampling.FinishReason;
/**
 * One completion: the new token ids (EOS and tokens past a stop sequence excluded), each token's
 * log-probability under the model's unmodified distribution (what PPO's ratio needs), the decoded text
 * cut before any stop sequence, and why it ended.
 */
public record Generation(int[] tokens, float[] logprobs, String text, FinishReason finishReason) {
}
