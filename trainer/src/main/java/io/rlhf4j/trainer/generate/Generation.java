package io.rlhf4j.trainer.generate;

import io.rlhf4j.core.sampling.FinishReason;

/**
 * One completion: the new token ids (EOS and tokens past a stop sequence excluded), each token's
 * log-probability under the model's unmodified distribution (what PPO's ratio needs), the decoded text
 * cut before any stop sequence, and why it ended.
 */
public record Generation(int[] tokens, float[] logprobs, String text, FinishReason finishReason) {

    /**
     * Prompt then completion, with the EOS the model chose when it stopped: reward models are trained
     * on EOS-terminated sequences, and stopping is an action PPO must be able to credit.
     */
    public int[] sequence(int[] prompt, int eosId) {
        boolean eos = finishReason == io.rlhf4j.core.sampling.FinishReason.STOP;
        int[] all = java.util.Arrays.copyOf(prompt, prompt.length + tokens.length + (eos ? 1 : 0));
        System.arraycopy(tokens, 0, all, prompt.length, tokens.length);
        if (eos) {
            all[all.length - 1] = eosId;
        }
        return all;
    }
}
