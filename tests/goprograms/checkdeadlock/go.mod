module goforensics.test/checkdeadlock

go 1.25
