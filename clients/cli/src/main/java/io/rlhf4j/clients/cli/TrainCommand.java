package io.rlhf4j.clients.cli;

import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.data.WordNetCorpus;
import io.rlhf4j.trainer.dpo.DpoConfig;
import io.rlhf4j.trainer.dpo.DpoTrainer;
import io.rlhf4j.trainer.rloo.RlooConfig;
import io.rlhf4j.trainer.rloo.RlooTrainer;
import io.rlhf4j.trainer.sft.SftConfig;
import io.rlhf4j.trainer.sft.SftTrainer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        description = "The InstructGPT training stages.",
        subcommands = {
            TrainCommand.Sft.class,
            TrainCommand.Rm.class,
            TrainCommand.Ppo.class,
            TrainCommand.Dpo.class,
            TrainCommand.Rloo.class,
            PipelineCommand.class
        })
final class TrainCommand {

    @Command(
            name = "sft",
            mixinStandardHelpOptions = true,
            description = {
                "Supervised fine-tuning on a snapshot's demonstrations (loss on completion tokens only).",
                "Running again on the same --out resumes an interrupted run; the result is the checkpoint with the "
                        + "lowest validation loss, with training_manifest.json."
            })
    static final class Sft implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--config", paramLabel = "FILE", description = "YAML or JSON settings; flags override them")
        Path configFile;

        private static final SftConfig D = SftConfig.defaults();

        @Option(names = "--snapshot", required = true, paramLabel = "DIR", description = "data/snapshots/snap-N")
        Path snapshot;

        @Option(names = "--model", required = true, paramLabel = "DIR", description = "the base checkpoint")
        Path model;

        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Option(names = "--epochs")
        int epochs = D.epochs();

        @Option(names = "--batch-size")
        int batchSize = D.batchSize();

        @Option(names = "--lr")
        double lr = D.optimizer().lr();

        @Option(names = "--min-lr")
        double minLr = D.minLr();

        @Option(names = "--warmup-steps")
        int warmup = D.warmupSteps();

        @Option(names = "--weight-decay")
        double weightDecay = D.optimizer().weightDecay();

        @Option(names = "--grad-clip")
        double gradClip = D.optimizer().gradClip();

        @Option(names = "--dropout", description = "residual dropout (default ${DEFAULT-VALUE})")
        double dropout = D.dropout();

        @Option(names = "--eval-every")
        int evalEvery = D.evalEvery();

        @Option(names = "--seed")
        long seed = D.seed();

        @picocli.CommandLine.Mixin
        LoraOptions lora;

        @picocli.CommandLine.Mixin
        DeviceOption device;

        @Override
        public Integer call() throws Exception {
            device.use();
            SftConfig config = StageConfig.resolve(SftConfig.defaults(), configFile, spec, SftConfig.class);
            new SftTrainer(config, System.err).withLora(lora.config()).run(snapshot, model, out);
            return 0;
        }
    }

    @Command(
            name = "rm",
            mixinStandardHelpOptions = true,
            description = {
                "Train the reward model from an SFT checkpoint on a snapshot's rankings (all C(K,2) pairs "
                        + "of a ranking in one batch element); the bias is shifted so demonstrations score 0.",
                "Prints validation accuracy per labeler group; resumes an interrupted run on the same --out."
            })
    static final class Rm implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--config", paramLabel = "FILE", description = "YAML or JSON settings; flags override them")
        Path configFile;

        private static final io.rlhf4j.trainer.rm.RmConfig D = io.rlhf4j.trainer.rm.RmConfig.defaults();

        @Option(names = "--snapshot", required = true, paramLabel = "DIR")
        Path snapshot;

        @Option(names = "--sft", required = true, paramLabel = "DIR", description = "the SFT checkpoint (the trunk)")
        Path sft;

        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Option(names = "--epochs")
        int epochs = D.epochs();

        @Option(names = "--rankings-per-step")
        int perStep = D.rankingsPerStep();

        @Option(names = "--lr")
        double lr = D.optimizer().lr();

        @Option(names = "--min-lr")
        double minLr = D.minLr();

        @Option(names = "--warmup-steps")
        int warmup = D.warmupSteps();

        @Option(names = "--weight-decay")
        double weightDecay = D.optimizer().weightDecay();

        @Option(names = "--grad-clip")
        double gradClip = D.optimizer().gradClip();

        @Option(names = "--eval-every")
        int evalEvery = D.evalEvery();

        @Option(names = "--seed")
        long seed = D.seed();

        @picocli.CommandLine.Mixin
        LoraOptions lora;

        @picocli.CommandLine.Mixin
        DeviceOption device;

        @Override
        public Integer call() throws Exception {
            device.use();
            var config = StageConfig.resolve(
                    io.rlhf4j.trainer.rm.RmConfig.defaults(), configFile, spec, io.rlhf4j.trainer.rm.RmConfig.class);
            var o = new io.rlhf4j.trainer.rm.RewardTrainer(config, System.err)
                    .withLora(lora.config())
                    .run(snapshot, sft, out);
            if (o.after() != null) {
                o.after().accuracyByLabeler().forEach((k, v) -> System.out.printf("%-40s %.3f%n", k, v));
            }
            return 0;
        }
    }

    @Command(
            name = "ppo",
            mixinStandardHelpOptions = true,
            description = {
                "PPO (or PPO-ptx with --gamma > 0) from an SFT policy against a reward model, on a "
                        + "snapshot's PPO prompts.",
                "Reward: the reward model's score at the end minus beta * per-token KL(policy || SFT). PPO-ptx mixes "
                        + "in WordNet pretraining text. Resumes an interrupted run on the same --out."
            })
    static final class Ppo implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--config", paramLabel = "FILE", description = "YAML or JSON settings; flags override them")
        Path configFile;

        private static final io.rlhf4j.trainer.ppo.PpoConfig D = io.rlhf4j.trainer.ppo.PpoConfig.defaults();

        @Option(names = "--snapshot", required = true, paramLabel = "DIR")
        Path snapshot;

        @Option(names = "--sft", required = true, paramLabel = "DIR", description = "policy and reference")
        Path sft;

        @Option(
                names = "--rm",
                required = true,
                paramLabel = "DIR",
                description = "reward model (also the value's start)")
        Path rm;

        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Option(names = "--iterations")
        int iterations = D.iterations();

        @Option(names = "--rollouts-per-iteration")
        int rollouts = D.rolloutsPerIteration();

        @Option(names = "--max-new-tokens")
        int maxNew = D.maxNewTokens();

        @Option(names = "--ppo-epochs")
        int ppoEpochs = D.ppoEpochs();

        @Option(names = "--minibatch-size")
        int minibatch = D.minibatchSize();

        @Option(names = "--lr")
        double lr = D.policyOptimizer().lr();

        @Option(names = "--value-lr")
        double valueLr = D.valueOptimizer().lr();

        @Option(names = "--beta", description = "KL coefficient (default ${DEFAULT-VALUE})")
        double beta = D.beta();

        @Option(names = "--kl-target", description = "adapt beta towards this KL; 0 keeps beta fixed")
        double klTarget = D.klTarget();

        @Option(names = "--gamma", description = "pretraining-mix weight; 0 is plain PPO (default ${DEFAULT-VALUE})")
        double gamma = D.gamma();

        @Option(names = "--ptx-batch-size")
        int ptxBatch = D.ptxBatchSize();

        @Option(names = "--discount")
        double discount = D.discount();

        @Option(names = "--lambda")
        double lambda = D.lambda();

        @Option(names = "--clip-range")
        double clip = D.clipRange();

        @Option(names = "--value-clip-range")
        double valueClip = D.valueClipRange();

        @Option(names = "--grad-clip")
        double gradClip = D.policyOptimizer().gradClip();

        @Option(names = "--seed")
        long seed = D.seed();

        @picocli.CommandLine.Mixin
        LoraOptions lora;

        @picocli.CommandLine.Mixin
        DeviceOption device;

        @Override
        public Integer call() throws Exception {
            device.use();
            var config = StageConfig.resolve(
                    io.rlhf4j.trainer.ppo.PpoConfig.defaults(),
                    configFile,
                    spec,
                    io.rlhf4j.trainer.ppo.PpoConfig.class);
            new io.rlhf4j.trainer.ppo.PpoTrainer(config, System.err)
                    .withLora(lora.config())
                    .run(snapshot, sft, rm, out, pretrainingText(config.gamma(), sft));
            return 0;
        }
    }

    /** The text of the pretraining term (WordNet's, as the demo base was pretrained on) when gamma > 0. */
    static TokenStream pretrainingText(double gamma, Path policy) throws java.io.IOException {
        if (gamma <= 0) {
            return null;
        }
        System.err.println("loading WordNet pretraining text for the pretraining (ptx) term");
        return WordNetCorpus.pretrainingText(Checkpoint.readTokenizer(policy));
    }

    @Command(
            name = "dpo",
            mixinStandardHelpOptions = true,
            description = {
                "Direct preference optimisation from an SFT checkpoint on a snapshot's K-way rankings: all C(K,2) "
                        + "pairs of a ranking in one batch element, implicit reward beta * log(pi / pi_SFT).",
                "--gamma > 0 adds PPO-ptx's pretraining term. Resumes an interrupted run on the same --out."
            })
    static final class Dpo implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--config", paramLabel = "FILE", description = "YAML or JSON settings; flags override them")
        Path configFile;

        private static final DpoConfig D = DpoConfig.defaults();

        @Option(names = "--snapshot", required = true, paramLabel = "DIR")
        Path snapshot;

        @Option(names = "--sft", required = true, paramLabel = "DIR", description = "policy start and reference")
        Path sft;

        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Option(names = "--epochs")
        int epochs = D.epochs();

        @Option(names = "--rankings-per-step")
        int perStep = D.rankingsPerStep();

        @Option(names = "--beta", description = "implicit-reward scale, the KL leash (default ${DEFAULT-VALUE})")
        double beta = D.beta();

        @Option(names = "--gamma", description = "pretraining-mix weight; 0 is plain DPO (default ${DEFAULT-VALUE})")
        double gamma = D.gamma();

        @Option(names = "--ptx-batch-size")
        int ptxBatch = D.ptxBatchSize();

        @Option(names = "--lr")
        double lr = D.optimizer().lr();

        @Option(names = "--min-lr")
        double minLr = D.minLr();

        @Option(names = "--warmup-steps")
        int warmup = D.warmupSteps();

        @Option(names = "--weight-decay")
        double weightDecay = D.optimizer().weightDecay();

        @Option(names = "--grad-clip")
        double gradClip = D.optimizer().gradClip();

        @Option(names = "--eval-every")
        int evalEvery = D.evalEvery();

        @Option(names = "--seed")
        long seed = D.seed();

        @picocli.CommandLine.Mixin
        LoraOptions lora;

        @picocli.CommandLine.Mixin
        DeviceOption device;

        @Override
        public Integer call() throws Exception {
            device.use();
            DpoConfig config = StageConfig.resolve(DpoConfig.defaults(), configFile, spec, DpoConfig.class);
            new DpoTrainer(config, System.err)
                    .withLora(lora.config())
                    .run(snapshot, sft, out, pretrainingText(config.gamma(), sft));
            return 0;
        }
    }

    @Command(
            name = "rloo",
            mixinStandardHelpOptions = true,
            description = {
                "REINFORCE leave-one-out from an SFT policy against a reward model on a snapshot's PPO prompts: k "
                        + "samples per prompt, each one's baseline the mean reward of the others; no critic.",
                "Reward: the reward model's score minus beta * the completion's KL to SFT. --gamma > 0 adds the "
                        + "pretraining term. Resumes an interrupted run on the same --out."
            })
    static final class Rloo implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--config", paramLabel = "FILE", description = "YAML or JSON settings; flags override them")
        Path configFile;

        private static final RlooConfig D = RlooConfig.defaults();

        @Option(names = "--snapshot", required = true, paramLabel = "DIR")
        Path snapshot;

        @Option(names = "--sft", required = true, paramLabel = "DIR", description = "policy start and reference")
        Path sft;

        @Option(names = "--rm", required = true, paramLabel = "DIR", description = "the reward model")
        Path rm;

        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Option(names = "--iterations")
        int iterations = D.iterations();

        @Option(names = "--prompts-per-iteration")
        int prompts = D.promptsPerIteration();

        @Option(names = "--k", description = "samples per prompt, at least 2 (default ${DEFAULT-VALUE})")
        int k = D.k();

        @Option(names = "--max-new-tokens")
        int maxNew = D.maxNewTokens();

        @Option(names = "--beta", description = "KL coefficient (default ${DEFAULT-VALUE})")
        double beta = D.beta();

        @Option(names = "--gamma", description = "pretraining-mix weight (default ${DEFAULT-VALUE})")
        double gamma = D.gamma();

        @Option(names = "--ptx-batch-size")
        int ptxBatch = D.ptxBatchSize();

        @Option(names = "--lr")
        double lr = D.optimizer().lr();

        @Option(names = "--weight-decay")
        double weightDecay = D.optimizer().weightDecay();

        @Option(names = "--grad-clip")
        double gradClip = D.optimizer().gradClip();

        @Option(names = "--seed")
        long seed = D.seed();

        @picocli.CommandLine.Mixin
        LoraOptions lora;

        @picocli.CommandLine.Mixin
        DeviceOption device;

        @Override
        public Integer call() throws Exception {
            device.use();
            RlooConfig config = StageConfig.resolve(RlooConfig.defaults(), configFile, spec, RlooConfig.class);
            new RlooTrainer(config, System.err)
                    .withLora(lora.config())
                    .run(snapshot, sft, rm, out, pretrainingText(config.gamma(), sft));
            return 0;
        }
    }
}
