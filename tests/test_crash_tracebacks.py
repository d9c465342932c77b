"""Crash tracebacks with the runtime's frames (GOTRACEBACK=system, Go 1.21+ ``gp=`` headers):
the entry, the clusters and the verdict are those of the application, not of the runtime
frames printed around it.

The text follows a real Go 1.22 ``fatal error: stack overflow`` (a ResponseWriter wrapper
that calls itself), shortened, paths changed.
"""

from __future__ import annotations

import goforensics as gf
from goforensics.analyze.suspects import suspects

_G = "/usr/local/go/src"
STACK_OVERFLOW = f"""fatal error: stack overflow

runtime stack:
runtime.throw({{0x1010f2717?, 0x200000001?}})
\t{_G}/runtime/panic.go:1023 +0x40 fp=0x17070ed50 sp=0x17070ed20 pc=0x100f3b080

goroutine 21 gp=0x14000003880 m=4 mp=0x14000063b08 [running]:
example.com/web.(*wrappedWriter).WriteHeader(0x140000c4000, 0x194)
\t/src/web/logging.go:14 +0x4c fp=0x14020160390 sp=0x14020160390 pc=0x1010ee80c
example.com/web.(*wrappedWriter).WriteHeader(0x140000c4000, 0x194)
\t/src/web/logging.go:15 +0x24 fp=0x140201603b0 sp=0x14020160390 pc=0x1010ee7e4
net/http.(*conn).serve(0x140000b4000, {{0x1011d7618, 0x1400007ec60}})
\t{_G}/net/http/server.go:2039 +0x508 fp=0x1404015ffa0 sp=0x1404015fb70 pc=0x1010df938
net/http.(*Server).Serve.gowrap3()
\t{_G}/net/http/server.go:3285 +0x30 fp=0x1404015ffd0 sp=0x1404015ffa0 pc=0x1010e3de0
runtime.goexit({{}})
\t{_G}/runtime/asm_arm64.s:1222 +0x4 fp=0x1404015ffd0 sp=0x1404015ffd0 pc=0x100f712c4
created by net/http.(*Server).Serve in goroutine 1
\t{_G}/net/http/server.go:3285 +0x3f0

goroutine 1 gp=0x140000021c0 m=nil [IO wait]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x100f1af6c?)
\t{_G}/runtime/proc.go:402 +0xc8 fp=0x14000143aa0 sp=0x14000143a80 pc=0x100f3dde8
internal/poll.runtime_pollWait(0x1016c8ea0, 0x72)
\t{_G}/runtime/netpoll.go:345 +0xa0 fp=0x14000143b10 sp=0x14000143ae0 pc=0x100f6b720
net/http.(*Server).Serve(0x1400013c000, {{0x1011d7260, 0x14000126100}})
\t{_G}/net/http/server.go:3255 +0x2a8 fp=0x14000143e70 sp=0x14000143d40 pc=0x1010e3a48
main.main()
\t/src/web/main.go:31 +0x254 fp=0x14000143f40 sp=0x14000143ea0 pc=0x1010ef794
runtime.main()
\t{_G}/runtime/proc.go:271 +0x28c fp=0x14000143fd0 sp=0x14000143f40 pc=0x100f3d9bc
runtime.goexit({{}})
\t{_G}/runtime/asm_arm64.s:1222 +0x4 fp=0x14000143fd0 sp=0x14000143fd0 pc=0x100f712c4

goroutine 18 gp=0x14000094380 m=nil [force gc (idle)]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
\t{_G}/runtime/proc.go:402 +0xc8 fp=0x14000058790 sp=0x14000058770 pc=0x100f3dde8
runtime.forcegchelper()
\t{_G}/runtime/proc.go:326 +0xb8 fp=0x140000587d0 sp=0x14000058790 pc=0x100f3dc78
runtime.goexit({{}})
\t{_G}/runtime/asm_arm64.s:1222 +0x4 fp=0x140000587d0 sp=0x140000587d0 pc=0x100f712c4
created by runtime.init.6 in goroutine 1
\t{_G}/runtime/proc.go:314 +0x24

goroutine 2 gp=0x140000036c0 m=nil [finalizer wait]:
runtime.gopark(0x0?, 0x0?, 0xb8?, 0xc5?, 0x100f6c7e4?)
\t{_G}/runtime/proc.go:402 +0xc8 fp=0x1400005c580 sp=0x1400005c560 pc=0x100f3dde8
runtime.runfinq()
\t{_G}/runtime/mfinal.go:194 +0x108 fp=0x1400005c7d0 sp=0x1400005c580 pc=0x100f1d438
runtime.goexit({{}})
\t{_G}/runtime/asm_arm64.s:1222 +0x4 fp=0x1400005c7d0 sp=0x1400005c7d0 pc=0x100f712c4
created by runtime.createfing in goroutine 1
\t{_G}/runtime/mfinal.go:164 +0x80

goroutine 22 gp=0x140000948c0 m=nil [IO wait]:
runtime.gopark(0xffffffffffffffff?, 0xffffffffffffffff?, 0x23?, 0x0?, 0x100f9e2b0?)
\t{_G}/runtime/proc.go:402 +0xc8 fp=0x14000059d50 sp=0x14000059d30 pc=0x100f3dde8
internal/poll.runtime_pollWait(0x1016c8da8, 0x72)
\t{_G}/runtime/netpoll.go:345 +0xa0 fp=0x14000059dc0 sp=0x14000059d90 pc=0x100f6b720
net/http.(*connReader).backgroundRead(0x140000b0090)
\t{_G}/net/http/server.go:681 +0x40 fp=0x14000059fb0 sp=0x14000059f60 pc=0x1010da030
net/http.(*connReader).startBackgroundRead.gowrap2()
\t{_G}/net/http/server.go:677 +0x28 fp=0x14000059fd0 sp=0x14000059fb0 pc=0x1010d9f18
runtime.goexit({{}})
\t{_G}/runtime/asm_arm64.s:1222 +0x4 fp=0x14000059fd0 sp=0x14000059fd0 pc=0x100f712c4
created by net/http.(*connReader).startBackgroundRead in goroutine 21
\t{_G}/net/http/server.go:677 +0xc8
"""

# A GC worker that finds a pointer to a freed object (Go 1.26, darwin/arm64), shortened.
FREED_OBJECT = """fatal error: found pointer to free object

runtime stack:
runtime.throw({0x105881781?, 0x8?})
\truntime/panic.go:1229 +0x38 fp=0x16bf82bb0 sp=0x16bf82b80 pc=0x104f0ca48

goroutine 84 gp=0xee9de45c1e0 m=3 mp=0xee9de019008 [flushing proc caches]:
runtime.systemstack_switch()
\truntime/asm_arm64.s:347 +0x8 fp=0xee9de4fff10 sp=0xee9de4ffef0 pc=0x104f127ec
runtime.gcBgMarkWorker(0xee9de0a6000)
\truntime/mgc.go:1463 +0x1d8 fp=0xee9de4fffb0 sp=0xee9de4fff10 pc=0x104ea1668
runtime.gcBgMarkStartWorkers.gowrap1()
\truntime/mgc.go:1373 +0x28 fp=0xee9de4fffd0 sp=0xee9de4fffb0 pc=0x104ea1478
runtime.goexit({})
\truntime/asm_arm64.s:1268 +0x4 fp=0xee9de4fffd0 sp=0xee9de4fffd0 pc=0x104f14cb4
created by runtime.gcBgMarkStartWorkers in goroutine 1
\truntime/mgc.go:1373 +0x140
"""


def _by_goid(d, col: str) -> dict:
    g = d.goroutines
    return dict(zip(g["goid"].astype(int), g[col].astype(str), strict=True))


def test_the_entry_is_the_function_a_goroutine_started_in_not_goexit():
    # as a plain traceback (debug=2) of the same goroutines would give it: no goexit, no
    # go statement's wrapper, no runtime.main below main.main
    d = gf.parse_text(STACK_OVERFLOW)
    assert _by_goid(d, "entry_function") == {
        21: "net/http.(*conn).serve",
        1: "main.main",  # not runtime.main, which calls it
        18: "runtime.forcegchelper",
        2: "runtime.runfinq",
        22: "net/http.(*connReader).backgroundRead",
    }


def test_the_runtime_goroutines_do_not_join_the_main_goroutine_s_cluster():
    # they are created by goroutine 1 at start-up, as the server's goroutines are not
    d = gf.parse_text(STACK_OVERFLOW)
    labels = dict(zip(d.goroutines["goid"].astype(int), gf.cluster(d), strict=True))
    assert labels[1] != labels[18] and labels[1] != labels[2] and labels[18] != labels[2]
    # the request's background read belongs with the request (its creator)
    assert labels[22] == labels[21]


def test_the_crashing_request_is_the_first_suspect_and_is_running():
    s = suspects(gf.parse_text(STACK_OVERFLOW)).iloc[0]
    assert s["site"] == "example.com/web.(*wrappedWriter).WriteHeader"
    assert s["state"] == "running"  # its site is read from its stack: its state too
    assert s["pattern"] != "runtime-internal"
    assert s["evidence"][0].startswith("raised the process's end: fatal error: stack overflow")
    assert not any("blocked in [IO wait] at example.com" in e for e in s["evidence"])


def test_a_runtime_goroutine_that_ended_the_process_is_not_called_healthy():
    s = suspects(gf.parse_text(FREED_OBJECT)).iloc[0]
    assert s["pattern"] != "runtime-internal" and s["advice"] != "Nothing to fix."
    assert s["suspected"]
    assert s["evidence"][0] == "raised the process's end: fatal error: found pointer to free object"


def test_the_real_crash_dumps_lead_with_the_goroutine_that_ended_them(realdumps):
    for name, site in (
        (
            "063_responsewriter-stack-overflow-N-frames-elided-go1.22.txt",
            "git.v6.io/go-web/middleware.(*wrappedWriter).WriteHeader",
        ),
        (
            "052_syncthing-fatal-gc-free-object-go1.26-arm64.txt",
            "runtime.systemstack_switch",
        ),
    ):
        s = suspects(gf.load(realdumps / name)).iloc[0]
        assert s["site"] == site
        assert s["pattern"] != "runtime-internal", name
        assert s["evidence"][0].startswith("raised the process's end"), name


def test_a_goroutine_the_runtime_found_deadlocked_in_application_code_is_a_suspect():
    # testing/synctest (Go 1.25): the bubble's main goroutine returned, this one sleeps
    # durably and nothing can wake it
    text = (
        "--- FAIL: TestDeadlock (0.00s)\n"
        "panic: deadlock: main bubble goroutine has exited but blocked goroutines remain"
        " [recovered, repanicked]\n\n"
        "goroutine 10 [sleep (durable), synctest bubble 1]:\n"
        "time.Sleep(0x1)\n\t/usr/local/go/src/runtime/time.go:361 +0x130\n"
        "example.com/p.TestDeadlock.func1.1()\n\t/src/p/p_test.go:13 +0x20\n"
        "created by example.com/p.TestDeadlock.func1 in goroutine 9\n"
        "\t/src/p/p_test.go:11 +0x24\n"
    )
    s = suspects(gf.parse_text(text)).iloc[0]
    assert s["site"] == "example.com/p.TestDeadlock.func1.1" and s["suspected"]
    assert any("deadlock detector" in e for e in s["evidence"])
