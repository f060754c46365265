package io.rlhf4j.core.checkpoint;

/**
 * File names shared by the modules beyond the checkpoint itself: what a training stage leaves beside
 * its result, and what an export directory (a registry version's shape) holds. The trainer writes them,
 * the exporter carries them, serving reads them.
 */
public final class Layout {

    /** A training stage's lineage: parent, data snapshot, hyper-parameters, metrics. */
    public static final String TRAINING_MANIFEST = "training_manifest.json";
    /** The evaluation gate's verdict on a candidate. */
    public static final String GATE = "gate.json";
    /** An export's manifest: checksums, parity, lineage, gate. */
    public static final String EXPORT_MANIFEST = "manifest.json";

    public static final String POLICY = "policy.onnx";
    public static final String POLICY_OPTIMIZED = "policy.opt.onnx";
    public static final String REWARD = "reward.onnx";
    public static final String REWARD_OPTIMIZED = "reward.opt.onnx";

    /**
     * The policy graph's input naming the first new position whose logits it computes (int64[1]; 0:
     * all): the exporter builds it, serving feeds it.
     */
    public static final String LOGITS_FROM = "logits_from";

    private Layout() {}
}
