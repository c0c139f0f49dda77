package dev.tornadodiffusion.cli.web;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The page in a real browser: Debian's Chromium, headless, driven through its chromedriver. Types a prompt, clicks
 * Generate, waits for the image; a step preview must have been shown, the image displayed with its parameters and a
 * download link. Writes target/browser/serve-page.png. Without Chromium it is skipped, except under CI (CI=true),
 * where .ci/run installs it and a missing browser fails.
 */
class WebPageBrowserTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium"), CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    static TinyServer s;
    static ChromeDriver browser;
    static Path profiles;

    @BeforeAll
    static void start(@TempDir Path dir) throws Exception {
        boolean present = Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER);
        if (!present && "true".equals(System.getenv("CI")))
            throw new AssertionError("Chromium is missing: apt-get install -y chromium chromium-driver (.ci/run does this)");
        assumeTrue(present, "no Chromium at " + CHROMIUM + " / " + CHROMEDRIVER + ": apt-get install -y chromium chromium-driver");
        s = new TinyServer(2, 256 * 256 * 4, 240);
        profiles = dir;
        browser = launch();
    }

    /** A fresh headless Chromium with its own profile folder. */
    static ChromeDriver launch() throws Exception {
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1200,1000",
                "--user-data-dir=" + Files.createTempDirectory(profiles, "profile"));
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        return new ChromeDriver(service, options);
    }

    interface Steps {
        void run() throws Exception;
    }

    /**
     * Runs {@code steps}; when Chromium's renderer dies under it ("tab crashed", seen on a heavily loaded build machine)
     * it says so and runs them once more in a fresh browser: a page that crashes the renderer crashes it again.
     */
    static void inBrowser(Steps steps) throws Exception {
        try {
            steps.run();
        } catch (org.openqa.selenium.WebDriverException e) {
            if (e.getMessage() == null || !e.getMessage().contains("tab crashed")) throw e;
            System.err.println("WebPageBrowserTest: Chromium's tab crashed; retrying once in a fresh browser");
            browser.quit();
            browser = launch();
            steps.run();
        }
    }

    @AfterAll
    static void stop() {
        if (browser != null) browser.quit();
        if (s != null) s.close();
    }

    WebElement field(String id, String value) {
        WebElement e = browser.findElement(By.id(id));
        e.clear();
        e.sendKeys(value);
        return e;
    }

    void open() {
        browser.get(s.uri("/").toString());
        // the model info and the sampler list come from the server
        new WebDriverWait(browser, TinyServer.WAIT).until(d -> new Select(d.findElement(By.id("sampler"))).getOptions().size() > 1);
    }

    @Test
    void generatesAnImageWithPreviewsAndShowsItsParameters() throws Exception {
        inBrowser(this::generate);
    }

    void generate() throws Exception {
        open();
        assertTrue(browser.findElement(By.id("model")).getText().contains("tiny-sd"));
        assertTrue(new Select(browser.findElement(By.id("sampler"))).getOptions().stream().anyMatch(o -> o.getText().equals("Euler a")));
        field("prompt", "a lighthouse at dusk, oil painting");
        field("width", "64");
        field("height", "64");
        field("steps", "16");
        new Select(browser.findElement(By.id("sampler"))).selectByVisibleText("Euler a");
        browser.findElement(By.id("generate")).click();

        WebDriverWait wait = new WebDriverWait(browser, TinyServer.WAIT);
        WebElement img = wait.until(d -> d.findElements(By.cssSelector("figure.result img")).stream().findFirst()
                .filter(e -> (Boolean) ((JavascriptExecutor) d).executeScript("return arguments[0].complete && arguments[0].naturalWidth > 0", e))
                .orElse(null));
        assertEquals(64L, ((JavascriptExecutor) browser).executeScript("return arguments[0].naturalWidth", img));
        WebElement preview = browser.findElement(By.id("preview"));
        assertTrue(Integer.parseInt(preview.getAttribute("data-previews")) >= 1, "a step preview was shown");
        assertTrue(preview.getAttribute("src").startsWith("data:image/png;base64,"));
        String parameters = browser.findElement(By.cssSelector("figure.result pre.parameters")).getText();
        assertTrue(parameters.startsWith("a lighthouse at dusk, oil painting") && parameters.contains("Steps: 16") && parameters.contains("Size: 64x64"), parameters);
        String seed = browser.findElement(By.id("seed-used")).getText();
        assertTrue(seed.matches("seed \\d+ \\(random\\)") && parameters.contains("Seed: " + seed.split(" ")[1]), seed + " / " + parameters);
        assertTrue(browser.findElement(By.cssSelector("figure.result a[download]")).getAttribute("href").endsWith(".png"));
        assertTrue(browser.findElement(By.id("status")).getText().startsWith("done"), browser.findElement(By.id("status")).getText());

        Path shot = Path.of("target", "browser", "serve-page.png");
        Files.createDirectories(shot.getParent());
        Files.write(shot, browser.getScreenshotAs(OutputType.BYTES));
    }

    @Test
    void showsRefusalsAndCancellationInPlainWords() throws Exception {
        inBrowser(this::refusalsAndCancel);
    }

    void refusalsAndCancel() throws Exception {
        open();
        field("prompt", "x");
        field("width", "1024");
        field("height", "1024");
        browser.findElement(By.id("generate")).click();
        WebDriverWait wait = new WebDriverWait(browser, TinyServer.WAIT);
        String error = wait.until(d -> d.findElement(By.id("error")).isDisplayed() ? d.findElement(By.id("error")).getText() : null);
        assertTrue(error.startsWith("The server refused these settings:") && error.contains("--max-pixels"), error);

        field("width", "16");
        field("height", "16");
        field("steps", "500");
        browser.findElement(By.id("generate")).click();
        wait.until(d -> d.findElement(By.id("status")).getText().startsWith("step"));
        browser.findElement(By.id("cancel")).click();
        error = wait.until(d -> d.findElement(By.id("error")).isDisplayed() ? d.findElement(By.id("error")).getText() : null);
        assertEquals("Cancelled: cancelled by the user.", error);
        assertTrue(browser.findElement(By.id("generate")).isEnabled());

        // a full queue: one job running and two waiting (queue 2), then the page's request
        String slow = "{\"prompt\": \"x\", \"steps\": 500, \"width\": 16, \"height\": 16}";
        List<Long> ids = new ArrayList<>();
        ids.add(s.json("POST", "/api/jobs", slow, 202).get("id").asLong());
        try {
            s.poll("/api/jobs/" + ids.getFirst(), j -> j.get("state").asText().equals("running"));
            for (int i = 0; i < 2; i++) ids.add(s.json("POST", "/api/jobs", slow, 202).get("id").asLong());
            browser.findElement(By.id("generate")).click();
            error = wait.until(d -> d.findElement(By.id("error")).isDisplayed() ? d.findElement(By.id("error")).getText() : null);
            assertEquals("The server is busy: its queue is full. Try again in a moment.", error);
        } finally {
            for (long id : ids) s.json("POST", "/api/jobs/" + id + "/cancel", "", 200);
        }
    }
}
