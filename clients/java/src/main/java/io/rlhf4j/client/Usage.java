package io.rlhf4j.client;

/**
 * Token counts of one request, as OpenAI reports them (for quotas and cost accounting).
 *
 * @param promptTokens tokens of the prompt
 * @param completionTokens tokens generated, over every choice
 * @param totalTokens their sum
 */
public record Usage(int promptTokens, int completionTokens, int totalTokens) {}
