package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/testutil"
)

// layoutScript runs in Chromium after the page embedding an SVG loads: it
// measures every text element as drawn (transforms included), in the
// SVG's viewBox units, and writes into #result every text that reaches
// outside the viewBox and every pair of texts that overlap.
const layoutScript = `
const svg = document.querySelector('svg');
const box = svg.getBoundingClientRect();
const vb = svg.viewBox.baseVal;
const sx = vb.width / box.width, sy = vb.height / box.height;
const texts = [...svg.querySelectorAll('text')].map(t => {
	const r = t.getBoundingClientRect();
	return {s: t.textContent, l: (r.left - box.left) * sx + vb.x, r: (r.right - box.left) * sx + vb.x,
		t: (r.top - box.top) * sy + vb.y, b: (r.bottom - box.top) * sy + vb.y};
});
const problems = [];
for (const t of texts) {
	if (t.l < vb.x - 0.5 || t.r > vb.x + vb.width + 0.5 || t.t < vb.y - 0.5 || t.b > vb.y + vb.height + 0.5) {
		problems.push('outside the viewBox: "' + t.s + '" ' + [t.l, t.t, t.r, t.b].map(Math.round).join(','));
	}
}
for (let i = 0; i < texts.length; i++) {
	for (let j = i + 1; j < texts.length; j++) {
		const a = texts[i], c = texts[j];
		if (a.l < c.r - 0.5 && c.l < a.r - 0.5 && a.t < c.b - 0.5 && c.t < a.b - 0.5) {
			problems.push('overlap: "' + a.s + '" and "' + c.s + '"');
		}
	}
}
document.getElementById('result').textContent = 'texts ' + texts.length + '\n' + problems.join('\n');
`

// chromiumArgs are the flags that make headless Chromium work here: no
// sandbox (tests may run as root), no GPU, no network, a fresh profile.
func chromiumArgs(t *testing.T) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir()}
}

func runChromium(t *testing.T, chromium string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, chromium, append(chromiumArgs(t), args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// checkChartInChromium renders svg in headless Chromium and fails the test
// when the picture is blank or a text leaves the viewBox or overlaps
// another.
func checkChartInChromium(t *testing.T, svg string) {
	t.Helper()
	chromium := testutil.Program(t, "chromium")
	dir := t.TempDir()
	page := filepath.Join(dir, "chart.html")
	html := `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">` + svg +
		`<pre id="result">script did not run</pre><script>` + layoutScript + `</script></body></html>`
	if err := os.WriteFile(page, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := string(runChromium(t, chromium, "--virtual-time-budget=5000", "--dump-dom", "file://"+page))
	_, result, _ := strings.Cut(dom, `<pre id="result">`)
	result, _, _ = strings.Cut(result, "</pre>")
	if !strings.HasPrefix(result, "texts ") {
		t.Fatalf("no layout result from Chromium:\n%.2000s", dom)
	}
	if lines := strings.Split(strings.TrimSpace(result), "\n"); len(lines) > 1 {
		t.Errorf("chart layout (%s):\n%s", lines[0], strings.Join(lines[1:], "\n"))
	}

	file := filepath.Join(dir, "chart.svg")
	if err := os.WriteFile(file, []byte(svg), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "chart.png")
	runChromium(t, chromium, "--window-size=760,640", "--screenshot="+shot, "file://"+file)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	inked, colours := 0, map[[3]uint32]bool{}
	bounds := img.Bounds()
	for py := bounds.Min.Y; py < bounds.Max.Y; py++ {
		for px := bounds.Min.X; px < bounds.Max.X; px++ {
			r, g, b, _ := img.At(px, py).RGBA()
			if r < 0xE000 || g < 0xE000 || b < 0xE000 {
				inked++
			}
			colours[[3]uint32{r >> 12, g >> 12, b >> 12}] = true
		}
	}
	if total := bounds.Dx() * bounds.Dy(); inked < total/200 || len(colours) < 4 {
		t.Errorf("the screenshot looks blank: %d of %d pixels inked, %d colours", inked, total, len(colours))
	}
}
