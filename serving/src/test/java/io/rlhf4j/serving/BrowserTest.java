package io.rlhf4j.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.loop.SplitPolicy;
import io.rlhf4j.core.store.Judgement;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.core.store.TrainingRun;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.interactions.Actions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web client served at / in a real headless Chromium against a real server (the bundled demo model
 * exported to ONNX): the playground streams a completion (and two side by side), a labeler ranks K
 * completions with the keyboard, buttons and drag and drop, then writes a demonstration and skips a
 * task, and the admin console shows versions, refuses then forces a promotion past a failed gate, rolls
 * back, and follows a training run's progress and metrics. Skipped where Debian's chromium and
 * chromedriver are not installed.
 */
class BrowserTest {

    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    static final String ADMIN_TOKEN = "browser-test-admin-token";
    static final String LABELER = "browser-labeler";
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** The demo model's greedy continuation of "dog (noun):" in 12 tokens (ServingTest checks it too). */
    static final String DOG_GREEDY = " a small pale-shaped bone of the bone";

    @TempDir
    static Path tmp;

    static ServingApp app;
    static String base;
    static Path export;
    static ChromeDriverService service;
    static WebDriver driver;

    @BeforeAll
    static void start() throws IOException {
        assumeTrue(Files.isExecutable(CHROMIUM), CHROMIUM + " is not installed");
        assumeTrue(Files.isExecutable(CHROMEDRIVER), CHROMEDRIVER + " is not installed");
        app = TestServers.startDemo(tmp, ADMIN_TOKEN);
        base = TestServers.base(app);
        export = tmp.resolve("export");

        service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort()
                .build();
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toString());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000");
        driver = new ChromeDriver(service, options);
    }

    @AfterAll
    static void stop() {
        if (driver != null) {
            driver.quit();
        }
        if (service != null) {
            service.stop();
        }
        if (app != null) {
            app.close();
        }
    }

    @BeforeEach
    void freshStorage() {
        driver.get(base + "/health");
        js("localStorage.clear()");
    }

    /** With -Drlhf4j.browser.screenshots=DIR, saves a PNG of the page there (to look at the pages). */
    static void screenshot(String name) throws IOException {
        String dir = System.getProperty("rlhf4j.browser.screenshots");
        if (dir != null && !dir.isBlank()) {
            Files.createDirectories(Path.of(dir));
            Dimension size = driver.manage().window().getSize();
            long height = (Long) js("return document.documentElement.scrollHeight");
            driver.manage().window().setSize(new Dimension(size.width, (int) height + 150));
            Files.write(Path.of(dir, name + ".png"), ((TakesScreenshot) driver).getScreenshotAs(OutputType.BYTES));
            driver.manage().window().setSize(size);
        }
    }

    static Object js(String script, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(script, args);
    }

    static WebDriverWait waiting(int seconds) {
        return new WebDriverWait(driver, Duration.ofSeconds(seconds));
    }

    static WebElement byId(String id) {
        return driver.findElement(By.id(id));
    }

    static WebElement byTestId(String testId) {
        return driver.findElement(By.cssSelector("[data-testid='" + testId + "']"));
    }

    /** textContent, untrimmed (getText() drops the leading space of a completion). */
    static String textContent(WebElement e) {
        return e.getDomProperty("textContent");
    }

    static void type(String id, String text) {
        WebElement e = byId(id);
        e.clear();
        e.sendKeys(text);
    }

    /** Fills the header's settings box, as a person would, and saves it. */
    static void settings(Map<String, String> fields) {
        WebElement box = byId("settings");
        if (box.getDomAttribute("open") == null) {
            box.findElement(By.tagName("summary")).click();
        }
        fields.forEach(BrowserTest::type);
        byId("settings-save").click();
        waiting(5).until(ExpectedConditions.textToBe(By.id("settings-status"), "Saved."));
        box.findElement(By.tagName("summary")).click(); // close it again
    }

    static HttpResponse<String> post(String path, String body) throws Exception {
        return HTTP.send(
                HttpRequest.newBuilder(URI.create(base + path))
                        .header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void thePlaygroundStreamsACompletionAndComparesTwoPanes() throws IOException {
        driver.get(base + "/");
        waiting(10)
                .until(d -> !d.findElements(By.cssSelector("#model option[value='1']"))
                        .isEmpty());
        type("prompt", "dog (noun):");
        type("max-tokens", "12");
        type("temperature", "0");
        byId("generate").click();
        waiting(60).until(ExpectedConditions.attributeToBe(By.id("pane-a"), "data-state", "done"));
        assertThat(textContent(byId("pane-a-text-0"))).isEqualTo(DOG_GREEDY);
        assertThat(byId("pane-a-model").getText()).contains("version 1");
        assertThat(byId("pane-a-finish-0").getText()).matches("finish_reason: (stop|length)");
        assertThat(byId("pane-a-error").getText()).isEmpty();

        // Side by side: two streams at once, each pane labelled with the version that answered.
        byId("compare").click();
        assertThat(byId("pane-b").isDisplayed()).isTrue();
        new Select(byId("model-b")).selectByValue("1");
        byId("generate").click();
        waiting(60)
                .until(d -> "done".equals(byId("pane-a").getDomAttribute("data-state"))
                        && "done".equals(byId("pane-b").getDomAttribute("data-state")));
        assertThat(textContent(byId("pane-a-text-0"))).isEqualTo(DOG_GREEDY);
        assertThat(textContent(byId("pane-b-text-0"))).isEqualTo(DOG_GREEDY);
        assertThat(byId("pane-b").getDomAttribute("data-model")).isEqualTo("1");
        screenshot("playground");

        // A request the server refuses shows the server's message.
        byId("compare").click();
        type("stop", "a\nb\nc\nd\ne");
        byId("generate").click();
        waiting(30).until(ExpectedConditions.attributeToBe(By.id("pane-a"), "data-state", "error"));
        assertThat(byId("pane-a-error").getText()).contains("at most 4 stop sequences");
    }

    @Test
    void thePlaygroundChatsTurnByTurnThroughTheChatApi() {
        driver.get(base + "/");
        waiting(10)
                .until(d -> !d.findElements(By.cssSelector("#model option[value='1']"))
                        .isEmpty());
        byId("chat-mode").click();
        assertThat(byId("system-prompt").isDisplayed()).isTrue();
        assertThat(byId("prompt-label").getText()).isEqualTo("Message");
        type("prompt", "dog (noun):");
        type("max-tokens", "12");
        type("temperature", "0");
        byId("generate").click();
        waiting(60).until(ExpectedConditions.attributeToBe(By.id("pane-a"), "data-state", "done"));
        // The demo model has no chat template: one user turn answers as its completion does.
        assertThat(textContent(byId("pane-a-text-0"))).isEqualTo(DOG_GREEDY);
        assertThat(byTestId("turn-0").getText()).isEqualTo("user: dog (noun):");
        assertThat(textContent(byTestId("turn-1"))).isEqualTo("assistant: " + DOG_GREEDY);
        assertThat(byId("prompt").getDomProperty("value")).isEmpty();

        type("prompt", "cat (noun):");
        byId("generate").click();
        waiting(60)
                .until(d ->
                        d.findElements(By.cssSelector("[data-testid='turn-3']")).size() == 1);
        // The server saw the whole conversation, and logged it as turns.
        PromptLogView last = lastLogged();
        assertThat(last.roles()).containsExactly("user", "assistant", "user");
        assertThat(last.text()).isEqualTo("dog (noun):\n\n" + DOG_GREEDY + "\n\ncat (noun):");

        byId("clear-chat").click();
        assertThat(driver.findElements(By.cssSelector("[data-testid='turn-0']")))
                .isEmpty();
    }

    record PromptLogView(String text, List<String> roles) {}

    static PromptLogView lastLogged() {
        var log = app.store().prompts().recent(1).get(0);
        return new PromptLogView(
                log.text(), log.messages().stream().map(m -> m.role()).toList());
    }

    @Test
    void aLabelerRanksWithKeyboardAndButtonsThenDemonstratesAndSkips() throws Exception {
        // A prompt from a user whose prompts may be labeled (the queue leaves test-split users out).
        String user = IntStream.range(0, 1000)
                .mapToObj(i -> "browser-user-" + i)
                .filter(u -> !SplitPolicy.TEST.equals(SplitPolicy.DEFAULT.splitOf(u)))
                .findFirst()
                .orElseThrow();
        for (String prompt : List.of("cat (noun):", "dog (noun):", "run (verb):")) {
            HttpResponse<String> logged = post(
                    "/v1/completions", "{\"prompt\":\"" + prompt + "\",\"max_tokens\":8,\"user\":\"" + user + "\"}");
            assertThat(logged.statusCode()).as(logged.body()).isEqualTo(200);
        }

        driver.get(base + "/label.html");
        settings(Map.of("settings-labeler", LABELER));
        assertThat(byId("labeler-name").getText()).isEqualTo("Labeling as " + LABELER + ".");
        new Select(byId("k")).selectByValue("4");
        byId("load-next").click();
        waiting(120).until(x -> x.findElements(By.cssSelector("#ranking .card")).size() == 4);
        String promptId = byId("task").getDomAttribute("data-prompt-id");
        assertThat(promptId).isNotBlank();
        assertThat(byId("task-prompt").getText()).isNotBlank();
        // The cards as served, A..D; each is named by its completion index (the prompt's logged answer
        // may hold index 0, so the fresh ones need not start there).
        List<String> served = order();
        int a = index(served.get(0));
        int b = index(served.get(1));
        int c = index(served.get(2));
        int d = index(served.get(3));

        // C up twice: once with "u", once with Alt+ArrowUp; focus stays on it.
        focus(card(c));
        new Actions(driver).sendKeys("u").perform();
        assertThat(order()).containsExactly(card(a), card(c), card(b), card(d));
        new Actions(driver)
                .keyDown(Keys.ALT)
                .sendKeys(Keys.ARROW_UP)
                .keyUp(Keys.ALT)
                .perform();
        assertThat(order()).containsExactly(card(c), card(a), card(b), card(d));
        assertThat(driver.switchTo().activeElement().getDomAttribute("id")).isEqualTo(card(c));
        // B down with its button, then D ties with A above it.
        byTestId(card(b)).findElement(By.cssSelector(".move-down")).click();
        assertThat(order()).containsExactly(card(c), card(a), card(d), card(b));
        byTestId("tie-" + d).click();
        assertThat(driver.findElements(By.cssSelector("#ranking .card .rank")).stream()
                        .map(WebElement::getText))
                .containsExactly("1", "2", "=2", "3");
        assertThat(byTestId("tie-" + c).isEnabled())
                .as("the first card cannot tie with above")
                .isFalse();

        // Scores: a digit key on a focused card, or the select; a flag.
        new Select(byTestId("score-" + c)).selectByValue("7");
        focus(card(a));
        new Actions(driver).sendKeys("5").perform();
        assertThat(byTestId("score-" + a).getDomProperty("value")).isEqualTo("5");
        new Select(byTestId("score-" + d)).selectByValue("5");
        new Select(byTestId("score-" + b)).selectByValue("2");
        byTestId("flag-" + b + "-hallucination").click();

        screenshot("label");
        byId("submit-ranking").click();
        waiting(30)
                .until(x -> byId("confirmation").getDomAttribute("data-id") != null
                        && byId("confirmation").getDomAttribute("data-id").startsWith("rank-"));
        String rankingId = byId("confirmation").getDomAttribute("data-id");
        assertThat(byId("confirmation").getText()).contains(rankingId).contains(promptId);
        assertThat(byId("label-error").getText()).isEmpty();

        List<Judgement.Ranking> mine = app.store().judgements().rankings().stream()
                .filter(r -> r.id().equals(rankingId))
                .toList();
        assertThat(mine).hasSize(1);
        Judgement.Ranking r = mine.get(0);
        assertThat(r.labelerId()).isEqualTo(LABELER);
        assertThat(r.promptId()).isEqualTo(promptId);
        Map<Integer, Integer> place = new HashMap<>();
        for (int i = 0; i < r.completions().size(); i++) {
            place.put(r.completions().get(i), r.ranks()[i]);
        }
        assertThat(place).containsExactlyInAnyOrderEntriesOf(Map.of(c, 0, a, 1, d, 1, b, 2));
        Map<Integer, Integer> scores = new HashMap<>();
        Map<Integer, List<String>> flags = new HashMap<>();
        for (Judgement.Label l : app.store().judgements().labels(rankingId)) {
            scores.put(l.completion(), l.score());
            if (!l.flags().isEmpty()) {
                flags.put(l.completion(), l.flags());
            }
        }
        assertThat(scores).containsExactlyInAnyOrderEntriesOf(Map.of(c, 7, a, 5, d, 5, b, 2));
        assertThat(flags).containsExactlyEntriesOf(Map.of(b, List.of("hallucination")));

        // The next task loads by itself; write a demonstration for it instead of ranking.
        String second = nextTask(promptId);
        // Drag and drop (SortableJS): the last card by its handle onto the first.
        List<String> before = order();
        Dimension window = driver.manage().window().getSize();
        driver.manage().window().setSize(new Dimension(window.width, 2400)); // all cards in view
        WebElement handle = byId(before.get(3)).findElement(By.cssSelector(".handle"));
        js("arguments[0].scrollIntoView({block: 'start'})", byId(before.get(0)));
        // Viewport coordinates of the first card's top and the handle (moveToLocation takes viewport ones).
        @SuppressWarnings("unchecked")
        List<Number> at = (List<Number>) js(
                "const f = arguments[0].getBoundingClientRect();"
                        + " const h = arguments[1].getBoundingClientRect(); return [h.x + h.width / 2, f.y + 8];",
                byId(before.get(0)),
                handle);
        int hx = at.get(0).intValue();
        int top = at.get(1).intValue();
        new Actions(driver)
                .clickAndHold(handle)
                .moveByOffset(0, -10)
                .pause(Duration.ofMillis(100))
                .moveToLocation(hx, top + 40)
                .pause(Duration.ofMillis(100))
                .moveToLocation(hx, top)
                .pause(Duration.ofMillis(300))
                .release()
                .perform();
        waiting(5).until(x -> order().get(0).equals(before.get(3)));
        assertThat(order()).containsExactly(before.get(3), before.get(0), before.get(1), before.get(2));
        assertThat(byId(before.get(3)).findElement(By.cssSelector(".rank")).getText())
                .isEqualTo("1");
        driver.manage().window().setSize(window);
        byId("demo-toggle").click();
        assertThat(byId("demo-panel").isDisplayed()).isTrue();
        assertThat(byId("demo-toggle").getDomAttribute("aria-expanded")).isEqualTo("true");
        byId("demo-text").sendKeys("a small domesticated feline");
        byId("demo-submit").click();
        waiting(30)
                .until(x -> String.valueOf(byId("confirmation").getDomAttribute("data-id"))
                        .startsWith("demo-"));
        String demoId = byId("confirmation").getDomAttribute("data-id");
        assertThat(app.store().judgements().demonstrations()).anySatisfy(demo -> {
            assertThat(demo.id()).isEqualTo(demoId);
            assertThat(demo.promptId()).isEqualTo(second);
            assertThat(demo.labelerId()).isEqualTo(LABELER);
            assertThat(demo.text()).isEqualTo("a small domesticated feline");
        });

        // And skip the one after: this labeler is not offered it again.
        String third = nextTask(second);
        new Select(byId("skip-reason")).selectByValue("unclear");
        byId("skip").click();
        waiting(30).until(x -> byId("confirmation").getText().contains("Skipped prompt " + third));
        assertThat(app.store().judgements().labelingCandidates(LABELER, 500)).noneMatch(p -> p.id().equals(third));
        waiting(120).until(x -> byId("load-next").isEnabled());
    }

    /** Waits for the task after {@code previous} to be shown; returns its prompt id. */
    static String nextTask(String previous) {
        waiting(120)
                .until(x -> byId("load-next").isEnabled()
                        && !previous.equals(byId("task").getDomAttribute("data-prompt-id"))
                        && x.findElements(By.cssSelector("#ranking .card")).size() == 4);
        return byId("task").getDomAttribute("data-prompt-id");
    }

    static int index(String cardId) {
        return Integer.parseInt(cardId.substring("card-".length()));
    }

    static String card(int index) {
        return "card-" + index;
    }

    static void focus(String id) {
        js("document.getElementById(arguments[0]).focus()", id);
    }

    static List<String> order() {
        return driver.findElements(By.cssSelector("#ranking .card")).stream()
                .map(e -> e.getDomAttribute("id"))
                .toList();
    }

    @Test
    void theAdminConsoleShowsVersionsPromotesRollsBackAndFollowsARun() throws Exception {
        // A candidate whose evaluation gate failed, and a training run in progress with metrics.
        Path failed = tmp.resolve("export-gate-failed");
        Files.createDirectories(failed);
        try (Stream<Path> files = Files.list(export)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, failed.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        ObjectNode manifest =
                (ObjectNode) JSON.readTree(failed.resolve("manifest.json").toFile());
        manifest.putObject("gate")
                .put("passed", false)
                .put("win_rate", 0.31)
                .put("n", 64)
                .put("reason", "win rate 0.31 < 0.5");
        manifest.putObject("metrics").put("reward_before", -0.5).put("reward_after", 0.25);
        JSON.writeValue(failed.resolve("manifest.json").toFile(), manifest);
        ModelVersion candidate = app.registry().register(failed, "1");
        String v = candidate.version();

        Path runDir = tmp.resolve("runs").resolve("run-browser");
        metricsFile(
                runDir, "sft", "{\"step\":1,\"loss\":3.2}", "{\"step\":2,\"loss\":2.9}", "{\"step\":3,\"loss\":2.7}");
        metricsFile(runDir, "rm", "{\"step\":1,\"loss\":0.69}", "{\"step\":2,\"loss\":0.6}");
        metricsFile(
                runDir,
                "ppo",
                "{\"iteration\":0,\"step\":1,\"reward\":-0.4,\"kl\":0.0,\"value_loss\":1.2}",
                "{\"iteration\":1,\"step\":2,\"reward\":-0.1,\"kl\":0.02,\"value_loss\":0.9}");
        long now = System.currentTimeMillis();
        TrainingRun run = new TrainingRun(
                "run-browser",
                TrainingRun.RUNNING,
                "manual",
                "ppo",
                0.5,
                "snap-1",
                null,
                null,
                false,
                null,
                runDir.toString(),
                "{}",
                now,
                now);
        app.store().runs().save(run);

        driver.get(base + "/admin.html");
        assertThat(byId("token-missing").isDisplayed()).isTrue();
        settings(Map.of("settings-admin-token", ADMIN_TOKEN));
        waiting(10).until(ExpectedConditions.textToBe(By.cssSelector("[data-testid='active-1']"), "active"));
        WebElement row1 = byId("version-row-1");
        assertThat(row1.getDomAttribute("data-active")).isEqualTo("true");
        assertThat(row1.getText()).contains("policy");
        WebElement rowV = byId("version-row-" + v);
        assertThat(rowV.getDomAttribute("data-active")).isEqualTo("false");
        assertThat(rowV.getText()).contains("failed").contains("reward_after=0.25");

        // The running run is followed: stage, progress and four charts from its metrics.
        waiting(10).until(ExpectedConditions.textToBe(By.id("run-stage"), "ppo"));
        assertThat(byId("run-state").getText()).isEqualTo("running");
        assertThat(byId("run-progress").getDomProperty("value")).isEqualTo("0.5");
        assertThat(js("return typeof window.Chart"))
                .as("Chart.js from its WebJar")
                .isEqualTo("function");
        waiting(10).until(ExpectedConditions.attributeToBe(By.id("chart-loss"), "data-points", "7"));
        assertThat(byId("chart-reward").getDomAttribute("data-points")).isEqualTo("2");
        assertThat(byId("chart-kl").getDomAttribute("data-points")).isEqualTo("2");
        assertThat(byId("chart-win-rate").getDomAttribute("data-points")).isEqualTo("0");
        // ... and polled: the run moves on, then finishes.
        metricsFile(runDir, "eval", "{\"step\":1,\"win_rate\":0.61}");
        app.store()
                .runs()
                .save(new TrainingRun(
                        "run-browser",
                        TrainingRun.SUCCEEDED,
                        "manual",
                        "done",
                        1.0,
                        "snap-1",
                        v,
                        "{\"passed\":true,\"win_rate\":0.61,\"n\":64}",
                        false,
                        null,
                        runDir.toString(),
                        "{}",
                        now,
                        System.currentTimeMillis()));
        waiting(15).until(ExpectedConditions.textToBe(By.id("run-state"), "succeeded"));
        assertThat(byId("run-progress").getDomProperty("value")).isEqualTo("1");
        screenshot("admin");
        waiting(5).until(ExpectedConditions.attributeToBe(By.id("chart-win-rate"), "data-points", "1"));
        assertThat(byId("run-row-run-browser").getText()).contains("succeeded").contains("passed");

        // Starting a run on a server without a pipeline: the server's message is shown.
        byId("start-run").click();
        waiting(10).until(d -> byId("admin-error").getText().contains("training is not enabled"));

        // Promote: refused by the gate, then forced; roll back to version 1.
        byId("promote-" + v).click();
        waiting(30).until(d -> byId("admin-error").getText().contains("gate"));
        waiting(10).until(d -> !d.findElements(By.id("force-" + v)).isEmpty());
        byId("force-" + v).click();
        byId("promote-" + v).click();
        waiting(60)
                .until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("[data-testid='active-" + v + "']")));
        assertThat(byId("version-row-1").getDomAttribute("data-active")).isEqualTo("false");
        byId("rollback").click();
        waiting(60).until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("[data-testid='active-1']")));
        assertThat(byId("admin-status").getText()).contains("version 1 is active");
    }

    static void metricsFile(Path runDir, String stage, String... rows) throws IOException {
        Path f = runDir.resolve("pipeline").resolve(stage).resolve("metrics.jsonl");
        Files.createDirectories(f.getParent());
        Files.writeString(f, String.join("\n", rows) + "\n");
    }
}
