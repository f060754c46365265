package io.rlhf4j.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The paper's samples summarised per model and prompt type, worked by hand on small files. */
class PaperSamplesTest {

    @TempDir
    Path tmp;

    @Test
    void toxicityIsAveragedAndJudgeProbabilitiesCountAsVerdictsAtOneHalf() throws Exception {
        Path tox = tmp.resolve("tox.csv");
        Files.writeString(
                tox,
                ",model_type,prompt_type,context,sample,toxicity\n"
                        + "0,sft-xl,basic prompt,\"a, b\",c,0.25\n"
                        + "1,sft-xl,basic prompt,d,e,0.75\n"
                        + "2,ppo-ptx-xl,respectful prompt,f,g,0.1\n");
        List<PaperSamples.Cell> t = PaperSamples.toxicity(tox);
        assertThat(t).extracting(PaperSamples.Cell::model).containsExactly("sft-xl", "ppo-ptx-xl");
        assertThat(t.get(0).n()).isEqualTo(2);
        assertThat(t.get(0).means().get("toxicity").mean()).isCloseTo(0.5, within(1e-12));

        Path tqa = tmp.resolve("tqa.csv");
        Files.writeString(
                tqa,
                ",model_type,prompt_type,adversarial,question,answer,true,info\n"
                        + "0,gpt-xl,QA prompt,True,q,a,0.9999,0.2\n"
                        + "1,gpt-xl,QA prompt,False,q,a,0.5,0.5\n"
                        + "2,gpt-xl,QA prompt,True,q,a,0.0,1.0\n"
                        + "3,gpt-xl,QA prompt,True,q,a,0.49,0.99\n");
        PaperSamples.Cell c = PaperSamples.truthfulness(tqa).get(0);
        assertThat(c.means().get("true").mean()).isCloseTo(0.5, within(1e-12));
        assertThat(c.means().get("info").mean()).isCloseTo(0.75, within(1e-12));
        assertThat(c.means().get("true_and_info").mean()).isCloseTo(0.25, within(1e-12));
    }
}
